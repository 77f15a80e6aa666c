using System.Globalization;
using LuoModel.Cli;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Tests.Trace;

/// <summary>The trace format (docs/trace-format.md): printer/parser round trips, replay and `luo replay`.</summary>
public class TraceFormatTests
{
    internal const string Example = """
        luo-trace 1
        # a rollback, a retry and a round trip
        seed 0x1
        open("/dev/liveupdate", O_RDWR) = 0
        ioctl(0, CREATE_SESSION, {size=72, name="a"}) = 0 => {size=72, fd=1, name="a"}
        model.test_file(0x902) = 2
        ioctl(1, PRESERVE_FD, {size=16, fd=2, token=0x1}) = 0
        calls Preserve(test-902, 0x1) = Ok
        memfd_create("m", MFD_ALLOW_SEALING) = 3
        write(3, "hello", 5) = 5
        ioctl(1, PRESERVE_FD, {size=16, fd=3, token=0x2}) = 0
        ioctl(1, PRESERVE_FD, {size=16, fd=3, token=0x2}) = -1 EEXIST
        ioctl(1, PRESERVE_FD, {size=16, fd=3, token=0x7}) = -1 EBUSY
        ioctl(1, GET_NAME, {size=72}) = 0 => {size=72, name="a"}
        ioctl(1, GET_NAME, {size=72, @30=41}) = -1 E2BIG
        ioctl(1, CREATE_SESSION, {size=72, name="a"}) = -1 EINVAL
        ioctl(0, CREATE_SESSION, ro:{size=72, name="b"}) = -1 EFAULT
        ioctl(0, CREATE_SESSION, hole:) = -1 EFAULT
        model.fail_nth(TestFreeze, 1, EIO) = 0
        reboot(LINUX_REBOOT_CMD_KEXEC) = -1 EIO
        calls Freeze(test-902, 0x1) = EIO
        expect outgoing = "a"/2
        reboot(LINUX_REBOOT_CMD_KEXEC) = 0
        calls Freeze(test-902, 0x1) = Ok
        ioctl(1, PRESERVE_FD, {size=16, fd=3, token=0x9}) = FROZEN
        kexec() = 0
        stage boot 2
        expect liveupdate_num = 1
        open("/dev/liveupdate", O_RDWR) = 0
        ioctl(0, RETRIEVE_SESSION, {size=72, name="a"}) = 0 => {size=72, fd=1, name="a"}
        ioctl(1, RETRIEVE_FD, {size=16, token=0x2}) = 0 => {size=16, fd=2, token=0x2}
        pread(2, 16, 0) = 5 => "hello"
        ioctl(1, FINISH, {size=8}) = 0
        calls CanFinish(token-1, 0x1) = Ok; Finish(token-1, 0x1) = Ok
        expect incoming = "a"/InOpen/0
        """;

    [Fact]
    public void Example_trace_replays()
    {
        var trace = TraceFormat.Parse(Example);
        Assert.Equal(1UL, trace.Seed);
        var outcome = TraceReplayer.Run(trace);
        Assert.True(outcome.Ok, outcome.Describe());
        Assert.Equal($"all {trace.Entries.Count} ops reproduced", outcome.Describe());
    }

    [Fact]
    public void Print_then_parse_is_the_identity()
    {
        var trace = TraceFormat.Parse(Example);
        string printed = TraceFormat.Print(trace.Entries, trace.Seed);
        var again = TraceFormat.Parse(printed);
        Assert.Equal(printed, TraceFormat.Print(again.Entries, again.Seed));
        Assert.Equal(trace.Entries.Select(e => e.Op), again.Entries.Select(e => e.Op));
        Assert.Equal(trace.Entries.Select(e => e.Result), again.Entries.Select(e => e.Result));
    }

    [Theory]
    [InlineData("ioctl(3, CREATE_SESSION, {size=100, name=\"a\\x00z\", len=100, @90=0102})")]
    [InlineData("ioctl(3, PRESERVE_FD, rw|ro-8:{size=16, fd=-1, token=0xffffffffffffffff})")]
    [InlineData("ioctl(3, 0xc048ba00, ro|hole-20:hex:0102030405)")]
    [InlineData("ioctl(3, FINISH, {size=4, reserved=7, len=12})")]
    [InlineData("write(4, hex:00ff10, 3)")]
    [InlineData("model.test_file_flags(5, fail_freeze=EIO, refuse_preserve=0, refuse_finish=1)")]
    [InlineData("[2] model.fail_nth(SessionBlockGrow, 3, ENOSPC)")]
    public void Calls_round_trip(string call)
    {
        var e = TraceFormat.Parse($"luo-trace 1\n{call} = 0\n").Entries[0];
        Assert.Equal(call, TraceFormat.Call(e.Op));
    }

    [Theory]
    [InlineData("luo-trace 3\n", 1)]
    [InlineData("luo-trace 1\nopen(\"/dev/liveupdate\") = 0\n", 2)]
    [InlineData("luo-trace 1\nioctl(0, CREATE_SESSION, {size=72, bogus=1}) = 0\n", 2)]
    [InlineData("luo-trace 1\nclose(3) = maybe\n", 2)]
    [InlineData("luo-trace 1\nwrite(3, \"ab\", 3) = 3\n", 2)]
    [InlineData("luo-trace 1\nexpect fds = 1\n", 2)]
    [InlineData("luo-trace 1\nioctl(0, GET_NAME, {size=72, name=\"x\\q\"}) = 0\n", 2)]
    public void Malformed_traces_name_the_line(string text, int line)
    {
        var e = Assert.Throws<TraceParseException>(() => TraceFormat.Parse(text));
        Assert.Equal(line, e.Line);
    }

    private static (int Code, string Out, string Err) Replay(string text, params string[] extra)
    {
        string path = Path.Combine(Path.GetTempPath(), $"luo-trace-{Guid.NewGuid():N}.trace");
        File.WriteAllText(path, text);
        try
        {
            using var o = new StringWriter(CultureInfo.InvariantCulture);
            using var e = new StringWriter(CultureInfo.InvariantCulture);
            int code = Program.Run(["replay", path, .. extra], o, e);
            return (code, o.ToString(), e.ToString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Luo_replay_reports_all_ops_reproduced()
    {
        var (code, o, e) = Replay(Example);
        Assert.Equal(0, code);
        Assert.Equal($"all {TraceFormat.Parse(Example).Entries.Count} ops reproduced\n", o);
        Assert.Equal("", e);
    }

    [Fact]
    public void Luo_replay_reports_the_first_differing_op()
    {
        string changed = Example.Replace("token=0x7}) = -1 EBUSY", "token=0x7}) = -1 ENOENT", StringComparison.Ordinal);
        var (code, o, _) = Replay(changed);
        Assert.Equal(1, code);
        Assert.Contains("op 9 (line 13): ioctl(1, PRESERVE_FD, {size=16, fd=3, token=0x7})", o, StringComparison.Ordinal);
        Assert.Contains("expected: = -1 ENOENT", o, StringComparison.Ordinal);
        Assert.Contains("actual:   = -1 EBUSY", o, StringComparison.Ordinal);
    }

    [Fact]
    public void Luo_replay_checks_calls_and_expect_lines()
    {
        var (code, o, _) = Replay(Example.Replace("calls Freeze(test-902, 0x1) = EIO", "calls Freeze(test-902, 0x1) = EBUSY", StringComparison.Ordinal));
        Assert.Equal(1, code);
        Assert.Contains("handler_calls", o, StringComparison.Ordinal);
        (code, o, _) = Replay(Example.Replace("expect liveupdate_num = 1", "expect liveupdate_num = 2", StringComparison.Ordinal));
        Assert.Equal(1, code);
        Assert.Contains("expect liveupdate_num: 1, trace says 2", o, StringComparison.Ordinal);
    }

    [Fact]
    public void Luo_replay_of_a_mutant_trace_diverges()
    {
        var (code, o, _) = Replay(Example.Replace("seed 0x1", "seed 0x1\nmutants LiveupdateNumPlusTwo", StringComparison.Ordinal));
        Assert.Equal(1, code);
        Assert.Contains("test-only mutants", o, StringComparison.Ordinal);
    }

    [Fact]
    public void Luo_replay_rejects_bad_files()
    {
        var (code, _, e) = Replay("not a trace\n");
        Assert.Equal(2, code);
        Assert.Contains("line 1", e, StringComparison.Ordinal);
        using var o2 = new StringWriter(CultureInfo.InvariantCulture);
        using var e2 = new StringWriter(CultureInfo.InvariantCulture);
        Assert.Equal(2, Program.Run(["replay", "/nonexistent/x.trace"], o2, e2));
    }

    [Fact]
    public void Executor_windows_follow_the_placement()
    {
        Assert.Equal(72, TraceTarget.Window(BufPlace.Rw, 0, 16));
        Assert.Equal(100, TraceTarget.Window(BufPlace.Rw, 0, 100));
        Assert.Equal(72, TraceTarget.Window(BufPlace.Ro, 0, 8));
        Assert.Equal(72, TraceTarget.Window(BufPlace.RwRo, 8, 16));
        Assert.Equal(20, TraceTarget.Window(BufPlace.RoHole, 20, 72));
        Assert.Equal(0, TraceTarget.Window(BufPlace.Hole, 0, 72));
        Assert.Equal((long)-(int)Errno.EINVAL, TraceTarget.ColdBoot().Execute(new KexecOp()).Value);
    }
}
