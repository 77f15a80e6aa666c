using System.Buffers.Binary;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Histories;

/// <summary>Generators of trace operations with realistic and hostile argument distributions, driven by the
/// abstract model (which fds exist, which sessions, tokens and names are in use).</summary>
internal static class LuoGen
{
    private static Gen<T> W<T>(params (int Weight, Gen<T> Gen)[] g) => Gen.Frequency(g.Where(x => x.Weight > 0).ToArray());

    /// <summary>A weighted choice that builds only the chosen branch's generator.</summary>
    private static Gen<T> Lazy<T>(params (int Weight, Func<Gen<T>> Make)[] g)
    {
        var live = g.Where(x => x.Weight > 0).ToArray();
        return Gen.Frequency(live.Select((x, i) => (x.Weight, Gen.Constant(i))).ToArray()).SelectMany(i => live[i].Make());
    }
    private static Gen<T> C<T>(T v) => Gen.Constant(v);

    private static readonly string[] NamePool = ["a", "b", "c", "sess", "session-with-a-long-name", "x", new string('n', 63)];

    private static int[] FdsOf(Model m, DKind kind) => [.. m.Fds.Where(kv => m.Descs[kv.Value].Kind == kind).Select(kv => kv.Key)];
    private static int[] OutSessionFds(Model m) => [.. m.Fds.Where(kv => m.Out.Any(s => s.Desc == kv.Value)).Select(kv => kv.Key)];
    private static int[] InSessionFds(Model m) => [.. m.Fds.Where(kv => m.In.Any(s => s.Desc == kv.Value)).Select(kv => kv.Key)];

    /// <summary>An existing fd of a kind, or a stale/odd one.</summary>
    private static Gen<int> Fd(int[] fds, Model m) =>
        W((fds.Length > 0 ? 12 : 0, fds.Length > 0 ? Gen.Elements(fds) : C(0)),
          (m.Fds.Count > 0 ? 2 : 0, m.Fds.Count > 0 ? Gen.Elements(m.Fds.Keys.ToArray()) : C(0)),
          (1, Gen.Elements(-1, 99, m.Fds.Count + 1)));

    private static Gen<(BufPlace, int)> Place =>
        W((88, C((BufPlace.Rw, 0))), (3, C((BufPlace.Ro, 0))),
          (4, Gen.Elements(4, 8, 12, 16, 40).Select(s => (BufPlace.RwRo, s))),
          (3, Gen.Elements(2, 8, 20).Select(s => (BufPlace.RoHole, s))), (2, C((BufPlace.Hole, 0))));

    /// <summary>The size field: mostly the struct size, sometimes too small, larger with a zero or dirty tail.</summary>
    private static Gen<(uint Size, int TailDirt)> Size(int natural) =>
        W((85, C(((uint)natural, 0))),
          (4, Gen.Elements(0u, 4u, (uint)natural - 1).Select(s => (s, 0))),
          (5, Gen.Elements((uint)natural + 1, (uint)natural + 8, 100u, 5000u, 20000u).Select(s => (s, 0))),
          (6, Gen.Elements((uint)natural + 1, (uint)natural + 8, 100u, 5000u).SelectMany(s => Gen.Choose(natural, (int)s - 1).Select(d => (s, d + 1)))));

    private static byte[] Struct(int natural, uint size, int tailDirt)
    {
        int len = tailDirt > 0 ? Math.Max(natural, tailDirt) : natural;
        var b = new byte[len];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        if (tailDirt > 0) b[tailDirt - 1] = 0x5A;
        return b;
    }

    private static Gen<byte[]> NameField(Model m) =>
        W((10, Gen.Elements(NamePool).Select(Encoding.ASCII.GetBytes)),
          (m.Out.Count > 0 ? 5 : 0, Gen.Elements(m.Out.Count > 0 ? m.Out.Select(s => s.Name).ToArray() : [new byte[64]]).Select(n => n[..Array.IndexOf(n, (byte)0)])),
          (m.In.Count > 0 ? 3 : 0, Gen.Elements(m.In.Count > 0 ? m.In.Select(s => s.Name).ToArray() : [new byte[64]]).Select(n => n[..Array.IndexOf(n, (byte)0)])),
          (1, C(Array.Empty<byte>())),
          (1, C(Enumerable.Repeat((byte)'u', 64).ToArray())),
          (1, C("a\0junk"u8.ToArray())),
          (1, Gen.Choose(0, 60).Select(i => Encoding.ASCII.GetBytes($"bulk-{i}"))));

    private static Gen<TraceOp> Ioctl(Gen<int> fd, uint cmd, int natural, Gen<Action<byte[]>> fill) =>
        from f in fd
        from pl in Place
        from sz in Size(natural)
        from fl in fill
        select (TraceOp)new IoctlOp(f, cmd, pl.Item1, pl.Item2, Apply(Struct(natural, sz.Size, sz.TailDirt), fl));

    private static byte[] Apply(byte[] b, Action<byte[]> a) { a(b); return b; }

    private static Gen<TraceOp> Create(Model m, uint cmd) =>
        Ioctl(Fd(FdsOf(m, DKind.Device), m), cmd, 72,
            from n in NameField(m)
            from junk in W((9, C(0)), (1, Gen.Choose(1, 255)))
            select (Action<byte[]>)(b => { n.AsSpan(0, Math.Min(n.Length, 64)).CopyTo(b.AsSpan(8)); BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), junk); }));

    private static ulong[] TokensIn(Model m) => [.. m.In.SelectMany(s => s.Files).Select(f => f.Token).Concat(m.Out.SelectMany(s => s.Files).Select(f => f.Token)).Distinct()];

    private static Gen<ulong> Token(Model m) =>
        W((6, Gen.Choose(1, 8).Select(i => (ulong)i)), (2, C(0UL)), (1, C(ulong.MaxValue)),
          (TokensIn(m).Length > 0 ? 4 : 0, Gen.Elements(TokensIn(m).DefaultIfEmpty(1UL).ToArray())));

    private static Gen<TraceOp> Preserve(Model m)
    {
        int[] files = [.. FdsOf(m, DKind.Memfd), .. FdsOf(m, DKind.Test)];
        var sessFd = W((10, Fd(OutSessionFds(m), m)), (1, Fd(InSessionFds(m), m)));
        var target = W((12, files.Length > 0 ? Gen.Elements(files) : C(-1)), (1, Gen.Elements(m.Fds.Keys.DefaultIfEmpty(0).ToArray())), (1, Gen.Elements(-1, 77)));
        return Ioctl(sessFd, LiveupdateUapi.PreserveFd, 16,
            from f in target from t in Token(m)
            select (Action<byte[]>)(b => { BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), f); BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), t); }));
    }

    private static Gen<TraceOp> RetrieveFd(Model m) =>
        Ioctl(W((10, Fd(InSessionFds(m), m)), (1, Fd(OutSessionFds(m), m))), LiveupdateUapi.RetrieveFd, 16,
            Token(m).Select(t => (Action<byte[]>)(b => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), t))));

    private static Gen<TraceOp> Finish(Model m) =>
        Ioctl(W((10, Fd(InSessionFds(m), m)), (1, Fd(OutSessionFds(m), m))), LiveupdateUapi.Finish, 8,
            W((9, C(0u)), (1, C(7u))).Select(r => (Action<byte[]>)(b => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), r))));

    private static Gen<TraceOp> GetName(Model m) =>
        from f in Fd([.. OutSessionFds(m), .. InSessionFds(m)], m)
        from pl in Place
        from size in Gen.Elements(72u, 72u, 72u, 16u, 20u, 40u, 15u, 100u)
        from reserved in W((9, C(0u)), (1, C(3u)))
        from junk in W((9, C(false)), (1, C(true)))
        select (TraceOp)new IoctlOp(f, LiveupdateUapi.GetName, pl.Item1, pl.Item2, GetNameBytes(size, reserved, junk));

    private static byte[] GetNameBytes(uint size, uint reserved, bool junk)
    {
        var b = new byte[Math.Max(72, (int)size)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), reserved);
        if (junk) b[30] = 0x41;
        return b;
    }

    private static readonly uint[] RawCmds = [0xBA00, 0xBA01, 0xBA02, 0xBA05, 0xBA40, 0xBA41, 0xBA42, 0xBA43, 0xBA44, 0xBA3F, 0xC048BA00, 0x4010BA40, 0xAB00, FcntlCmd.FIOCLEX];

    private static Gen<TraceOp> Raw(Model m) =>
        from f in Gen.Elements(m.Fds.Keys.DefaultIfEmpty(0).Append(-1).ToArray())
        from cmd in Gen.Elements(RawCmds)
        from pl in Place
        from len in Gen.Elements(4, 8, 16, 72, 80)
        from bytes in Gen.Choose(0, 255).ArrayOf(len)
        from size in Gen.Elements(8u, 16u, 72u, 4u, 1000u)
        select (TraceOp)new IoctlOp(f, cmd, pl.Item1, pl.Item2, Apply(bytes.Select(x => (byte)x).ToArray(), b => BinaryPrimitives.WriteUInt32LittleEndian(b, size)));

    private static readonly (FaultPoint Point, int Weight, Errno[] Errors)[] Faults =
    [
        (FaultPoint.TestFreeze, 12, [Errno.EIO, Errno.EBUSY, Errno.ENOMEM, Errno.EINVAL]),
        (FaultPoint.FileReserveEntry, 3, [Errno.ENOSPC]), (FaultPoint.SessionReserveEntry, 3, [Errno.ENOSPC]),
        (FaultPoint.SessionBlockGrow, 3, [Errno.ENOMEM, Errno.ENOSPC]), (FaultPoint.FileBlockGrow, 3, [Errno.ENOMEM, Errno.ENOSPC]),
        (FaultPoint.SessionAlloc, 1, [Errno.ENOMEM]), (FaultPoint.SessionFileAlloc, 2, [Errno.ENOMEM, Errno.EMFILE]),
        (FaultPoint.RegistryInsert, 1, [Errno.ENOMEM]), (FaultPoint.FileRecordAlloc, 1, [Errno.ENOMEM]), (FaultPoint.FlbPreserve, 1, [Errno.ENOMEM, Errno.EIO]),
        (FaultPoint.MemfdPreserveAlloc, 1, [Errno.ENOMEM]), (FaultPoint.MemfdFolioAlloc, 1, [Errno.ENOMEM]), (FaultPoint.MemfdFolioPreserve, 2, [Errno.ENOMEM]),
        (FaultPoint.MemfdArrayAlloc, 1, [Errno.ENOMEM]), (FaultPoint.MemfdVmallocPreserve, 1, [Errno.ENOMEM]),
        (FaultPoint.RetrieveAlloc, 2, [Errno.ENOMEM]), (FaultPoint.MemfdFolioRestore, 2, [Errno.EIO]), (FaultPoint.KhoAllocPreserve, 2, [Errno.ENOMEM]),
        (FaultPoint.TestPreserve, 2, [Errno.EIO, Errno.ENOMEM]), (FaultPoint.TestRetrieve, 3, [Errno.EIO, Errno.ENOENT]), (FaultPoint.TestCanFinish, 3, [Errno.EBUSY]),
        (FaultPoint.DeserializeSessionAlloc, 1, [Errno.ENOMEM]), (FaultPoint.DeserializeFileAlloc, 1, [Errno.ENOMEM]), (FaultPoint.LateInitAlloc, 1, [Errno.ENOMEM]),
    ];

    private static Gen<TraceOp> Arm =>
        from f in Gen.Frequency(Faults.Select(x => (x.Weight, Gen.Constant(x))).ToArray())
        from e in Gen.Elements(f.Errors)
        from n in W((6, C(1)), (3, C(2)), (2, C(3)), (1, C(5)))
        select (TraceOp)new FailNthOp(f.Point, n, e);

    private static Gen<TraceOp> MemfdOps(Model m)
    {
        var mfd = Fd(FdsOf(m, DKind.Memfd), m);
        return W(
            (5, Gen.Elements(0u, MemfdConsts.MFD_ALLOW_SEALING, MemfdConsts.MFD_CLOEXEC, MemfdConsts.MFD_HUGETLB, 8u).Select(fl => (TraceOp)new MemfdCreateOp("m", fl))),
            (6, from f in mfd from n in Gen.Elements(1, 5, 100, 4096, 5000) from c in Gen.Choose(0x20, 0x7e)
                select (TraceOp)new WriteOp(f, Enumerable.Repeat((byte)c, n).ToArray())),
            (2, from f in mfd from len in Gen.Elements(0L, 100L, 4096L, 9000L, -1L) select (TraceOp)new FtruncateOp(f, len)),
            (2, from f in mfd from s in Gen.Elements(Seals.F_SEAL_SEAL, Seals.F_SEAL_GROW, Seals.F_SEAL_WRITE, Seals.F_SEAL_SHRINK, 0x40u) select (TraceOp)new AddSealsOp(f, s)),
            (2, from f in mfd from off in Gen.Elements(0L, 3L, 4096L, -5L) from wh in Gen.Elements(0, 1, 2, 7) select (TraceOp)new LseekOp(f, off, wh)),
            (2, from f in mfd from off in Gen.Elements(0L, 2L, 4095L, -1L) select (TraceOp)new PreadOp(f, 6000, off)));
    }

    /// <summary>The next operation(s) for the model state.</summary>
    public static Gen<TraceOp[]> Next(Model m)
    {
        if (m.Phase == Phase.Panicked) return C<TraceOp[]>([new ColdBootOp()]);
        Gen<TraceOp[]> One(Gen<TraceOp> g) => g.Select(o => new[] { o });
        var sessionFds = m.Phase == Phase.Frozen ? OutSessionFds(m).Concat(InSessionFds(m)).ToArray() : [];
        if (m.Phase == Phase.Frozen)
            return Lazy<TraceOp[]>(
                (20, () => C<TraceOp[]>([new KexecOp()])),
                (2, () => Gen.Elements(CorruptKind.RootCompatible, CorruptKind.FileCount).Select(k => new TraceOp[] { new CorruptOp(k) })),
                (3, () => One(W((1, Preserve(m)), (1, GetName(m)), (1, Finish(m)), (1, Create(m, LiveupdateUapi.CreateSession))))),
                (sessionFds.Length > 0 ? 2 : 0, () => One(Gen.Elements(sessionFds).Select(f => (TraceOp)new CloseOp(f)))),
                (1, () => C<TraceOp[]>([new RebootOp(Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC)])),
                (1, () => One(MemfdOps(m))));
        bool hasDev = FdsOf(m, DKind.Device).Length > 0;
        int rebootWeight = m.SinceBoot < 8 ? 1 : 30;
        return Lazy<TraceOp[]>(
            (hasDev ? 2 : 10, () => One(W((8, C((TraceOp)new OpenOp(Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR))),
                (1, C((TraceOp)new OpenOp(Kernel.Kernel.LiveupdatePath, OpenFlags.O_PATH))), (1, C((TraceOp)new OpenOp("/dev/null", OpenFlags.O_RDWR)))))),
            (5, () => One(Fd([.. m.Fds.Keys], m).Select(f => (TraceOp)new CloseOp(f)))),
            (2, () => One(Fd([.. m.Fds.Keys], m).Select(f => (TraceOp)new DupOp(f)))),
            (12, () => One(Create(m, LiveupdateUapi.CreateSession))),
            (m.Out.Count < 4 ? 10 : 3, () => Populate(m)),
            (m.In.Any(x => x.State == IState.Pending) || (m.Pending.Count > 0 && !m.Deserialized) ? 14 : 0, () => Restore(m)),
            (m.Out.Count is > 10 and < 51 ? 3 : m.Out.Count < 51 ? 1 : 0, () => C(Bulk(m))),
            (m.In.Count > 0 ? 8 : 1, () => One(Create(m, LiveupdateUapi.RetrieveSession))),
            (14, () => One(Preserve(m))),
            (m.In.Count > 0 ? 10 : 1, () => One(RetrieveFd(m))),
            (m.In.Count > 0 ? 5 : 1, () => One(Finish(m))),
            (4, () => One(GetName(m))),
            (3, () => One(Raw(m))),
            (10, () => One(MemfdOps(m))),
            (6, () => One(Gen.Choose(1, 0xFFF).Select(p => (TraceOp)new TestFileOp((ulong)p)))),
            (3, () => One(from f in Fd(FdsOf(m, DKind.Test), m)
                    from ff in W((3, C(Errno.Ok)), (2, C(Errno.EIO)), (1, C(Errno.ENOMEM)))
                    from rp in W((5, C(false)), (1, C(true)))
                    from rf in W((3, C(false)), (1, C(true)))
                    select (TraceOp)new TestFileFlagsOp(f, ff, rp, rf))),
            (7, () => One(Arm)),
            (3, () => One(from i in Gen.Choose(0, 15) from o in Gen.Elements(0, 0, 1, 2) from u in W((3, C(false)), (1, C(true)))
                    select (TraceOp)new KhoFolioOp(i & ~((1 << o) - 1), o, u))),
            (m.Heads.Count > 0 ? 3 : 0, () => One(Gen.Elements(m.Heads.Keys.Append(15).ToArray()).Select(i => (TraceOp)new KhoRestoreOp(i)))),
            (1, () => One(Gen.Elements(false, true).Select(p => (TraceOp)new FlbIncomingOp(p)))),
            (1, () => One(Gen.Elements((ulong)m.Fds.Count, (ulong)m.Fds.Count + 1, 1024UL).Select(s => (TraceOp)new SetrlimitOp(s)))),
            (rebootWeight, () => One(W((20, C(Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC)), (1, C(Kernel.Kernel.LINUX_REBOOT_CMD_RESTART))).Select(c => (TraceOp)new RebootOp(c)))));
    }

    private static byte[] SessionArg(string name)
    {
        var b = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 72);
        Encoding.ASCII.GetBytes(name).CopyTo(b, 8);
        return b;
    }

    private static byte[] FdArg(int fd, ulong token)
    {
        var b = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 16);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), token);
        return b;
    }

    /// <summary>Threads the model through a macro while it is built, so later calls use the fds earlier
    /// calls return.</summary>
    private sealed class Macro(Model m)
    {
        public Model M { get; private set; } = m;
        public List<TraceOp> Ops { get; } = [];
        public long Do(TraceOp op)
        {
            Ops.Add(op);
            M = ModelStep.Run(M, op);
            return M.Last.Value;
        }
        public int Device()
        {
            int dev = M.Fds.FirstOrDefault(kv => M.Descs[kv.Value].Kind == DKind.Device, new(-1, 0)).Key;
            return dev >= 0 ? dev : (int)Do(new OpenOp(Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR));
        }
    }

    /// <summary>A realistic outgoing setup: a session with a few test files and memfds preserved.</summary>
    private static Gen<TraceOp[]> Populate(Model m) =>
        from files in Gen.Choose(1, 4)
        from kinds in Gen.Choose(0, 2).ArrayOf(files)
        from payload in Gen.Choose(1, 0xFFF)
        from text in Gen.Elements("x", "hello", new string('z', 5000))
        select BuildPopulate(m, kinds, payload, text);

    private static TraceOp[] BuildPopulate(Model m, int[] kinds, int payload, string text)
    {
        var b = new Macro(m);
        int dev = b.Device();
        long rc = b.Do(new IoctlOp(dev, LiveupdateUapi.CreateSession, BufPlace.Rw, 0, SessionArg($"p{b.M.NextDesc}")));
        if (rc != 0) return [.. b.Ops];
        int sfd = BinaryPrimitives.ReadInt32LittleEndian(b.M.Last.Data.AsSpan(4));
        for (int i = 0; i < kinds.Length; i++)
        {
            long fd;
            if (kinds[i] == 0)
            {
                fd = b.Do(new MemfdCreateOp("m", MemfdConsts.MFD_ALLOW_SEALING));
                if (fd >= 0) b.Do(new WriteOp((int)fd, Encoding.ASCII.GetBytes(text)));
            }
            else fd = b.Do(new TestFileOp((ulong)(payload + i)));
            if (fd >= 0) b.Do(new IoctlOp(sfd, LiveupdateUapi.PreserveFd, BufPlace.Rw, 0, FdArg((int)fd, (ulong)(i + 1))));
        }
        return [.. b.Ops];
    }

    /// <summary>A realistic restore: open, retrieve a handed-over session and its files, maybe finish.</summary>
    private static Gen<TraceOp[]> Restore(Model m) =>
        from pick in Gen.Choose(0, 1000)
        from finish in Gen.Elements(false, false, true)
        select BuildRestore(m, pick, finish);

    private static TraceOp[] BuildRestore(Model m, int pick, bool finish)
    {
        var b = new Macro(m);
        int dev = b.Device();
        var pending = b.M.In.Where(s => s.State == IState.Pending).ToList();
        if (dev < 0 || pending.Count == 0) return [.. b.Ops.DefaultIfEmpty(new OpenOp(Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR))];
        var s = pending[pick % pending.Count];
        var arg = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(arg, 72);
        TraceProbes.Trim(s.Name).CopyTo(arg, 8);
        long rc = b.Do(new IoctlOp(dev, LiveupdateUapi.RetrieveSession, BufPlace.Rw, 0, arg));
        if (rc != 0) return [.. b.Ops];
        int sfd = BinaryPrimitives.ReadInt32LittleEndian(b.M.Last.Data.AsSpan(4));
        foreach (var f in s.Files) b.Do(new IoctlOp(sfd, LiveupdateUapi.RetrieveFd, BufPlace.Rw, 0, FdArg(0, f.Token)));
        if (finish)
        {
            var fin = new byte[8];
            fin[0] = 8;
            b.Do(new IoctlOp(sfd, LiveupdateUapi.Finish, BufPlace.Rw, 0, fin));
        }
        return [.. b.Ops];
    }

    /// <summary>A device fd (opened if needed) and enough sessions to fill the first session block.</summary>
    private static TraceOp[] Bulk(Model m)
    {
        var ops = new List<TraceOp>();
        int dev = m.Fds.FirstOrDefault(kv => m.Descs[kv.Value].Kind == DKind.Device, new(-1, 0)).Key;
        if (dev < 0)
        {
            dev = 0;
            while (m.Fds.ContainsKey(dev)) dev++;
            ops.Add(new OpenOp(Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR));
        }
        for (int i = m.Out.Count; i < 51; i++)
        {
            var b = new byte[72];
            BinaryPrimitives.WriteUInt32LittleEndian(b, 72);
            Encoding.ASCII.GetBytes($"bulk-{i}").CopyTo(b, 8);
            ops.Add(new IoctlOp(dev, LiveupdateUapi.CreateSession, BufPlace.Rw, 0, b));
        }
        return [.. ops];
    }
}
