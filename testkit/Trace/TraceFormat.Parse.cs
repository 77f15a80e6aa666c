using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Trace;

public static partial class TraceFormat
{
    /// <summary>Finds <paramref name="token"/> outside quotes and brackets.</summary>
    private static int IndexOfTop(string s, string token)
    {
        int depth = 0;
        bool quoted = false;
        for (int i = 0; i <= s.Length - token.Length; i++)
        {
            char c = s[i];
            if (quoted)
            {
                if (c == '\\') i++;
                else if (c == '"') quoted = false;
                continue;
            }
            if (c == '"') { quoted = true; continue; }
            if (c is '{' or '(') depth++;
            else if (c is '}' or ')') depth--;
            else if (depth == 0 && string.CompareOrdinal(s, i, token, 0, token.Length) == 0) return i;
        }
        return -1;
    }

    private static TraceEntry ParseLine(string line, int lineNo)
    {
        int pid = 1;
        CallTime? time = null;
        if (line.StartsWith('['))
        {
            int close = line.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new TraceParseException(lineNo, "bad [pid] prefix");
            string prefix = line[1..close];
            int at = prefix.IndexOf(" @", StringComparison.Ordinal);
            if (at >= 0)
            {
                time = ParseTime(prefix[(at + 2)..], lineNo);
                prefix = prefix[..at];
            }
            if (!int.TryParse(prefix, NumberStyles.None, CultureInfo.InvariantCulture, out pid))
                throw new TraceParseException(lineNo, "bad [pid] prefix");
            line = line[(close + 1)..].Trim();
        }
        int eq = IndexOfTop(line, " = ");
        if (eq < 0) throw new TraceParseException(lineNo, "expected 'call = result'");
        string call = line[..eq].Trim(), rest = line[(eq + 3)..].Trim();
        string? output = null;
        int arrow = IndexOfTop(rest, " => ");
        if (arrow >= 0)
        {
            output = rest[(arrow + 4)..].Trim();
            rest = rest[..arrow].Trim();
        }
        var op = ParseCall(call, lineNo) with { Pid = pid, Time = time };
        long value = ParseValue(rest, lineNo);
        byte[]? data = null;
        switch (op)
        {
            case IoctlOp io:
                int window = TraceTarget.Window(io.Place, io.Split, io.Input.Length);
                data = output is null ? InputWindow(io) : StructLayouts.Parse(io.Cmd, output, out string? err) ?? throw new TraceParseException(lineNo, $"output: {err}");
                if (data.Length > window) throw new TraceParseException(lineNo, $"output has {data.Length} bytes, the window is {window}");
                if (data.Length < window) Array.Resize(ref data, window); // zero-extended (docs/trace-format.md §3.1)
                break;
            case PreadOp or KhoRestoreOp:
                data = output is null ? null : ParseBytes(output, lineNo);
                break;
            case MemfdStateOp or ContentOp:
                if (output is null) throw new TraceParseException(lineNo, "expected '=> pos=P…'");
                return new TraceEntry(op, new TraceResult(value) { Facts = ParseFacts(output, op is ContentOp, lineNo) }, lineNo);
            default:
                if (output is not null) throw new TraceParseException(lineNo, "this call has no output");
                break;
        }
        return new TraceEntry(op, new TraceResult(value, data), lineNo);
    }

    private static long ParseValue(string s, int lineNo)
    {
        if (s == "FROZEN") return TraceResult.Frozen;
        if (s == "PANIC") return TraceResult.Panic;
        var parts = s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 2 && parts[0] == "-1")
            return Enum.TryParse<Errno>(parts[1], out var e) && e != Errno.Ok ? -(long)e : throw new TraceParseException(lineNo, $"unknown errno '{parts[1]}'");
        if (parts.Length == 1 && TraceText.TryParseS64(parts[0], out long v)) return v;
        throw new TraceParseException(lineNo, $"bad result '{s}'");
    }

    private static byte[] ParseBytes(string s, int lineNo)
    {
        s = s.Trim();
        byte[]? b = s.StartsWith("hex:", StringComparison.Ordinal) ? TraceText.ParseHex(s[4..], out string? err) : TraceText.Unquote(s, out err);
        return b ?? throw new TraceParseException(lineNo, err!);
    }

    private static int Int(string s, int lineNo) =>
        TraceText.TryParseS64(s, out long v) && v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new TraceParseException(lineNo, $"bad number '{s}'");

    private static long Long(string s, int lineNo) => TraceText.TryParseS64(s, out long v) ? v : throw new TraceParseException(lineNo, $"bad number '{s}'");

    private static int ParseFlags(string s, (string Name, int Bit)[] names, int lineNo)
    {
        int v = 0;
        foreach (string part in s.Split('|', StringSplitOptions.TrimEntries))
        {
            if (part is "0" or "O_RDONLY") continue;
            int idx = Array.FindIndex(names, n => n.Name == part);
            v |= idx >= 0 ? names[idx].Bit : Int(part, lineNo);
        }
        return v;
    }

    private static string Text(string s, int lineNo) => Encoding.UTF8.GetString(ParseBytes(s, lineNo));

    private static TraceOp ParseCall(string call, int lineNo)
    {
        int open = call.IndexOf('(', StringComparison.Ordinal);
        if (open <= 0 || !call.EndsWith(')')) throw new TraceParseException(lineNo, $"expected name(args), got '{call}'");
        string name = call[..open];
        var a = TraceText.SplitTop(call[(open + 1)..^1], ',');
        if (a.Count == 1 && a[0].Length == 0) a.Clear();
        void Need(int n)
        {
            if (a.Count != n) throw new TraceParseException(lineNo, $"{name} takes {n} arguments, got {a.Count}");
        }
        switch (name)
        {
            case "open": Need(2); return new OpenOp(Text(a[0], lineNo), ParseFlags(a[1], OpenFlagNames, lineNo));
            case "close": Need(1); return new CloseOp(Int(a[0], lineNo));
            case "dup": Need(1); return new DupOp(Int(a[0], lineNo));
            case "ioctl": Need(3); return ParseIoctl(a, lineNo);
            case "memfd_create": Need(2); return new MemfdCreateOp(Text(a[0], lineNo), (uint)ParseFlags(a[1], MemfdFlagNames, lineNo));
            case "write":
            {
                Need(3);
                var data = ParseBytes(a[0 + 1], lineNo);
                if (Int(a[2], lineNo) != data.Length) throw new TraceParseException(lineNo, "write length differs from the data");
                return new WriteOp(Int(a[0], lineNo), data);
            }
            case "pread": Need(3); return new PreadOp(Int(a[0], lineNo), Int(a[1], lineNo), Long(a[2], lineNo));
            case "ftruncate": Need(2); return new FtruncateOp(Int(a[0], lineNo), Long(a[1], lineNo));
            case "fcntl":
                Need(3);
                if (a[1] is "F_DUPFD" or "F_DUPFD_CLOEXEC") return new DupFdOp(Int(a[0], lineNo), Int(a[2], lineNo), a[1] == "F_DUPFD_CLOEXEC");
                if (a[1] != "F_ADD_SEALS") throw new TraceParseException(lineNo, "only fcntl(fd, F_ADD_SEALS, x) is supported");
                return new AddSealsOp(Int(a[0], lineNo), (uint)Long(a[2], lineNo));
            case "lseek":
            {
                Need(3);
                int w = Array.IndexOf(Whence, a[2]);
                return new LseekOp(Int(a[0], lineNo), Long(a[1], lineNo), w >= 0 ? w : Int(a[2], lineNo));
            }
            case "setrlimit":
                if (a.Count != 3) Need(2);
                if (a[0] != "RLIMIT_NOFILE") throw new TraceParseException(lineNo, "only RLIMIT_NOFILE is supported");
                return a.Count == 3 ? new SetrlimitBothOp(U64(a[1], lineNo), U64(a[2], lineNo)) : new SetrlimitOp((ulong)Long(a[1], lineNo));
            case "reboot":
                Need(1);
                return new RebootOp(a[0] == "LINUX_REBOOT_CMD_KEXEC" ? Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC : (uint)Long(a[0], lineNo));
            case "kexec": Need(0); return new KexecOp();
            case "coldboot": Need(0); return new ColdBootOp();
            case "model.test_file": Need(1); return new TestFileOp((ulong)Long(a[0], lineNo));
            case "model.test_file_flags":
            {
                Need(4);
                string Val(string s, string key) => s.StartsWith(key + "=", StringComparison.Ordinal) ? s[(key.Length + 1)..] : throw new TraceParseException(lineNo, $"expected {key}=…");
                string ff = Val(a[1], "fail_freeze");
                Errno e = ff == "0" ? Errno.Ok : Enum.TryParse<Errno>(ff, out var x) ? x : throw new TraceParseException(lineNo, $"unknown errno '{ff}'");
                return new TestFileFlagsOp(Int(a[0], lineNo), e, Val(a[2], "refuse_preserve") == "1", Val(a[3], "refuse_finish") == "1");
            }
            case "model.fail_nth":
                Need(3);
                return new FailNthOp(Enum.TryParse<FaultPoint>(a[0], out var p) ? p : throw new TraceParseException(lineNo, $"unknown fault point '{a[0]}'"),
                    Int(a[1], lineNo), Enum.TryParse<Errno>(a[2], out var err) ? err : throw new TraceParseException(lineNo, $"unknown errno '{a[2]}'"));
            case "model.kho_preserve_folio": Need(2); return new KhoFolioOp(Int(a[0], lineNo), Int(a[1], lineNo), false);
            case "model.kho_unpreserve_folio": Need(2); return new KhoFolioOp(Int(a[0], lineNo), Int(a[1], lineNo), true);
            case "model.kho_restore_folio": Need(1); return new KhoRestoreOp(Int(a[0], lineNo));
            case "model.flb_get_incoming": Need(0); return new FlbIncomingOp(false);
            case "model.flb_put_incoming": Need(0); return new FlbIncomingOp(true);
            case "model.corrupt":
                Need(1);
                return new CorruptOp(a[0] switch
                {
                    "root_compatible" => CorruptKind.RootCompatible,
                    "file_count" => CorruptKind.FileCount,
                    _ => throw new TraceParseException(lineNo, $"unknown corruption '{a[0]}'"),
                });
            default: return ParseRecordedCall(name, a, lineNo) ?? throw new TraceParseException(lineNo, $"unknown call '{name}'");
        }
    }

    private static IoctlOp ParseIoctl(List<string> a, int lineNo)
    {
        int fd = Int(a[0], lineNo);
        uint cmd = 0;
        bool named = false;
        foreach (var (n, c) in Commands) if (n == a[1]) { cmd = c; named = true; }
        if (!named) cmd = (uint)Long(a[1], lineNo);
        string buf = a[2];
        var place = BufPlace.Rw;
        int split = 0;
        if (buf == "hole:" || buf.StartsWith("hole:", StringComparison.Ordinal)) { place = BufPlace.Hole; buf = buf[5..].Trim(); }
        else if (buf.StartsWith("ro:", StringComparison.Ordinal)) { place = BufPlace.Ro; buf = buf[3..]; }
        else if (buf.StartsWith("rw|ro-", StringComparison.Ordinal) || buf.StartsWith("ro|hole-", StringComparison.Ordinal))
        {
            int colon = buf.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) throw new TraceParseException(lineNo, "placement needs ':'");
            place = buf[1] == 'w' ? BufPlace.RwRo : BufPlace.RoHole;
            split = Int(buf[(buf.IndexOf('-', StringComparison.Ordinal) + 1)..colon], lineNo);
            if (split is <= 0 or > UserMemory.PageSize) throw new TraceParseException(lineNo, "split must be 1..4096");
            buf = buf[(colon + 1)..];
        }
        byte[] input = place == BufPlace.Hole && buf.Length == 0 ? [] : StructLayouts.Parse(cmd, buf, out string? err) ?? throw new TraceParseException(lineNo, err!);
        return new IoctlOp(fd, cmd, place, split, input);
    }
}
