using System.Globalization;
using System.Text;

namespace LuoModel.Testkit.Trace;

/// <summary>Version-2 lines of the trace format: the calls and facts a recording of a real kernel adds
/// (docs/trace-format.md §7).</summary>
public static partial class TraceFormat
{
    private static string N(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>True for the calls only version 2 has (recordings).</summary>
    public static bool IsRecorded(TraceOp op) => op is StartOp or ForkOp or ExitOp or WaitOp or OpenAtOp or Dup2Op or DupFdOp
        or CloseRangeOp or SetrlimitBothOp or MemfdStateOp or ContentOp or StageEndOp;

    private static string? RecordedCall(TraceOp op) => op switch
    {
        StartOp s => $"start({TraceText.Quote(Encoding.UTF8.GetBytes(s.Boot))}, {N(s.NofileSoft)}, {N(s.NofileHard)}, \"{string.Join(',', s.Fds.Select(f => I(f)))}\")",
        ForkOp => "fork()",
        ExitOp => "exit()",
        WaitOp w => $"waitpid({I(w.Arg)})",
        OpenAtOp o => $"openat({I(o.DirFd)}, {TraceText.Quote(Encoding.UTF8.GetBytes(o.Path))}, {Flags(o.Flags, OpenFlagNames, "O_RDONLY")})",
        Dup2Op d => d.Three ? $"dup3({I(d.Fd)}, {I(d.To)}, 0x{d.Flags:x})" : $"dup2({I(d.Fd)}, {I(d.To)})",
        DupFdOp d => $"fcntl({I(d.Fd)}, {(d.CloseOnExec ? "F_DUPFD_CLOEXEC" : "F_DUPFD")}, {I(d.Min)})",
        CloseRangeOp c => $"close_range({N(c.First)}, {N(c.Last)}, 0x{c.Flags:x})",
        SetrlimitBothOp r => $"setrlimit(RLIMIT_NOFILE, {N(r.Soft)}, {N(r.Hard)})",
        MemfdStateOp m => $"memfd_state({I(m.Fd)})",
        ContentOp c when c.Session is null => $"content({I(c.Fd)})",
        ContentOp c => $"content({TraceText.Quote(Encoding.UTF8.GetBytes(c.Session!))}, 0x{c.Token:x})",
        StageEndOp s => $"stage_end({TraceText.Quote(Encoding.UTF8.GetBytes(s.Why))})",
        _ => null,
    };

    /// <summary>The struct literal of <paramref name="bytes"/> for <paramref name="cmd"/> (docs/trace-format.md §3.2).</summary>
    public static string Literal(uint cmd, ReadOnlySpan<byte> bytes) => StructLayouts.Format(cmd, bytes);

    private static ulong U64(string s, int lineNo) => TraceText.TryParseU64(s, out ulong v) ? v : throw new TraceParseException(lineNo, $"bad number '{s}'");

    private static CallTime ParseTime(string s, int lineNo)
    {
        int plus = s.IndexOf('+', StringComparison.Ordinal);
        if (plus < 0 || !ulong.TryParse(s.AsSpan(0, plus), NumberStyles.None, CultureInfo.InvariantCulture, out ulong start)
            || !ulong.TryParse(s.AsSpan(plus + 1), NumberStyles.None, CultureInfo.InvariantCulture, out ulong dur))
            throw new TraceParseException(lineNo, "bad '@START+DURATION' in the [pid] prefix");
        return new CallTime(start, dur);
    }

    private static MemfdFacts ParseFacts(string s, bool hash, int lineNo)
    {
        long pos = -1;
        byte[]? sha = null;
        foreach (string part in s.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part.StartsWith("pos=", StringComparison.Ordinal)) pos = Long(part[4..], lineNo);
            else if (part.StartsWith("sha256:", StringComparison.Ordinal))
            {
                sha = TraceText.ParseHex(part[7..], out string? err) ?? throw new TraceParseException(lineNo, err!);
                if (sha.Length != 32) throw new TraceParseException(lineNo, "sha256 needs 32 bytes");
            }
            else throw new TraceParseException(lineNo, $"unknown memfd fact '{part}'");
        }
        if (pos < 0) throw new TraceParseException(lineNo, "missing pos=");
        if (hash && sha is null) throw new TraceParseException(lineNo, "content needs sha256:");
        return new MemfdFacts(pos, sha);
    }

    private static TraceOp? ParseRecordedCall(string name, List<string> a, int lineNo)
    {
        void Need(int n)
        {
            if (a.Count != n) throw new TraceParseException(lineNo, $"{name} takes {n} arguments, got {a.Count}");
        }
        switch (name)
        {
            case "start":
            {
                Need(4);
                string fds = Text(a[3], lineNo);
                var list = fds.Length == 0 ? [] : fds.Split(',').Select(f => Int(f, lineNo)).ToList();
                return new StartOp(Text(a[0], lineNo), U64(a[1], lineNo), U64(a[2], lineNo), list);
            }
            case "fork": Need(0); return new ForkOp();
            case "exit": Need(0); return new ExitOp();
            case "waitpid": Need(1); return new WaitOp(Int(a[0], lineNo));
            case "openat": Need(3); return new OpenAtOp(Int(a[0], lineNo), Text(a[1], lineNo), ParseFlags(a[2], OpenFlagNames, lineNo));
            case "dup2": Need(2); return new Dup2Op(Int(a[0], lineNo), Int(a[1], lineNo), 0, false);
            case "dup3": Need(3); return new Dup2Op(Int(a[0], lineNo), Int(a[1], lineNo), Int(a[2], lineNo), true);
            case "close_range": Need(3); return new CloseRangeOp((uint)U64(a[0], lineNo), (uint)U64(a[1], lineNo), (uint)U64(a[2], lineNo));
            case "memfd_state": Need(1); return new MemfdStateOp(Int(a[0], lineNo));
            case "content":
                if (a.Count == 1) return new ContentOp(Int(a[0], lineNo), null, 0);
                Need(2);
                return new ContentOp(-1, Text(a[0], lineNo), U64(a[1], lineNo));
            case "stage_end": Need(1); return new StageEndOp(Text(a[0], lineNo));
            default: return null;
        }
    }
}
