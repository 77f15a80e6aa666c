using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Bench;

/// <summary>
/// Handover byte counts of an S×F case (sessions × one-page memfds), computed from the parameters in the host
/// process. Two counts (bench/README.md, section LUO, gives the formulas):
/// <list type="bullet">
/// <item><see cref="Written"/>: the bytes liveupdate_reboot() stores — root sessions_pa, FLB header, each block
/// header count, the 80-byte session and 64-byte file entries, and memfd_luo_freeze()'s pos field. The memcpy
/// baseline copies exactly this many bytes.</item>
/// <item><see cref="Handover"/>: the LUO metadata the next kernel reads — 32-byte root, 16-byte FLB header,
/// session and file blocks (16-byte headers + entries), 48-byte memfd records and 16-byte folio entries. The
/// memfd data pages are preserved in place and are not counted.</item>
/// </list>
/// </summary>
internal static class LuoHandoverBytes
{
    /// <summary>Session entries per block: (4096 − 16) / 80.</summary>
    public const int SessionsPerBlock = (PhysicalArena.PageSize - KhoBlockHeaderSer.Size) / LuoSessionSer.Size;
    /// <summary>File entries per block: (4096 − 16) / 64.</summary>
    public const int FilesPerBlock = (PhysicalArena.PageSize - KhoBlockHeaderSer.Size) / LuoFileSer.Size;

    private static long Blocks(long entries, int perBlock) => (entries + perBlock - 1) / perBlock;

    /// <summary>Bytes written by one serialization (see the class summary).</summary>
    public static long Written(int sessions, int files)
    {
        long sf = (long)sessions * files;
        return 8 + LuoFlbHeaderSer.Size
            + (8 * Blocks(sessions, SessionsPerBlock)) + ((long)LuoSessionSer.Size * sessions)
            + (8 * sessions * Blocks(files, FilesPerBlock)) + (LuoFileSer.Size * sf)
            + (8 * sf);
    }

    /// <summary>Handover bytes (see the class summary); every memfd holds one page, so one folio entry.</summary>
    public static long Handover(int sessions, int files)
    {
        long sf = (long)sessions * files;
        return LuoSerRoot.Size + LuoFlbHeaderSer.Size
            + (KhoBlockHeaderSer.Size * Blocks(sessions, SessionsPerBlock)) + ((long)LuoSessionSer.Size * sessions)
            + (KhoBlockHeaderSer.Size * sessions * Blocks(files, FilesPerBlock)) + (LuoFileSer.Size * sf)
            + (MemfdLuoSer.SizeV2 * sf) + (MemfdLuoFolioSer.Size * sf * LuoBenchMachine.MemfdPages);
    }

    /// <summary>Bytes one benchmark operation is credited with: Written for serialize and memcpy, Handover for
    /// preserve and the round trip.</summary>
    public static double PerOp(BenchmarkCase c)
    {
        int s = ThroughputColumn.Param(c, "Sessions"), f = ThroughputColumn.Param(c, "Files");
        string m = c.Descriptor.WorkloadMethod.Name;
        return m is "Preserve" or "RoundTrip" ? Handover(s, f) : Written(s, f);
    }
}

/// <summary>Columns: allocations and MB/s of <see cref="LuoHandoverBytes.PerOp"/>.</summary>
internal sealed class LuoBenchConfig : ManualConfig
{
    public LuoBenchConfig()
    {
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new ThroughputColumn("MB/s", LuoHandoverBytes.PerOp));
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
    }
}

/// <summary>
/// An S×F machine driven through the raw syscall surface (uAPI structs in user memory, <see cref="Kernel.Ioctl"/>):
/// one process, /dev/liveupdate, S sessions, S×F memfds of one written page each.
/// </summary>
internal sealed class LuoBenchMachine
{
    /// <summary>Pages per memfd.</summary>
    public const int MemfdPages = 1;
    private const ulong Nofile = 1 << 19;

    private readonly int _sessions, _files;
    private readonly byte[][] _names;
    private int[] _sessionFds = [];
    private int[] _memfds = [];
    private ulong _buf, _data;

    private LuoBenchMachine(int sessions, int files)
    {
        _sessions = sessions;
        _files = files;
        _names = new byte[sessions][];
        for (int i = 0; i < sessions; i++) _names[i] = System.Text.Encoding.ASCII.GetBytes($"bench-{i:D5}");
        K = Kernel.Kernel.ColdBoot(new KernelConfig());
        P = K.CreateProcess();
    }

    public Kernel.Kernel K { get; private set; }
    public Process P { get; private set; }
    public int Dev { get; private set; }

    /// <summary>Cold boot, process with RLIMIT_NOFILE raised, /dev/liveupdate open, S×F memfds written.</summary>
    public static LuoBenchMachine Create(int sessions, int files)
    {
        var m = new LuoBenchMachine(sessions, files);
        m.StartProcess();
        var page = new byte[MemfdPages * PhysicalArena.PageSize];
        for (int i = 0; i < page.Length; i++) page[i] = (byte)(i * 7);
        m._data = m.P.Memory.Map((ulong)page.Length, Prot.Read | Prot.Write);
        m.P.Memory.Poke(m._data, page);
        m._memfds = new int[sessions * files];
        for (int i = 0; i < m._memfds.Length; i++)
        {
            int fd = Check(m.K.MemfdCreate(m.P, "bench", 0), "memfd_create");
            Check(m.K.Write(m.P, fd, m._data, (ulong)page.Length), "write");
            m._memfds[i] = fd;
        }
        return m;
    }

    private void StartProcess()
    {
        Check(K.SetrlimitNofile(P, Nofile, Nofile), "setrlimit");
        _buf = P.Memory.Map(PhysicalArena.PageSize, Prot.Read | Prot.Write);
        Dev = Check(K.Open(P, Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR), "open /dev/liveupdate");
    }

    private static int Check(long rc, string what) =>
        rc >= 0 ? (int)rc : throw new InvalidOperationException($"{what} = {rc}");

    private int Ioctl(int fd, uint cmd, ReadOnlySpan<byte> arg, string what)
    {
        if (!P.Memory.TryWrite(_buf, arg)) throw new InvalidOperationException("user buffer");
        Check(K.Ioctl(P, fd, cmd, _buf), what);
        Span<byte> r = stackalloc byte[4];
        P.Memory.TryRead(_buf + LiveupdateUapi.FdOffset, r);
        return BinaryPrimitives.ReadInt32LittleEndian(r);
    }

    private int SessionIoctl(uint cmd, int i, string what)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.SessionStructSize];
        b.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.SessionStructSize);
        _names[i].CopyTo(b[LiveupdateUapi.NameOffset..]);
        return Ioctl(Dev, cmd, b, what);
    }

    private int FdIoctl(int sessionFd, uint cmd, int fd, ulong token, string what)
    {
        Span<byte> b = stackalloc byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteInt32LittleEndian(b[LiveupdateUapi.FdOffset..], fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b[LiveupdateUapi.TokenOffset..], token);
        return Ioctl(sessionFd, cmd, b, what);
    }

    /// <summary>CREATE_SESSION ×S, PRESERVE_FD ×S×F (token = file index + 1), then the memfds are closed (LUO
    /// keeps its reference), as the selftests do.</summary>
    public void PreserveAll()
    {
        _sessionFds = new int[_sessions];
        for (int i = 0; i < _sessions; i++)
        {
            int s = SessionIoctl(LiveupdateUapi.CreateSession, i, "CREATE_SESSION");
            _sessionFds[i] = s;
            for (int j = 0; j < _files; j++)
            {
                int fd = _memfds[(i * _files) + j];
                FdIoctl(s, LiveupdateUapi.PreserveFd, fd, (ulong)j + 1, "PRESERVE_FD");
                Check(K.Close(P, fd), "close memfd");
            }
        }
    }

    /// <summary>reboot(LINUX_REBOOT_CMD_KEXEC).</summary>
    public long Reboot() => K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC);

    /// <summary>kexec + boot, a new process, first open of /dev/liveupdate (deserialize), RETRIEVE_SESSION and
    /// RETRIEVE_FD of everything (fds stay open), FINISH of every session.</summary>
    public void KexecRetrieveFinish()
    {
        KexecOnly();
        RetrieveFinish();
    }

    /// <summary>kexec + boot of the next kernel.</summary>
    public void KexecOnly() => K = K.Kexec();

    /// <summary>A new process, first open (deserialize), retrieve everything, finish every session.</summary>
    public void RetrieveFinish()
    {
        P = K.CreateProcess();
        StartProcess();
        for (int i = 0; i < _sessions; i++)
        {
            int s = SessionIoctl(LiveupdateUapi.RetrieveSession, i, "RETRIEVE_SESSION");
            _sessionFds[i] = s;
            for (int j = 0; j < _files; j++) FdIoctl(s, LiveupdateUapi.RetrieveFd, 0, (ulong)j + 1, "RETRIEVE_FD");
        }
        Span<byte> fin = stackalloc byte[LiveupdateUapi.FinishStructSize];
        fin.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(fin, LiveupdateUapi.FinishStructSize);
        foreach (int s in _sessionFds) Ioctl(s, LiveupdateUapi.Finish, fin, "FINISH");
    }
}

/// <summary>
/// Steady-state serialization (issue 5 §7): <c>reboot(KEXEC)</c> on a kernel whose S sessions and S×F memfds are
/// already preserved, against a memcpy of the same number of bytes in the same run. Each invocation runs the real
/// liveupdate_reboot() path and then the model-only <see cref="Kernel.ThawAfterRebootForBench"/>, which only drops
/// the frozen flags: the next invocation serializes again over the same blocks and writes the same bytes. The
/// setup serializes once, so the sparse arena has materialised every block page (first-time cost: see
/// <see cref="LuoRoundTripBenchmarks.SerializeFirst"/>).
/// </summary>
[Config(typeof(LuoBenchConfig))]
public class LuoSerializeBenchmarks
{
    private LuoBenchMachine _m = null!;
    private byte[] _src = [], _dst = [];

    /// <summary>Sessions.</summary>
    [Params(16, 256, 4096)]
    public int Sessions { get; set; }

    /// <summary>Memfds per session.</summary>
    [Params(1, 16)]
    public int Files { get; set; }

    [GlobalSetup(Targets = [nameof(Serialize), nameof(RecordStoreFloor)])]
    public void SetupSerialize()
    {
        _m = LuoBenchMachine.Create(Sessions, Files);
        _m.PreserveAll();
        Serialize();
    }

    [GlobalSetup(Target = nameof(Memcpy))]
    public void SetupMemcpy()
    {
        int n = (int)LuoHandoverBytes.Written(Sessions, Files);
        _src = new byte[n];
        _dst = new byte[n];
        new Random(1).NextBytes(_src);
    }

    /// <summary>liveupdate_reboot() over the preserved set, then the model-only thaw.</summary>
    [Benchmark]
    public long Serialize()
    {
        long rc = _m.Reboot();
        if (rc != 0) throw new InvalidOperationException($"reboot(KEXEC) = {rc}");
        _m.K.ThawAfterRebootForBench();
        return rc;
    }

    /// <summary>memcpy of <see cref="LuoHandoverBytes.Written"/> bytes between two arrays.</summary>
    [Benchmark(Baseline = true)]
    public void Memcpy() => _src.AsSpan().CopyTo(_dst);

    /// <summary>Floor of the scattered part: only memfd_luo_freeze()'s 8-byte pos store into each file's own
    /// record page (S×F distinct arena pages, reached through the same luo_file list), nothing else.</summary>
    [Benchmark]
    public ulong RecordStoreFloor()
    {
        ulong sum = 0;
        var arena = _m.K.Arena;
        foreach (var s in _m.K.Luo.Outgoing.List)
            foreach (var f in s.FileList)
            {
                arena.WriteU64(f.SerializedData + MemfdLuoSer.PosOffset, (ulong)f.File!.Position);
                sum += f.SerializedData;
            }
        return sum;
    }
}

/// <summary>
/// Phases that consume the machine state, one fresh machine per iteration ([IterationSetup], one invocation):
/// preserve (setup cost, reported), the first serialization of a freshly preserved kernel, and the round trip
/// serialize + kexec + boot + first open (deserialize) + retrieve all + finish all.
/// </summary>
[Config(typeof(LuoBenchConfig))]
[InvocationCount(1)]
public class LuoRoundTripBenchmarks
{
    private LuoBenchMachine _m = null!;

    /// <summary>Sessions.</summary>
    [Params(16, 256, 4096)]
    public int Sessions { get; set; }

    /// <summary>Memfds per session.</summary>
    [Params(1, 16)]
    public int Files { get; set; }

    [IterationSetup(Target = nameof(Preserve))]
    public void SetupPreserve()
    {
        _m = LuoBenchMachine.Create(Sessions, Files);
        Collect();
    }

    [IterationSetup(Targets = [nameof(SerializeFirst), nameof(RoundTrip)])]
    public void SetupPreserved()
    {
        _m = LuoBenchMachine.Create(Sessions, Files);
        _m.PreserveAll();
        Collect();
    }

    [IterationCleanup]
    public void Cleanup() => _m = null!;

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>CREATE_SESSION ×S and PRESERVE_FD ×S×F (+ close of each memfd).</summary>
    [Benchmark]
    public void Preserve() => _m.PreserveAll();

    /// <summary>The first reboot(KEXEC) of a freshly preserved kernel (block pages materialised on first write).</summary>
    [Benchmark]
    public long SerializeFirst()
    {
        long rc = _m.Reboot();
        return rc == 0 ? rc : throw new InvalidOperationException($"reboot(KEXEC) = {rc}");
    }

    /// <summary>Serialize + kexec + boot + first open + retrieve all + finish all.</summary>
    [Benchmark]
    public void RoundTrip()
    {
        long rc = _m.Reboot();
        if (rc != 0) throw new InvalidOperationException($"reboot(KEXEC) = {rc}");
        _m.KexecRetrieveFinish();
    }
}
