using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>luo_kexec_simple (row F1): state "kexec_simple_state" (token 999) and "test-session" with one
/// memfd (token 0x1A, "hello kexec world").</summary>
internal sealed class KexecSimpleProgram : TwoStageProgram
{
    public const string Session = "test-session", Data = "hello kexec world";
    public const long Token = 0x1A;
    public override string Name => "luo_kexec_simple";
    public override string StateSessionName => "kexec_simple_state";
    public override long StateToken => 999;
    public override string PassLine => "--- SIMPLE KEXEC TEST PASSED ---";

    protected internal override bool Stage1(ProgramContext c, int luoFd)
    {
        c.Print("[STAGE 1] Starting pre-kexec setup...");
        if (!LibLiveupdate.CreateStateFile(c, luoFd, StateSessionName, StateToken, 2)) return false;
        long s = LibLiveupdate.CreateSession(c, luoFd, Session);
        if (!Step(c, $"luo_create_session(\"{Session}\")", Want.Fd, s, $"luo_create_session for '{Session}'")) return false;
        long rc = LibLiveupdate.CreateAndPreserveMemfd(c, (int)s, Token, Data);
        if (!Step(c, "create_and_preserve_memfd(token 0x1a)", Want.Zero, rc, "create_and_preserve_memfd for token 0x1a")) return false;
        c.Sys.Close(c.Process, luoFd);
        LibLiveupdate.DaemonizeAndWait(c);
        return true;
    }

    protected internal override bool Stage2(ProgramContext c, int luoFd, int stateFd)
    {
        c.Print("[STAGE 2] Starting post-kexec verification...");
        if (!ReadStage(c, stateFd)) return false;
        long s = LibLiveupdate.RetrieveSession(c, luoFd, Session);
        if (!Step(c, $"luo_retrieve_session(\"{Session}\")", Want.Fd, s, $"luo_retrieve_session for '{Session}'")) return false;
        if (!VerifyAndClose(c, (int)s, Token, Data)) return false;
        c.Print("[STAGE 2] Test data verified successfully.");
        if (!FinishAndClose(c, (int)s, Session)) return false;
        if (!FinishAndClose(c, stateFd, StateSessionName)) return false;
        c.Print("\n" + PassLine);
        return true;
    }
}

/// <summary>luo_multi_session (row G1): two empty sessions, one with one memfd, one with two.</summary>
internal sealed class MultiSessionProgram : TwoStageProgram
{
    public const string Empty1 = "multi-test-empty-1", Empty2 = "multi-test-empty-2", Files1 = "multi-test-files-1", Files2 = "multi-test-files-2";
    public const string Data1 = "Data for session files 1", Data2 = "First file for session files 2", Data3 = "Second file for session files 2";
    public const long Token1 = 0x1001, Token2 = 0x2002, Token3 = 0x3003;
    public override string Name => "luo_multi_session";
    public override string StateSessionName => "kexec_multi_state";
    public override long StateToken => 998;
    public override string PassLine => "--- MULTI-SESSION KEXEC TEST PASSED ---";

    protected internal override bool Stage1(ProgramContext c, int luoFd)
    {
        c.Print("[STAGE 1] Starting pre-kexec setup for multi-session test...");
        if (!LibLiveupdate.CreateStateFile(c, luoFd, StateSessionName, StateToken, 2)) return false;
        var fds = new Dictionary<string, int>();
        foreach (string name in new[] { Empty1, Empty2, Files1, Files2 })
        {
            long s = LibLiveupdate.CreateSession(c, luoFd, name);
            if (!Step(c, $"luo_create_session(\"{name}\")", Want.Fd, s, $"luo_create_session for '{name}'")) return false;
            fds[name] = (int)s;
            foreach (var (session, token, data) in Files())
            {
                if (session != name) continue;
                long rc = LibLiveupdate.CreateAndPreserveMemfd(c, (int)s, token, data);
                if (!Step(c, ProgramContext.F($"create_and_preserve_memfd(token 0x{token:x})"), Want.Zero, rc, ProgramContext.F($"create_and_preserve_memfd for token 0x{token:x}"))) return false;
            }
        }
        c.Sys.Close(c.Process, luoFd);
        LibLiveupdate.DaemonizeAndWait(c);
        return true;
    }

    private static (string Session, long Token, string Data)[] Files() =>
        [(Files1, Token1, Data1), (Files2, Token2, Data2), (Files2, Token3, Data3)];

    protected internal override bool Stage2(ProgramContext c, int luoFd, int stateFd)
    {
        c.Print("[STAGE 2] Starting post-kexec verification...");
        if (!ReadStage(c, stateFd)) return false;
        var fds = new Dictionary<string, int>();
        foreach (string name in new[] { Empty1, Empty2, Files1, Files2 })
        {
            long s = LibLiveupdate.RetrieveSession(c, luoFd, name);
            if (!Step(c, $"luo_retrieve_session(\"{name}\")", Want.Fd, s, $"luo_retrieve_session for '{name}'")) return false;
            fds[name] = (int)s;
        }
        foreach (var (session, token, data) in Files())
            if (!VerifyAndClose(c, fds[session], token, data)) return false;
        c.Print("[STAGE 2] Test data verified successfully.");
        foreach (string name in new[] { Empty1, Empty2, Files1, Files2 })
            if (!FinishAndClose(c, fds[name], name)) return false;
        if (!FinishAndClose(c, stateFd, StateSessionName)) return false;
        c.Print("\n" + PassLine);
        return true;
    }
}

/// <summary>luo_stress_sessions (row H3): 2000 empty sessions plus the state session.</summary>
internal sealed class StressSessionsProgram : TwoStageProgram
{
    public const int Sessions = 2000;
    public override string Name => "luo_stress_sessions";
    public override string StateSessionName => "kexec_many_state";
    public override long StateToken => 999;
    public override string PassLine => "--- MANY-SESSIONS KEXEC TEST PASSED (2000 sessions) ---";

    protected internal override bool Stage1(ProgramContext c, int luoFd)
    {
        long ret = LibLiveupdate.EnsureNofileLimit(c, Sessions);
        if (ret == -(long)Errno.EPERM)
        {
            c.SkipExit("Insufficient privileges to set RLIMIT_NOFILE");
            return false;
        }
        if (!Step(c, "luo_ensure_nofile_limit(2000)", Want.Zero, ret, "luo_ensure_nofile_limit failed")) return false;
        if (!LibLiveupdate.CreateStateFile(c, luoFd, StateSessionName, StateToken, 2)) return false;
        for (int i = 0; i < Sessions; i++)
        {
            string name = ProgramContext.F($"many-test-{i}");
            long s = LibLiveupdate.CreateSession(c, luoFd, name);
            if (!Step(c, $"luo_create_session(\"{name}\")", Want.Fd, s, ProgramContext.F($"luo_create_session for '{name}' at index {i}"))) return false;
        }
        c.Sys.Close(c.Process, luoFd);
        LibLiveupdate.DaemonizeAndWait(c);
        return true;
    }

    protected internal override bool Stage2(ProgramContext c, int luoFd, int stateFd)
    {
        if (!ReadStage(c, stateFd)) return false;
        for (int i = 0; i < Sessions; i++)
        {
            string name = ProgramContext.F($"many-test-{i}");
            long s = LibLiveupdate.RetrieveSession(c, luoFd, name);
            if (!Step(c, $"luo_retrieve_session(\"{name}\")", Want.Fd, s, ProgramContext.F($"luo_retrieve_session for '{name}' at index {i}"))) return false;
            if (!FinishAndClose(c, (int)s, name)) return false;
        }
        if (!FinishAndClose(c, stateFd, StateSessionName)) return false;
        c.Print("\n" + PassLine);
        return true;
    }
}

/// <summary>luo_stress_files (row H4): one session with 500 one-page memfds "file-data-i".</summary>
internal sealed class StressFilesProgram : TwoStageProgram
{
    public const int Files = 500;
    public const string Session = "many_files_session";
    public override string Name => "luo_stress_files";
    public override string StateSessionName => "kexec_many_files_state";
    public override long StateToken => 9999;
    public override string PassLine => "--- MANY-FILES KEXEC TEST PASSED (500 files) ---";

    protected internal override bool Stage1(ProgramContext c, int luoFd)
    {
        if (!LibLiveupdate.CreateStateFile(c, luoFd, StateSessionName, StateToken, 2)) return false;
        long s = LibLiveupdate.CreateSession(c, luoFd, Session);
        if (!Step(c, $"luo_create_session(\"{Session}\")", Want.Fd, s, "luo_create_session")) return false;
        for (int i = 0; i < Files; i++)
        {
            long rc = LibLiveupdate.CreateAndPreserveMemfd(c, (int)s, i, ProgramContext.F($"file-data-{i}"));
            if (!Step(c, ProgramContext.F($"create_and_preserve_memfd(token {i})"), Want.Zero, rc, ProgramContext.F($"create_and_preserve_memfd for index {i}"))) return false;
        }
        c.Sys.Close(c.Process, luoFd);
        LibLiveupdate.DaemonizeAndWait(c);
        return true;
    }

    protected internal override bool Stage2(ProgramContext c, int luoFd, int stateFd)
    {
        if (!ReadStage(c, stateFd)) return false;
        long s = LibLiveupdate.RetrieveSession(c, luoFd, Session);
        if (!Step(c, $"luo_retrieve_session(\"{Session}\")", Want.Fd, s, "luo_retrieve_session")) return false;
        for (int i = 0; i < Files; i++)
            if (!VerifyAndClose(c, (int)s, i, ProgramContext.F($"file-data-{i}"))) return false;
        if (!FinishAndClose(c, (int)s, Session)) return false;
        if (!FinishAndClose(c, stateFd, StateSessionName)) return false;
        c.Print("\n" + PassLine);
        return true;
    }
}
