using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Trace;

/// <summary>A trace that could not be parsed: line number and reason.</summary>
public sealed class TraceParseException(int line, string message) : FormatException($"line {line}: {message}")
{
    /// <summary>1-based line number.</summary>
    public int Line { get; } = line;
}

/// <summary>
/// Printer and parser of the line-oriented trace format, version 1 (docs/trace-format.md): strace-like calls
/// with their results, e.g. <c>ioctl(3, CREATE_SESSION, {size=72, name="a"}) = 0 =&gt; {size=72, fd=4, name="a"}</c>.
/// </summary>
public static partial class TraceFormat
{
    /// <summary>Format version written for traces of model calls (and accepted).</summary>
    public const int Version = 1;
    /// <summary>Newest version this reader accepts; recordings (§7) are written in it.</summary>
    public const int RecordedVersion = 2;
    /// <summary>First line of every trace.</summary>
    public const string Magic = "luo-trace";

    private static readonly (string Name, uint Cmd)[] Commands =
    [
        ("CREATE_SESSION", LiveupdateUapi.CreateSession), ("RETRIEVE_SESSION", LiveupdateUapi.RetrieveSession),
        ("PRESERVE_FD", LiveupdateUapi.PreserveFd), ("RETRIEVE_FD", LiveupdateUapi.RetrieveFd),
        ("FINISH", LiveupdateUapi.Finish), ("GET_NAME", LiveupdateUapi.GetName),
        ("FIOCLEX", FcntlCmd.FIOCLEX), ("FIONCLEX", FcntlCmd.FIONCLEX),
    ];

    private static readonly (string Name, int Bit)[] OpenFlagNames =
        [("O_WRONLY", OpenFlags.O_WRONLY), ("O_RDWR", OpenFlags.O_RDWR), ("O_NONBLOCK", OpenFlags.O_NONBLOCK), ("O_LARGEFILE", OpenFlags.O_LARGEFILE), ("O_CLOEXEC", OpenFlags.O_CLOEXEC), ("O_PATH", OpenFlags.O_PATH)];

    private static readonly (string Name, int Bit)[] MemfdFlagNames =
        [("MFD_CLOEXEC", (int)MemfdConsts.MFD_CLOEXEC), ("MFD_ALLOW_SEALING", (int)MemfdConsts.MFD_ALLOW_SEALING), ("MFD_HUGETLB", (int)MemfdConsts.MFD_HUGETLB)];

    private static readonly string[] Whence = ["SEEK_SET", "SEEK_CUR", "SEEK_END"];

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Name of an ioctl command, or 0x-hex.</summary>
    public static string CommandName(uint cmd)
    {
        foreach (var (n, c) in Commands) if (c == cmd) return n;
        return "0x" + cmd.ToString("x", CultureInfo.InvariantCulture);
    }

    private static string Flags(int v, (string Name, int Bit)[] names, string zero)
    {
        var parts = new List<string>();
        int rest = v;
        foreach (var (n, b) in names)
            if (b != 0 && (rest & b) == b) { parts.Add(n); rest &= ~b; }
        if (rest != 0) parts.Add("0x" + rest.ToString("x", CultureInfo.InvariantCulture));
        return parts.Count == 0 ? zero : string.Join('|', parts);
    }

    private static string Bytes(ReadOnlySpan<byte> b)
    {
        int printable = 0;
        foreach (byte c in b) if (c is >= 0x20 and < 0x7f or (byte)'\n' or (byte)'\t') printable++;
        return b.Length > 0 && printable * 4 >= b.Length * 3 ? TraceText.Quote(b) : TraceText.Hex(b);
    }

    private static string Placement(BufPlace p, int split) => p switch
    {
        BufPlace.Rw => "",
        BufPlace.Ro => "ro:",
        BufPlace.RwRo => $"rw|ro-{I(split)}:",
        BufPlace.RoHole => $"ro|hole-{I(split)}:",
        _ => "hole:",
    };

    /// <summary>The call part of a line (no result).</summary>
    public static string Call(TraceOp op)
    {
        ArgumentNullException.ThrowIfNull(op);
        string body = op switch
        {
            OpenOp o => $"open({TraceText.Quote(Encoding.UTF8.GetBytes(o.Path))}, {Flags(o.Flags, OpenFlagNames, "O_RDONLY")})",
            CloseOp c => $"close({I(c.Fd)})",
            DupOp d => $"dup({I(d.Fd)})",
            IoctlOp io => $"ioctl({I(io.Fd)}, {CommandName(io.Cmd)}, {Placement(io.Place, io.Split)}{StructLayouts.Format(io.Cmd, io.Input)})",
            MemfdCreateOp m => $"memfd_create({TraceText.Quote(Encoding.UTF8.GetBytes(m.Name))}, {Flags((int)m.Flags, MemfdFlagNames, "0")})",
            WriteOp w => $"write({I(w.Fd)}, {Bytes(w.Data)}, {I(w.Data.Length)})",
            PreadOp r => $"pread({I(r.Fd)}, {I(r.Count)}, {I(r.Offset)})",
            FtruncateOp t => $"ftruncate({I(t.Fd)}, {I(t.Length)})",
            AddSealsOp s => $"fcntl({I(s.Fd)}, F_ADD_SEALS, 0x{s.Seals:x})",
            LseekOp l => $"lseek({I(l.Fd)}, {I(l.Offset)}, {(l.Whence is >= 0 and < 3 ? Whence[l.Whence] : I(l.Whence))})",
            SetrlimitOp r => $"setrlimit(RLIMIT_NOFILE, {r.Soft.ToString(CultureInfo.InvariantCulture)})",
            RebootOp rb => rb.Cmd == Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC ? "reboot(LINUX_REBOOT_CMD_KEXEC)" : $"reboot(0x{rb.Cmd:x})",
            KexecOp => "kexec()",
            ColdBootOp => "coldboot()",
            TestFileOp t => $"model.test_file(0x{t.Payload:x})",
            TestFileFlagsOp f => $"model.test_file_flags({I(f.Fd)}, fail_freeze={(f.FailFreeze == Errno.Ok ? "0" : f.FailFreeze.ToString())}, refuse_preserve={(f.RefusePreserve ? 1 : 0)}, refuse_finish={(f.RefuseFinish ? 1 : 0)})",
            FailNthOp f => $"model.fail_nth({f.Point}, {I(f.Nth)}, {f.Error})",
            KhoFolioOp k => $"model.kho_{(k.Unpreserve ? "unpreserve" : "preserve")}_folio({I(k.Index)}, {I(k.Order)})",
            KhoRestoreOp k => $"model.kho_restore_folio({I(k.Index)})",
            FlbIncomingOp f => f.Put ? "model.flb_put_incoming()" : "model.flb_get_incoming()",
            CorruptOp c => $"model.corrupt({(c.Kind == CorruptKind.RootCompatible ? "root_compatible" : "file_count")})",
            _ => RecordedCall(op) ?? throw new ArgumentException($"unknown op {op.GetType().Name}", nameof(op)),
        };
        if (op.Time is { } when) return $"[{I(op.Pid)} @{when.Start.ToString(CultureInfo.InvariantCulture)}+{when.Duration.ToString(CultureInfo.InvariantCulture)}] {body}";
        return op.Pid == 1 ? body : $"[{I(op.Pid)}] {body}";
    }

    /// <summary>A result: N, -1 ERRNO, FROZEN or PANIC.</summary>
    public static string Value(long v) => v switch
    {
        TraceResult.Frozen => "FROZEN",
        TraceResult.Panic => "PANIC",
        >= 0 => I(v),
        _ => Enum.IsDefined((Errno)(-v)) ? $"-1 {(Errno)(-v)}" : I(v),
    };

    /// <summary>One full line: call, result and (when it differs from the input) the output.</summary>
    public static string Line(TraceOp op, TraceResult result)
    {
        ArgumentNullException.ThrowIfNull(op);
        ArgumentNullException.ThrowIfNull(result);
        var sb = new StringBuilder(Call(op)).Append(" = ").Append(Value(result.Value));
        switch (op)
        {
            case IoctlOp io when result.Data is not null && !result.Data.AsSpan().SequenceEqual(InputWindow(io)):
                sb.Append(" => ").Append(StructLayouts.Format(io.Cmd, TrimWindow(io.Cmd, result.Data)));
                break;
            case MemfdStateOp or ContentOp when result.Facts is not null:
                sb.Append(" => ").Append(result.Facts);
                break;
            case PreadOp or KhoRestoreOp when result.Data is { Length: > 0 }:
                sb.Append(" => ").Append(op is PreadOp ? Bytes(result.Data) : TraceText.Hex(result.Data));
                break;
        }
        return sb.ToString();
    }

    /// <summary>An output window without its trailing zeros beyond the struct (the parser zero-extends).</summary>
    private static byte[] TrimWindow(uint cmd, byte[] data)
    {
        int natural = StructLayouts.For(cmd)?.Size ?? 0;
        int end = data.Length;
        while (end > natural && data[end - 1] == 0) end--;
        return data[..end];
    }

    /// <summary>The bytes an ioctl's window holds before the call (input, zero-padded, clipped).</summary>
    public static byte[] InputWindow(IoctlOp io)
    {
        ArgumentNullException.ThrowIfNull(io);
        int w = TraceTarget.Window(io.Place, io.Split, io.Input.Length);
        var b = new byte[w];
        io.Input.AsSpan(0, Math.Min(w, io.Input.Length)).CopyTo(b);
        return b;
    }

    /// <summary>A whole trace: header then one line per entry, with a comment at every boot.</summary>
    public static string Print(IEnumerable<TraceEntry> entries, ulong? seed = null, LuoMutant mutants = LuoMutant.None, IEnumerable<string>? comments = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries as IReadOnlyCollection<TraceEntry> ?? [.. entries];
        int version = list.Any(e => IsRecorded(e.Op) || e.Op.Time is not null) ? RecordedVersion : Version;
        entries = list;
        var sb = new StringBuilder().Append(Magic).Append(' ').Append(I(version)).Append('\n');
        foreach (string c in comments ?? []) sb.Append("# ").Append(c).Append('\n');
        if (seed is { } s) sb.Append("seed 0x").Append(s.ToString("x", CultureInfo.InvariantCulture)).Append('\n');
        if (mutants != LuoMutant.None) sb.Append("mutants ").Append(mutants.ToString().Replace(", ", "|", StringComparison.Ordinal)).Append('\n');
        int boot = 1;
        foreach (var e in entries)
        {
            sb.Append(Line(e.Op, e.Result)).Append('\n');
            if (e.Calls is { Count: > 0 } calls) sb.Append("calls ").Append(string.Join("; ", calls)).Append('\n');
            foreach (var (key, value) in e.Expects) sb.Append("expect ").Append(key).Append(" = ").Append(value).Append('\n');
            if (e.Op is KexecOp or ColdBootOp && e.Result.Value == 0)
            {
                boot = e.Op is ColdBootOp ? 1 : boot + 1;
                sb.Append("stage boot ").Append(I(boot)).Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>Parses a whole trace; throws <see cref="TraceParseException"/> with the line number.</summary>
    public static TraceFile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        int version = 0;
        ulong? seed = null;
        var mutants = LuoMutant.None;
        var entries = new List<TraceEntry>();
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            int lineNo = n + 1;
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (version == 0)
            {
                var head = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (head.Length != 2 || head[0] != Magic || !int.TryParse(head[1], NumberStyles.None, CultureInfo.InvariantCulture, out version))
                    throw new TraceParseException(lineNo, $"expected '{Magic} {Version}' as the first line");
                if (version is < 1 or > RecordedVersion) throw new TraceParseException(lineNo, $"unsupported trace version {version} (this reader knows 1 to {RecordedVersion})");
                continue;
            }
            if (line.StartsWith("seed ", StringComparison.Ordinal))
            {
                if (!TraceText.TryParseU64(line[5..], out ulong s)) throw new TraceParseException(lineNo, "bad seed");
                seed = s;
                continue;
            }
            if (line.StartsWith("mutants ", StringComparison.Ordinal))
            {
                foreach (string m in line[8..].Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    mutants |= Enum.TryParse<LuoMutant>(m, out var f) ? f : throw new TraceParseException(lineNo, $"unknown mutant '{m}'");
                continue;
            }
            if (line.StartsWith("stage ", StringComparison.Ordinal)) continue;
            if (line.StartsWith("calls ", StringComparison.Ordinal) || line.StartsWith("expect ", StringComparison.Ordinal))
            {
                if (entries.Count == 0) throw new TraceParseException(lineNo, "calls/expect before the first call");
                var last = entries[^1];
                if (line[0] == 'c')
                    entries[^1] = last with { Calls = [.. line[6..].Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)] };
                else
                {
                    int eqAt = line.IndexOf(" =", StringComparison.Ordinal);
                    if (eqAt < 0) throw new TraceParseException(lineNo, "expected 'expect KEY = VALUE'");
                    entries[^1] = last with { Expects = [.. last.Expects, (line[7..eqAt].Trim(), line[(eqAt + 2)..].Trim())] };
                }
                continue;
            }
            try
            {
                var entry = ParseLine(line, lineNo);
                if (version < RecordedVersion && (IsRecorded(entry.Op) || entry.Op.Time is not null))
                    throw new TraceParseException(lineNo, $"'{Call(entry.Op with { Time = null })}' needs 'luo-trace {RecordedVersion}'");
                entries.Add(entry);
            }
            catch (TraceParseException) { throw; }
            catch (Exception e) when (e is FormatException or ArgumentException or OverflowException) { throw new TraceParseException(lineNo, e.Message); }
        }
        if (version == 0) throw new TraceParseException(1, "empty trace");
        return new TraceFile(version, seed, mutants, entries);
    }
}
