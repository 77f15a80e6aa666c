using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>
/// A two-stage selftest program and the luo_test() framework around it (scenarios.md §1.3): parse the
/// requested stage, open /dev/liveupdate (any failure → SKIP, exit 4), detect the stage from the state
/// session (ENOENT → stage 1, an fd → stage 2, anything else fails), refuse a mismatch ("Stage mismatch",
/// exit 1), then run the stage function. <see cref="RunBothStages"/> adds what init.c and the QEMU runner do:
/// reboot(KEXEC) from init while the stage-1 holder is alive, boot the next kernel, run stage 2 and look for
/// the "TEST PASSED" line.
/// </summary>
public abstract class TwoStageProgram
{
    /// <summary>Program name (e.g. "luo_kexec_simple").</summary>
    public abstract string Name { get; }
    /// <summary>The state session's name.</summary>
    public abstract string StateSessionName { get; }
    /// <summary>The state memfd's token.</summary>
    public abstract long StateToken { get; }
    /// <summary>The line stage 2 prints on success.</summary>
    public abstract string PassLine { get; }

    /// <summary>luo_kexec_simple (row F1).</summary>
    public static TwoStageProgram KexecSimple { get; } = new KexecSimpleProgram();
    /// <summary>luo_multi_session (row G1).</summary>
    public static TwoStageProgram MultiSession { get; } = new MultiSessionProgram();
    /// <summary>luo_stress_sessions (row H3).</summary>
    public static TwoStageProgram StressSessions { get; } = new StressSessionsProgram();
    /// <summary>luo_stress_files (row H4).</summary>
    public static TwoStageProgram StressFiles { get; } = new StressFilesProgram();
    /// <summary>The four programs in the order run-vmtests.sh lists them.</summary>
    public static IReadOnlyList<TwoStageProgram> All { get; } = [KexecSimple, MultiSession, StressSessions, StressFiles];

    /// <summary>Stage 1 body; ends with <see cref="LibLiveupdate.DaemonizeAndWait"/>. False when the program
    /// exited early.</summary>
    protected internal abstract bool Stage1(ProgramContext c, int luoFd);

    /// <summary>Stage 2 body; prints <see cref="PassLine"/> on success. False when the program exited early.</summary>
    protected internal abstract bool Stage2(ProgramContext c, int luoFd, int stateFd);

    /// <summary>Runs "<see cref="Name"/> -s <paramref name="requestedStage"/>" as a child of init on the
    /// machine's current boot. The returned context has the exit status and, after stage 1, the holder.</summary>
    public ProgramContext RunStage(ScenarioRun run, Machine machine, int requestedStage)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        var c = new ProgramContext(run, machine, machine.StartProgram(), ProgramContext.F($"{Name} -s {requestedStage}"));
        if (requestedStage is not (1 or 2))
        {
            c.FailExit("Invalid stage argument");
            return c;
        }
        long luo = LibLiveupdate.OpenDevice(c);
        if (luo < 0)
        {
            c.SkipExit(ProgramContext.F($"Failed to open {LibLiveupdate.DevicePath} ({Syscalls.ResultText(luo)[1..]})"));
            return c;
        }
        run.Check(c.Name + ": open " + LibLiveupdate.DevicePath, Want.Fd, luo);
        long state = LibLiveupdate.RetrieveSession(c, (int)luo, StateSessionName);
        string step = $"{c.Name}: stage detection: luo_retrieve_session(\"{StateSessionName}\")";
        if (state != -(long)Errno.ENOENT && state < 0)
        {
            c.Check(step, requestedStage == 1 ? Want.Err(Errno.ENOENT) : Want.Fd, state);
            c.FailExit("Failed to check for state session", state);
            return c;
        }
        int detected = state >= 0 ? 2 : 1;
        if (!c.Check(step, requestedStage == 1 ? Want.Err(Errno.ENOENT) : Want.Fd, state))
        {
            run.Print(ProgramContext.F($"Bail out! Stage mismatch Requested stage {requestedStage}, but system is in stage {detected}."));
            run.Print($"(State session {StateSessionName}: {(detected == 2 ? "EXISTS" : "MISSING")})");
            c.Exit(1);
            return c;
        }
        bool ok = requestedStage == 1 ? Stage1(c, (int)luo) : Stage2(c, (int)luo, (int)state);
        if (ok) c.Exit(0); // stage 1 already exited in daemonize_and_wait
        return c;
    }

    /// <summary>Stage 1 on the machine's current boot, then <see cref="KexecAndRunStage2"/>. Skips (exit 4)
    /// are reported to the run; failures are failed steps.</summary>
    public void RunBothStages(ScenarioRun run, Machine machine, KernelConfig? nextBoot = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        var s1 = RunStage(run, machine, 1);
        if (s1.ExitStatus == 0) KexecAndRunStage2(run, machine, nextBoot);
    }

    /// <summary>What follows a successful stage 1: init's reboot(KEXEC) while the holder is alive, the boot
    /// of <paramref name="nextBoot"/> (default: the same config), stage 2, and the PASS-line check of the
    /// runner. Returns the stage-2 context (null when the reboot failed or the next boot panicked).</summary>
    public ProgramContext? KexecAndRunStage2(ScenarioRun run, Machine machine, KernelConfig? nextBoot = null)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(machine);
        if (!run.Check(Name + ": init: reboot(LINUX_REBOOT_CMD_KEXEC)", Want.Zero, machine.RebootKexec(), fatal: true)) return null;
        var k = machine.Kexec(nextBoot is null ? null : ScenarioRun.Isolate(nextBoot));
        if (!run.CheckThat(Name + ": boot 2", !k.Panicked, "boots", k.Panicked ? "panic: " + k.Outcome.PanicReason : "boots", fatal: true)) return null;
        int before = run.Output.Count;
        var s2 = RunStage(run, machine, 2);
        if (s2.ExitStatus == 4) return s2;
        run.CheckEqual(Name + ": stage 2 exit status", 0, s2.ExitStatus ?? -1);
        bool printed = run.Output.Skip(before).Any(l => l.Contains(PassLine, StringComparison.Ordinal));
        run.CheckThat(Name + ": stage 2 printed the PASS line", printed, PassLine, printed ? PassLine : "(no PASS line)");
        return s2;
    }

    /// <summary>A helper call whose failure ends the program with fail_exit.</summary>
    protected static bool Step(ProgramContext c, string step, Want want, long rc, string failMessage)
    {
        ArgumentNullException.ThrowIfNull(c);
        return c.Check(c.Name + ": " + step, want, rc) || c.FailExit(failMessage, rc);
    }

    /// <summary>restore_and_read_stage() plus the "Expected stage 2" check.</summary>
    protected bool ReadStage(ProgramContext c, int stateFd)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (!LibLiveupdate.RestoreAndReadStage(c, stateFd, StateToken, out int stage)) return false;
        return c.Run.CheckEqual(c.Name + ": stage read from the state memfd", 2, stage, fatal: true)
            || c.FailExit(ProgramContext.F($"Expected stage 2, but state file contains {stage}"));
    }

    /// <summary>FINISH then close, as every stage 2 does for each session.</summary>
    protected static bool FinishAndClose(ProgramContext c, int sessionFd, string what)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (!Step(c, $"luo_session_finish({what})", Want.Zero, LibLiveupdate.Finish(c, sessionFd), $"luo_session_finish for {what}")) return false;
        c.Run.Check(c.Name + $": close({what})", Want.Zero, c.Sys.Close(c.Process, sessionFd));
        return true;
    }

    /// <summary>restore_and_verify_memfd() of one token, then close of the returned fd.</summary>
    protected static bool VerifyAndClose(ProgramContext c, int sessionFd, long token, string text)
    {
        ArgumentNullException.ThrowIfNull(c);
        long fd = LibLiveupdate.RestoreAndVerifyMemfd(c, sessionFd, token, text);
        if (!Step(c, ProgramContext.F($"restore_and_verify_memfd(token 0x{token:x})"), Want.Fd, fd, ProgramContext.F($"restore_and_verify_memfd for token 0x{token:x}"))) return false;
        c.Run.Check(c.Name + ProgramContext.F($": close(memfd of token 0x{token:x})"), Want.Zero, c.Sys.Close(c.Process, (int)fd));
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
