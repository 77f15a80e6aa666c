using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LuoModel.Testkit.Trace;

namespace LuoModel.Tests.Trace;

/// <summary><c>luo check-trace</c> (issue 10 §2–3) on the traces recorded by librecorder.so in front of
/// libluoshim.so (tests/vectors/traces, re-recorded by its record.sh), their hand-edited copies and small
/// hand-written recordings. Needs no compiler.</summary>
public class CheckTraceTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);
    internal static string Dir => Path.Combine(AppContext.BaseDirectory, "vectors", "traces");

    internal static TraceFile Load(string name) => TraceFormat.Parse(File.ReadAllText(Path.Combine(Dir, name)));


    /// <summary>1-based number of the first line of <paramref name="file"/> containing <paramref name="text"/>.</summary>
    private static int LineOf(string file, string text) =>
        Array.FindIndex(File.ReadAllLines(Path.Combine(Dir, file)), l => l.Contains(text, StringComparison.Ordinal)) + 1;

    [Theory]
    [InlineData("kexec_simple.trace", 30)]
    [InlineData("multi_session.trace", 60)]
    [InlineData("lifetimes.trace", 80)]
    [InlineData("names.mainline.trace", 25)]
    public void Recorded_client_traces_check_clean_against_mainline(string file, int atLeast)
    {
        var trace = Load(file);
        Assert.Equal(2, trace.Version);
        var r = TraceChecker.Check(trace);
        Assert.True(r.Ok, r.Describe());
        Assert.True(r.Checked >= atLeast, r.Describe());
        Assert.Equal(0, r.Unknown);
        Assert.Equal(trace.Entries.Count, r.Entries);
    }

    [Fact]
    public void A_two_stage_trace_kexecs_where_the_boot_id_changes_and_judges_every_retrieved_memfd()
    {
        var r = TraceChecker.Check(Load("kexec_simple.trace"));
        Assert.True(r.Ok);
        Assert.Contains(r.Notes, n => n.StartsWith("kexec before line 34 (boot id \"1\" → \"2\")", StringComparison.Ordinal));
        Assert.Contains(r.Notes, n => n.StartsWith("stage end \"exit\"", StringComparison.Ordinal));
        // three retrieved memfds, all with a stage-end hash: none unknown
        Assert.Equal(3, Load("kexec_simple.trace").Entries.Count(e => e.Op is ContentOp { Session: null }));
    }

    /// <summary>The content hash is SHA-256 of the bytes [0, size): the page cl_preserve_text wrote.</summary>
    [Fact]
    public void The_content_hash_is_sha256_of_the_whole_file()
    {
        var page = new byte[4096];
        "hello kexec world"u8.CopyTo(page);
        var e = Load("kexec_simple.trace").Entries.Single(x => x.Op is ContentOp { Session: "client-simple", Token: 0x1a });
        Assert.Equal(4096, e.Result.Value);
        Assert.Equal(SHA256.HashData(page), e.Result.Facts!.Sha256);
        Assert.Equal(0, e.Result.Facts.Pos);
        page[0] = (byte)'H';
        var edited = Load("kexec_simple.changed-memfd-byte.trace").Entries.Single(x => x.Line == 44);
        Assert.Equal(SHA256.HashData(page), edited.Result.Facts!.Sha256);
    }

    [Fact]
    public void Without_a_stage_end_marker_retrieved_contents_are_unknown_not_divergent()
    {
        string text = File.ReadAllText(Path.Combine(Dir, "kexec_simple.trace"));
        string stripped = string.Join('\n', text.Split('\n').Where(l => !l.Contains("stage_end(", StringComparison.Ordinal) && !l.Contains("] content(\"", StringComparison.Ordinal)));
        var r = TraceChecker.Check(TraceFormat.Parse(stripped));
        Assert.True(r.Ok, r.Describe());
        Assert.Equal(3, r.Unknown);
        // closed before the kexec: size and position judged, content unknown
        Assert.Contains(r.Notes, n => n.EndsWith("content of retrieved fd 5 unknown (no stage-end hash for it before the kexec)", StringComparison.Ordinal));
        // still open in the holder at the kexec (written after PRESERVE_FD): nothing judged
        Assert.Contains(r.Notes, n => n.EndsWith("size, position and content of retrieved fd 6 unknown (the file was open at the kexec and no stage-end line describes it)", StringComparison.Ordinal));
    }

    /// <summary>Each hand-edited copy is reported at exactly the edited line, with the spec section.</summary>
    [Theory]
    [InlineData("kexec_simple.wrong-errno.trace", 51, "return value", "= -1 EINVAL", "= -1 EBUSY", "luo.md §3.5")]
    [InlineData("kexec_simple.extra-reply-byte.trace", 43, "reply bytes (first difference at offset 16: model 0x00, observed 0x01)", "= 0 => {size=16, fd=6, token=0x1a}", "= 0 => {size=16, fd=6, token=0x1a, len=17, @16=01}", "luo.md §3.7")]
    [InlineData("kexec_simple.missing-session.trace", 42, "return value", "= 0 => {size=72, fd=5, name=\"client-simple\"}", "= -1 ENOENT", "luo.md §3.5")]
    [InlineData("kexec_simple.changed-memfd-byte.trace", 44, "retrieved memfd content", "sha256:b8431e39a12109803046f533a3afea41f1d860dc6990c1ee9e7fe53b997d047c (\"client-simple\" token 0x1a at the stage end)", "sha256:ecd4c7af0114ad2c3536ab7d61b3742347aa34b22a5591ad111d6d462327eed3", "luo.md §6.5")]
    [InlineData("kexec_simple.swapped-finish.trace", 53, "return value", "= -1 EBADF", "= 0", "luo.md §3.8")]
    public void Hand_edited_copies_diverge_at_the_edited_line(string file, int line, string what, string model, string observed, string spec)
    {
        var r = TraceChecker.Check(Load(file));
        Assert.False(r.Ok);
        var d = r.Divergence!;
        Assert.Equal(line, d.Entry.Line);
        Assert.Equal(what, d.What);
        Assert.Equal(model, d.Expected);
        Assert.Equal(observed, d.Observed);
        Assert.StartsWith(spec, d.Spec, StringComparison.Ordinal);
        // the line is the edited one: the unedited trace has the same call there and checks clean
        string original = File.ReadAllLines(Path.Combine(Dir, "kexec_simple.trace"))[line - 2];
        Assert.NotEqual(original, File.ReadAllLines(Path.Combine(Dir, file))[line - 1]);
    }

    [Fact]
    public void The_cli_prints_the_divergence_and_exits_1()
    {
        var (code, o, _) = Luo("check-trace", Path.Combine(Dir, "kexec_simple.wrong-errno.trace"));
        Assert.Equal(1, code);
        Assert.Contains("divergence at line 51 (entry 48): [18656] ioctl(3, RETRIEVE_SESSION, {size=72, name=\"client-simple\"})\n", o, StringComparison.Ordinal);
        Assert.Contains("  model:    = -1 EINVAL\n  observed: = -1 EBUSY\n  decided by luo.md §3.5 (RETRIEVE_SESSION), §5.7 (sessions handed over)\n", o, StringComparison.Ordinal);
        Assert.Contains("summary: 54 entries, 29 calls checked, 19 applied, 0 memfd contents unknown, 1 divergence(s)", o, StringComparison.Ordinal);
        var clean = Luo("check-trace", Path.Combine(Dir, "kexec_simple.trace"));
        Assert.Equal(0, clean.Code);
        Assert.EndsWith("summary: 54 entries, 34 calls checked, 20 applied, 0 memfd contents unknown, 0 divergence(s)\n", clean.Out, StringComparison.Ordinal);
    }

    /// <summary>The same workload recorded under two model variants: --variant chooses which one is expected.</summary>
    [Fact]
    public void Variant_chooses_which_recording_is_expected()
    {
        int mainlineGetName = LineOf("names.mainline.trace", "0xba43");
        int seedGetName = LineOf("names.get-name-seed.trace", "0xba43");
        Assert.True(mainlineGetName > 0 && seedGetName > 0);

        Assert.Equal(0, Luo("check-trace", Path.Combine(Dir, "names.mainline.trace")).Code);
        Assert.Equal(0, Luo("check-trace", Path.Combine(Dir, "names.get-name-seed.trace"), "--variant", "get-name-seed").Code);

        var a = Luo("check-trace", Path.Combine(Dir, "names.mainline.trace"), "--variant", "get-name-seed");
        Assert.Equal(1, a.Code);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"divergence at line {mainlineGetName} "), a.Out, StringComparison.Ordinal);
        Assert.Contains("ioctl(5, GET_NAME, {size=72})\n  what:     reply bytes (first difference at offset 4: model 0x6e, observed 0x00)\n", a.Out, StringComparison.Ordinal);
        Assert.Contains("decided by luo.md §3.9 (GET_NAME), §7.6 (its variants)", a.Out, StringComparison.Ordinal);

        var b = Luo("check-trace", Path.Combine(Dir, "names.get-name-seed.trace"));
        Assert.Equal(1, b.Code);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"divergence at line {seedGetName} "), b.Out, StringComparison.Ordinal);
        Assert.Contains("  model:    = 0 => {size=72, name=\"names\"}\n  observed: = 0 => {size=72, reserved=1701667182, name=\"s\"}\n", b.Out, StringComparison.Ordinal);

        var bad = Luo("check-trace", Path.Combine(Dir, "names.mainline.trace"), "--variant", "no-such-variant");
        Assert.Equal(2, bad.Code);
    }

    private const string RaceHead = """
        luo-trace 2
        [10 @100+1] start("b", 1024, 4096, "0,1,2") = 0
        [10 @110+5] open("/dev/liveupdate", O_RDWR) = 3
        [10 @120+5] fork() = 11

        """;

    /// <summary>Two processes create the same session at once; the loser's line was written first. The calls
    /// overlapped in time, so the checker tries the other serialization, which the model allows.</summary>
    [Fact]
    public void Overlapping_calls_of_two_processes_may_have_run_in_either_order()
    {
        string text = RaceHead + """
            [11 @200+50] ioctl(3, CREATE_SESSION, {size=72, name="x"}) = -1 EEXIST
            [10 @190+80] ioctl(3, CREATE_SESSION, {size=72, name="x"}) = 0 => {size=72, fd=4, name="x"}
            [11 @300+5] exit() = 0
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.True(r.Ok, r.Describe());
        Assert.Contains("note: lines 5 (pid 11) and 6 (pid 10) overlapped in time; the observed results match the model when line 6 ran first, so that order is accepted (nondeterministic serialization)\n", r.Describe(), StringComparison.Ordinal);
        Assert.Equal(3, r.Checked);
    }

    [Fact]
    public void Calls_that_did_not_overlap_are_judged_in_their_recorded_order()
    {
        string text = RaceHead + """
            [11 @200+50] ioctl(3, CREATE_SESSION, {size=72, name="x"}) = -1 EEXIST
            [10 @260+10] ioctl(3, CREATE_SESSION, {size=72, name="x"}) = 0 => {size=72, fd=4, name="x"}
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.False(r.Ok);
        Assert.Equal(5, r.Divergence!.Entry.Line);
        Assert.Equal("= 0 => {size=72, fd=4, name=\"x\"}", r.Divergence.Expected);
        Assert.DoesNotContain(r.Notes, n => n.Contains("overlapped", StringComparison.Ordinal));
    }

    [Fact]
    public void Fd_gaps_left_by_unrecorded_calls_are_filled_unless_strict()
    {
        // fd 3 and 4 were taken by a pipe the recorder does not see: the device gets 5
        const string text = """
            luo-trace 2
            [7 @1+1] start("b", 1024, 4096, "0,1,2") = 0
            [7 @9+1] open("/dev/liveupdate", O_RDWR) = 5
            [7 @12+1] ioctl(5, CREATE_SESSION, {size=72, name="s"}) = 0 => {size=72, fd=6, name="s"}
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.True(r.Ok, r.Describe());
        Assert.Contains(r.Notes, n => n.StartsWith("1 fd number gap(s) filled", StringComparison.Ordinal));
        var strict = TraceChecker.Check(TraceFormat.Parse(text), new CheckOptions { StrictFds = true });
        Assert.Equal(3, strict.Divergence!.Entry.Line);
        Assert.Equal("fd number", strict.Divergence.What);
        Assert.Equal("fd 3 (the lowest free)", strict.Divergence.Expected);
        // a number the model still holds for an LUO file is a divergence even without --strict-fds
        const string reuse = """
            luo-trace 2
            [7 @1+1] start("b", 1024, 4096, "0,1,2") = 0
            [7 @9+1] open("/dev/liveupdate", O_RDWR) = 3
            [7 @12+1] ioctl(3, CREATE_SESSION, {size=72, name="s"}) = 0 => {size=72, fd=3, name="s"}
            """;
        var d = TraceChecker.Check(TraceFormat.Parse(reuse)).Divergence!;
        Assert.Equal(4, d.Entry.Line);
        Assert.Equal("fd 4 (the lowest free); the model still holds 3 for /dev/liveupdate", d.Expected);
    }

    [Fact]
    public void Version_2_lines_round_trip_and_need_version_2()
    {
        var trace = Load("kexec_simple.trace");
        string printed = TraceFormat.Print(trace.Entries);
        Assert.StartsWith("luo-trace 2\n", printed, StringComparison.Ordinal);
        var again = TraceFormat.Parse(printed);
        Assert.Equal(trace.Entries.Select(e => e.Op), again.Entries.Select(e => e.Op));
        Assert.Equal(trace.Entries.Select(e => TraceFormat.Line(e.Op, e.Result)), again.Entries.Select(e => TraceFormat.Line(e.Op, e.Result)));
        Assert.Contains("[18656 @12331499535870+65107] ioctl(5, FINISH, {size=8}) = 0\n", printed, StringComparison.Ordinal);
        Assert.Contains("] content(\"client-simple\", 0x1b) = 8192 => pos=100 sha256:a62deb6e", printed, StringComparison.Ordinal);

        var ex = Assert.Throws<TraceParseException>(() => TraceFormat.Parse("luo-trace 1\n[3] fork() = 4\n"));
        Assert.Equal(2, ex.Line);
        Assert.Contains("needs 'luo-trace 2'", ex.Message, StringComparison.Ordinal);
        Assert.Throws<TraceParseException>(() => TraceFormat.Parse("luo-trace 3\n"));
        Assert.Throws<TraceParseException>(() => TraceFormat.Parse("luo-trace 2\n[3 @5] exit() = 0\n"));
        Assert.Throws<TraceParseException>(() => TraceFormat.Parse("luo-trace 2\n[3] content(4) = 10 => pos=0\n"));
    }

    [Fact]
    public void Replay_refuses_a_recording_and_check_trace_refuses_model_only_calls()
    {
        var (code, _, err) = Luo("replay", Path.Combine(Dir, "kexec_simple.trace"));
        Assert.Equal(2, code);
        Assert.Contains("a recording of a real kernel: check it with `luo check-trace`", err, StringComparison.Ordinal);
        var r = TraceChecker.Check(TraceFormat.Parse("luo-trace 1\nmodel.test_file(0x1) = 0\n"));
        Assert.Equal("unsupported call", r.Divergence!.What);
    }

    /// <summary>A v1 trace of plain syscalls (the property machine's format) checks too.</summary>
    [Fact]
    public void A_v1_syscall_trace_checks_against_the_model()
    {
        const string text = """
            luo-trace 1
            open("/dev/liveupdate", O_RDWR) = 0
            ioctl(0, CREATE_SESSION, {size=72, name="a"}) = 0 => {size=72, fd=1, name="a"}
            memfd_create("m", 0) = 2
            write(2, "abc", 3) = 3
            ioctl(1, PRESERVE_FD, {size=16, fd=2, token=0x1}) = 0
            reboot(LINUX_REBOOT_CMD_KEXEC) = 0
            kexec() = 0
            open("/dev/liveupdate", O_RDWR) = 0
            ioctl(0, RETRIEVE_SESSION, {size=72, name="a"}) = 0 => {size=72, fd=1, name="a"}
            ioctl(1, RETRIEVE_FD, {size=16, token=0x1}) = 0 => {size=16, fd=2, token=0x1}
            pread(2, 3, 0) = 3 => "abc"
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.True(r.Ok, r.Describe());
        Assert.Equal(10, r.Checked);
        var bad = TraceChecker.Check(TraceFormat.Parse(text.Replace("=> \"abc\"", "=> \"abd\"", StringComparison.Ordinal)));
        Assert.Equal(12, bad.Divergence!.Entry.Line);
    }

    /// <summary>Hostile numbers end in a divergence, not in a hang or an exception.</summary>
    [Fact]
    public void Hostile_fd_numbers_and_sizes_are_bounded()
    {
        const string text = """
            luo-trace 2
            [7 @1+1] start("b", 1048576, 1048576, "0,1,2,2000000000") = 0
            [7 @2+1] memfd_create("m", 0) = 3
            [7 @3+1] memfd_state(3) = 9223372036854775807 => pos=0
            [7 @4+1] open("/etc/passwd", 0x0) = 2147483647
            [7 @9+1] open("/dev/liveupdate", O_RDWR) = 2000000000
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.Equal(6, r.Divergence!.Entry.Line);
        Assert.Equal("fd number", r.Divergence.What);
        Assert.Contains(r.Notes, n => n.Contains("inherited fds above 65535 are not mirrored", StringComparison.Ordinal));
        Assert.Contains(r.Notes, n => n.Contains("is not resized in the model", StringComparison.Ordinal));
    }

    /// <summary>An exec keeps the device fd opened without O_CLOEXEC (still in use) and drops a session fd.</summary>
    [Fact]
    public void An_exec_keeps_fds_without_close_on_exec()
    {
        const string text = """
            luo-trace 2
            [7 @1+1] start("b", 1024, 4096, "0,1,2") = 0
            [7 @2+1] open("/dev/liveupdate", O_RDWR) = 3
            [7 @3+1] ioctl(3, CREATE_SESSION, {size=72, name="s"}) = 0 => {size=72, fd=4, name="s"}
            [7 @4+1] start("b", 1024, 4096, "0,1,2,3") = 0
            [7 @5+1] open("/dev/liveupdate", O_RDWR) = -1 EBUSY
            [7 @6+1] ioctl(3, CREATE_SESSION, {size=72, name="s"}) = 0 => {size=72, fd=4, name="s"}
            """;
        var r = TraceChecker.Check(TraceFormat.Parse(text));
        Assert.True(r.Ok, r.Describe());
        Assert.Contains(r.Notes, n => n == "pid 7 started again at line 5 (exec): its close-on-exec fds are closed");
    }
}
