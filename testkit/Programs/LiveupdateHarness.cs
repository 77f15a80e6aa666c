using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>Verdict of one TEST_F.</summary>
public enum HarnessVerdict
{
    /// <summary>Passed.</summary>
    Pass,
    /// <summary>An ASSERT or EXPECT failed.</summary>
    Fail,
    /// <summary>SKIP() was called.</summary>
    Skip,
}

/// <summary>One TEST_F of liveupdate.c: its name, 1-based position in the file and body.</summary>
public sealed record LiveupdateTest(string Name, int Number, Action<HarnessTestContext> Body)
{
    /// <inheritdoc/>
    public override string ToString() => LiveupdateHarness.Fixture + "." + Name;
}

/// <summary>
/// The fixture and assertion surface a TEST_F body sees: fixture fields <see cref="Fd1"/>/<see cref="Fd2"/>
/// (set to −1 by the setup, closed by the teardown when ≥ 0), ASSERT-like checks (a failure ends the body)
/// and EXPECT-like checks (recorded, the body continues), SKIP.
/// </summary>
public sealed class HarnessTestContext
{
    internal HarnessTestContext(ProgramContext program, LiveupdateTest test)
    {
        Program = program;
        Test = test;
    }

    /// <summary>The grandchild process the test runs in.</summary>
    public ProgramContext Program { get; }
    /// <summary>The test.</summary>
    public LiveupdateTest Test { get; }
    /// <summary>The process.</summary>
    public Process P => Program.Process;
    /// <summary>The syscall surface.</summary>
    public Syscalls Sys => Program.Sys;
    /// <summary>Fixture field fd1.</summary>
    public int Fd1 { get; set; } = -1;
    /// <summary>Fixture field fd2.</summary>
    public int Fd2 { get; set; } = -1;
    /// <summary>Whether any check failed.</summary>
    public bool Failed { get; private set; }
    /// <summary>SKIP reason, if skipped.</summary>
    public string? SkipReason { get; private set; }

    private string Step(string what) => Test.Name + ": " + what;

    /// <summary>ASSERT_*: false (and the body must return) when the result does not match.</summary>
    public bool Assert(string what, Want want, long actual) => Record(Program.Run.Check(Step(what), want, actual, fatal: true));

    /// <summary>EXPECT_*: recorded; the body continues either way.</summary>
    public bool Expect(string what, Want want, long actual) => Record(Program.Run.Check(Step(what), want, actual));

    /// <summary>ASSERT_STREQ.</summary>
    public bool AssertStr(string what, string expected, string actual) => Record(Program.Run.CheckEqual(Step(what), expected, actual, fatal: true));

    private bool Record(bool ok)
    {
        if (!ok) Failed = true;
        return ok;
    }

    /// <summary>SKIP(return, reason).</summary>
    public void Skip(string reason)
    {
        SkipReason = reason;
        Program.Run.Print("#      SKIP      " + reason);
    }

    /// <summary>The prologue of every test: <c>self->fd1 = open(LIVEUPDATE_DEV, O_RDWR)</c>; ENOENT → SKIP
    /// (the message ends with a period in the first two tests, as upstream); then ASSERT_GE(fd1, 0).
    /// Returns false when the body must stop.</summary>
    public bool OpenDevice(bool period = false)
    {
        long fd = Sys.Open(P, LibLiveupdate.DevicePath, OpenFlags.O_RDWR);
        Fd1 = fd < 0 ? -1 : (int)fd;
        if (fd == -(long)Errno.ENOENT)
        {
            Skip(LibLiveupdate.DevicePath + " does not exist" + (period ? "." : ""));
            return false;
        }
        return Assert("open " + LibLiveupdate.DevicePath, Want.Fd, fd);
    }

    /// <summary>errno after a call that returned <paramref name="rc"/> (0 when it succeeded: errno untouched).</summary>
    public static long ErrnoAfter(long rc) => rc < 0 ? -rc : 0;
}

/// <summary>
/// The kselftest harness running the liveupdate.c TEST_Fs (scenarios.md §1.1): a harness parent process
/// (child of init, fds 0–2 inherited); per test it forks a child, leaks one pidfd for it, the child forks a
/// grandchild, and setup, body and teardown run in the grandchild, which then exits (releasing everything
/// left open). TAP lines go to the run's output.
/// </summary>
public sealed class LiveupdateHarness
{
    /// <summary>Upstream file.</summary>
    public const string Source = "liveupdate.c";
    /// <summary>FIXTURE name.</summary>
    public const string Fixture = "liveupdate_device";
    private const int KsftPass = 0, KsftFail = 1, KsftSkip = 4;

    private readonly ScenarioRun _run;
    private readonly Machine _machine;

    /// <summary>Starts the harness parent on <paramref name="machine"/>.</summary>
    public LiveupdateHarness(ScenarioRun run, Machine machine)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        _run = run;
        _machine = machine;
        Parent = machine.StartProgram();
    }

    /// <summary>The harness parent process.</summary>
    public Process Parent { get; }

    /// <summary>The 15 TEST_Fs in file order.</summary>
    public static IReadOnlyList<LiveupdateTest> Tests => LiveupdateTests.All;

    /// <summary>Runs one test in the harness process shape and prints its TAP lines (numbered with
    /// <paramref name="number"/>, default the test's position in the file).</summary>
    public HarnessVerdict RunTest(LiveupdateTest test, int? number = null)
    {
        ArgumentNullException.ThrowIfNull(test);
        var sys = _machine.Sys;
        string full = test.ToString();
        _run.Print("#  RUN           " + full + " ...");
        var child = sys.Fork(Parent);
        sys.PidfdOpen(Parent, child.Pid);
        var grandchild = sys.Fork(child);
        var t = new HarnessTestContext(new ProgramContext(_run, _machine, grandchild, "liveupdate"), test);
        t.Fd1 = -1; // FIXTURE_SETUP
        t.Fd2 = -1;
        test.Body(t);
        if (t.Fd1 >= 0) sys.Close(grandchild, t.Fd1); // FIXTURE_TEARDOWN
        if (t.Fd2 >= 0) sys.Close(grandchild, t.Fd2);
        var verdict = t.Failed ? HarnessVerdict.Fail : t.SkipReason is not null ? HarnessVerdict.Skip : HarnessVerdict.Pass;
        int status = verdict switch { HarnessVerdict.Fail => KsftFail, HarnessVerdict.Skip => KsftSkip, _ => KsftPass };
        sys.Exit(grandchild, status);
        sys.Exit(child, status);
        string n = (number ?? test.Number).ToString(CultureInfo.InvariantCulture);
        _run.Print("#          " + (verdict == HarnessVerdict.Fail ? "FAIL" : "  OK") + "  " + full);
        _run.Print(verdict switch
        {
            HarnessVerdict.Fail => $"not ok {n} {full}",
            HarnessVerdict.Skip => $"ok {n} {full} # SKIP {t.SkipReason}",
            _ => $"ok {n} {full}",
        });
        if (verdict == HarnessVerdict.Skip) _run.Skip(t.SkipReason!);
        return verdict;
    }

    /// <summary>Runs the whole binary (all 15 tests in order on this machine) with the TAP header and
    /// totals; returns the exit status (0 when every test passed or skipped, 1 otherwise).</summary>
    public int RunProgram()
    {
        var tests = Tests;
        _run.Print("TAP version 13");
        _run.Print("1.." + tests.Count.ToString(CultureInfo.InvariantCulture));
        _run.Print(ProgramContext.F($"# Starting {tests.Count} tests from 1 test cases."));
        int pass = 0, fail = 0, skip = 0;
        for (int i = 0; i < tests.Count; i++)
        {
            switch (RunTest(tests[i], i + 1))
            {
                case HarnessVerdict.Pass: pass++; break;
                case HarnessVerdict.Skip: skip++; break;
                default: fail++; break;
            }
        }
        _run.Print(ProgramContext.F($"# {(fail > 0 ? "FAILED" : "PASSED")}: {pass + skip} / {tests.Count} tests passed."));
        _run.Print(ProgramContext.F($"# Totals: pass:{pass} fail:{fail} xfail:0 xpass:0 skip:{skip} error:0"));
        int status = fail > 0 ? KsftFail : KsftPass;
        _machine.Sys.Exit(Parent, status);
        _run.Exit("liveupdate", status);
        return status;
    }
}
