using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Trace;

/// <summary>
/// State probes of <c>expect KEY = VALUE</c> trace lines (docs/trace-format.md §3.4): small, stable text
/// renderings of observable state, so a replay can check more than return values.
/// </summary>
public static class TraceProbes
{
    /// <summary>Probe keys, in the order a counterexample prints them.</summary>
    public static readonly string[] Keys = ["fds", "memfds", "outgoing", "session_blocks", "incoming", "registry", "in_use", "liveupdate_num", "flb_out"];

    /// <summary>One test-handler call as written on a <c>calls</c> line.</summary>
    public static string Call(TestOp op, string tag, ulong token, Errno result) => $"{op}({tag}, 0x{token:x}) = {result}";

    /// <summary>The value of <paramref name="key"/> on the live machine (null for an unknown key).</summary>
    public static string? Evaluate(TraceTarget t, string key)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (t.Panicked) return "panicked";
        var luo = t.Kernel.Luo;
        return key switch
        {
            "fds" => string.Join(',', t.Process.OpenFds),
            "memfds" => string.Join(' ', t.Process.OpenFds.Where(fd => t.Process.FileOf(fd) is MemfdFile).Select(fd =>
                Memfd(fd, ((MemfdFile)t.Process.FileOf(fd)!).Inode.Size, t.Process.FileOf(fd)!.Position, ((MemfdFile)t.Process.FileOf(fd)!).Inode.Seals))),
            "outgoing" => string.Join(' ', luo.Outgoing.Sessions.Select(s => $"{TraceText.Quote(Trim(s.NameBytes))}/{s.Files.Count}")),
            "session_blocks" => (luo.Outgoing.Blocks?.BlockCount ?? 0).ToString(CultureInfo.InvariantCulture),
            "incoming" => string.Join(' ', luo.Incoming.Sessions.Select(s => $"{TraceText.Quote(Trim(s.NameBytes))}/{s.State}/{s.Files.Count}")),
            "registry" => luo.RegisteredFiles.Count.ToString(CultureInfo.InvariantCulture),
            "in_use" => luo.DeviceInUse ? "1" : "0",
            "liveupdate_num" => luo.LiveupdateNum.ToString(CultureInfo.InvariantCulture),
            "flb_out" => t.Flb is null ? "-" : t.Flb.OutgoingCount.ToString(CultureInfo.InvariantCulture),
            _ => null,
        };
    }

    /// <summary>One memfd of the <c>memfds</c> probe: fd:size:pos:seals.</summary>
    public static string Memfd(int fd, long size, long pos, uint seals) =>
        string.Create(CultureInfo.InvariantCulture, $"{fd}:{size}:{pos}:0x{seals:x}");

    /// <summary>Bytes of a name field up to its NUL.</summary>
    public static byte[] Trim(byte[] name)
    {
        ArgumentNullException.ThrowIfNull(name);
        int n = Array.IndexOf(name, (byte)0);
        return n < 0 ? name : name[..n];
    }
}
