using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Cli;

/// <summary>
/// The story behind <c>luo demo</c>, told on one simulated machine through the syscall surface: boot, sessions
/// with memfds of known (seeded) data plus a test-handler file each, a canary session whose freeze is made to
/// fail (rollback order and state equality shown), the reboot, the handover decoded as the next kernel finds
/// it, the next boot retrieving every file and verifying every byte, finish. Deterministic for given options.
/// </summary>
internal sealed partial class LiveUpdateDemo
{
    public const int DefaultSessions = 2, DefaultFiles = 2, DefaultSeed = 1;
    public const long DefaultSize = 10000;
    public const int MaxSessions = 4096, MaxFiles = 64;
    public const long MaxSize = 16L << 20;
    /// <summary>Token of memfd j in a session: MemfdTokenBase + j.</summary>
    public const ulong MemfdTokenBase = 0x1000;
    /// <summary>Token of the test-handler file of every session.</summary>
    public const ulong GuardToken = 0xF000;
    /// <summary>Name of the session whose freeze fails.</summary>
    public const string CanaryName = "canary";
    private const ulong GuardPayloadBase = 0x6775617264000000; // "guard" in the high bytes
    private static readonly string[] CanaryFiles = ["canary.a", "canary.b", "canary.c"];

    /// <summary>Command-line options.</summary>
    public sealed record Options(int Sessions, int Files, long Size, int Seed, string? SavePath);

    private sealed class FileState(string name, ulong token, byte[] data, int fd)
    {
        public string Name { get; } = name;
        public ulong Token { get; } = token;
        public byte[] Data { get; } = data;
        public int Fd { get; } = fd;
        public ulong[] Pfns { get; set; } = [];
    }

    private sealed class SessionState(string name, int fd)
    {
        public string Name { get; } = name;
        public int Fd { get; } = fd;
        public List<FileState> Memfds { get; } = [];
        public ulong GuardPayload { get; set; }
    }

    private readonly Options _o;
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly List<SessionState> _sessions = [];
    private Machine _m = null!;
    private Process _p = null!;

    private LiveUpdateDemo(Options o, TextWriter output, TextWriter error)
    {
        _o = o;
        _out = output;
        _err = error;
    }

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static string H(ulong v) => HandoverDecoder.Hex(v);

    private void Say(string line) => _out.Write(line + "\n");

    private void Section(string title) => _out.Write("\n== " + title + " ==\n");

    /// <summary>Runs the story. Exit 0 only when every byte of every memfd verified and every session finished.</summary>
    public static int Run(Options o, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string? bad = o.Sessions is < 1 or > MaxSessions ? I($"--sessions must be 1..{MaxSessions}")
            : o.Files is < 0 or > MaxFiles ? I($"--files must be 0..{MaxFiles}")
            : o.Size is < 0 or > MaxSize ? I($"--size must be 0..{MaxSize}")
            : null;
        if (bad is not null)
        {
            error.Write("luo demo: " + bad + "\n");
            return CliIo.ExitInvalid;
        }
        return new LiveUpdateDemo(o, output, error).Tell() ? CliIo.ExitOk : CliIo.ExitInvalid;
    }

    /// <summary>A call that must succeed; false (with a message on stderr) otherwise.</summary>
    private bool Ok(string what, long rc, long want = 0)
    {
        if (want >= 0 ? rc == want : rc >= 0) return true;
        _err.Write($"luo demo: {what} = {Syscalls.ResultText(rc)}\n");
        return false;
    }

    private bool Tell()
    {
        Say(I($"luo demo: one live update of {_o.Sessions} session(s) x {_o.Files} memfd(s) of {_o.Size} bytes (seed {_o.Seed})"));
        _m = new Machine(new KernelConfig(), new SyscallLog(enabled: false));
        var k = _m.Kernel;
        Section("1. Boot 1 (cold boot)");
        Say(I($"kernel {k.BootNumber}: liveupdate=on, KHO {k.Kho.Options.EffectiveCompatible}; LUO root luo_ser @ {H(k.Luo.OutRootPhys)}, FLB page @ {H(k.Luo.OutFlbPhys)}"));
        Say("file handlers: " + string.Join(", ", k.Luo.Handlers.Select(x => x.Compatible)));
        _p = _m.StartProgram();
        return Preserve() && Rollback() && Reboot() && NextBoot();
    }

    private bool Preserve()
    {
        Section("2. Preserve memfds holding known data");
        var sys = _m.Sys;
        ulong need = (ulong)(_o.Sessions * (_o.Files + 2)) + 64;
        if (need > 1024 && !Ok("setrlimit(RLIMIT_NOFILE)", sys.SetrlimitNofile(_p, need, Math.Max(need, _p.NofileHard)))) return false;
        long dev = LibLiveupdateOpen();
        if (!Ok("open /dev/liveupdate", dev, -1)) return false;
        Say(I($"open(\"/dev/liveupdate\") = {dev}"));
        var rng = new Random(_o.Seed);
        for (int i = 0; i < _o.Sessions; i++)
        {
            string name = I($"demo-{i}");
            long s = Create((int)dev, name);
            if (!Ok($"CREATE_SESSION \"{name}\"", s, -1)) return false;
            var st = new SessionState(name, (int)s);
            _sessions.Add(st);
            Say(I($"session \"{name}\": CREATE_SESSION = fd {s}"));
            for (int j = 0; j < _o.Files; j++)
            {
                var data = new byte[_o.Size];
                rng.NextBytes(data);
                string mname = I($"{name}.{j}");
                long mfd = sys.MemfdCreate(_p, mname, 0);
                if (!Ok("memfd_create", mfd, -1) || !Ok("write", sys.Write(_p, (int)mfd, data), data.Length)) return false;
                var f = new FileState(mname, MemfdTokenBase + (ulong)j, data, (int)mfd);
                if (!Ok($"PRESERVE_FD {mname}", LibLiveupdatePreserve(st.Fd, f.Fd, f.Token))) return false;
                f.Pfns = [.. ((MemfdFile)_p.FileOf(f.Fd)!).Inode.Pages.Select(x => x.Pfn)];
                st.Memfds.Add(f);
                Say(I($"  memfd \"{mname}\" fd {mfd}: {data.Length} bytes, xxh64 {XxHash64.HashToUInt64(data):x16}, PRESERVE_FD token {H(f.Token)} = 0; folios pinned at pfn {Pfns(f.Pfns)}"));
            }
            st.GuardPayload = GuardPayloadBase + (ulong)i;
            long tf = sys.CreateTestFile(_p, st.GuardPayload, I($"guard-{i}"));
            if (!Ok("test file", tf, -1) || !Ok("PRESERVE_FD guard", LibLiveupdatePreserve(st.Fd, (int)tf, GuardToken))) return false;
            sys.Close(_p, (int)tf);
            Say(I($"  test file \"guard-{i}\" (payload {H(st.GuardPayload)}): PRESERVE_FD token {H(GuardToken)} = 0, then its fd is closed (LUO keeps a reference)"));
        }
        Say(I($"preserved: {_o.Sessions} session(s), {_o.Sessions * (_o.Files + 1)} file(s); KHO now tracks {_m.Kernel.Kho.PreservedBlocks().Count} preserved block(s)"));
        return true;
    }

    private static string Pfns(ulong[] pfns) => pfns.Length == 0 ? "(none: empty memfd)"
        : pfns.Length <= 4 ? string.Join(' ', pfns.Select(H)) : $"{H(pfns[0])} .. {H(pfns[^1])} ({pfns.Length} pages)";

    private long LibLiveupdateOpen() => _m.Sys.Open(_p, LibLiveupdate.DevicePath, OpenFlags.O_RDWR);

    private long Create(int dev, string name)
    {
        var b = LibLiveupdate.SessionStruct(name);
        long rc = _m.Sys.Ioctl(_p, dev, LiveupdateUapi.CreateSession, b);
        return rc < 0 ? rc : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
    }

    private long LibLiveupdatePreserve(int session, int fd, ulong token)
    {
        var b = new byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapi.TokenOffset), token);
        return _m.Sys.Ioctl(_p, session, LiveupdateUapi.PreserveFd, b);
    }

    /// <summary>Reads every memfd back from offset 0 through the syscalls and compares it with its data.</summary>
    private bool MemfdsIntact()
    {
        foreach (var f in _sessions.SelectMany(s => s.Memfds))
        {
            if (_m.Sys.Lseek(_p, f.Fd, 0, MemfdConsts.SEEK_SET) != 0) return false;
            if (_m.Sys.Read(_p, f.Fd, f.Data.Length, out byte[] got) != f.Data.Length || !got.AsSpan().SequenceEqual(f.Data)) return false;
        }
        return true;
    }

    private bool Rollback()
    {
        Section("3. An injected freeze failure is rolled back");
        var sys = _m.Sys;
        var k = _m.Kernel;
        int dev = _p.OpenFds.First(fd => _p.FdPath(fd) == LibLiveupdate.DevicePath);
        long canary = Create(dev, CanaryName);
        if (!Ok("CREATE_SESSION canary", canary, -1)) return false;
        for (int i = 0; i < CanaryFiles.Length; i++)
        {
            long tf = sys.CreateTestFile(_p, 0xC0A + (ulong)i, CanaryFiles[i]);
            if (!Ok("PRESERVE_FD " + CanaryFiles[i], LibLiveupdatePreserve((int)canary, (int)tf, 0xC0A + (ulong)i))) return false;
            sys.Close(_p, (int)tf);
        }
        Say(I($"session \"{CanaryName}\" (created last, so serialized last) with test files {string.Join(", ", CanaryFiles)}"));
        int nth = k.Faults.Count(FaultPoint.TestFreeze) + _sessions.Count + CanaryFiles.Length;
        k.Faults.FailNth(FaultPoint.TestFreeze, nth, Errno.EIO);
        Say(I($"fault injected: the freeze of {CanaryFiles[^1]} fails with -EIO (FaultPoint.TestFreeze call #{nth})"));
        var before = k.Luo.Snapshot();
        var handler = k.TestHandler!;
        handler.ClearLog();
        long rc = sys.Reboot(_p, ModelKernel.LINUX_REBOOT_CMD_KEXEC);
        Say("reboot(LINUX_REBOOT_CMD_KEXEC) = " + Syscalls.ResultText(rc) + I($"; kernel state: {k.State}"));
        if (rc != -(long)Errno.EIO) { _err.Write("luo demo: the injected failure did not surface\n"); return false; }
        Say("freeze order:   " + string.Join(", ", handler.Log.Where(r => r.Op == TestOp.Freeze).Select(r => r.Result == Errno.Ok ? r.Tag : r.Tag + " (" + r.Result + ")")));
        Say("unfreeze order: " + string.Join(", ", handler.Log.Where(r => r.Op == TestOp.Unfreeze).Select(r => r.Tag)));
        Say("                (files before the failure in the failing session forward, then earlier sessions in reverse;");
        Say("                 memfd has no unfreeze op, so its files are skipped in this list)");
        bool same = before.Equals(k.Luo.Snapshot());
        bool bytes = MemfdsIntact();
        Say("state after the rollback equals the state before (sessions, files, tokens, serialized data, preserved pages): " + (same ? "yes" : "NO"));
        Say("memfd contents read back through read(): " + (bytes ? "unchanged" : "CHANGED"));
        k.Faults.ClearRules();
        handler.ClearLog();
        if (!Ok("close(canary)", sys.Close(_p, (int)canary))) return false;
        Say("close(canary session) = 0: unpreserved " + string.Join(", ", handler.Log.Where(r => r.Op == TestOp.Unpreserve).Select(r => r.Tag)));
        return same && bytes;
    }
}
