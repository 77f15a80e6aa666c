using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Handover;

/// <summary>A memfd the demo preserves: session, token, contents, file offset at freeze, seals.</summary>
public sealed record DemoMemfd(string Session, ulong Token, byte[] Content, long Pos, uint Seals);

/// <summary>Per preserved memfd: where its metadata and data pages are (filled while building).</summary>
public sealed record DemoMemfdLayout(string Session, ulong Token, ulong RecordPhys, IReadOnlyList<ulong> ArrayPages,
    IReadOnlyList<ulong> ChunkPages, IReadOnlyList<ulong> DataPfns);

/// <summary>
/// A handover like the demo's: a few sessions holding memfds (one empty session, a session with two memfds, a
/// sealed memfd with a written hole, an empty memfd), serialized by reboot(KEXEC) and handed over by KHO
/// (the scratch array written, memory scrubbed), saved as an arena image with the map of every LUO/KHO
/// metadata structure. Deterministic: the same ABI gives the same bytes.
/// </summary>
public sealed class DemoHandover
{
    /// <summary>DRAM of the demo machine (sparse).</summary>
    public const ulong DramBytes = 1UL << 30;

    private DemoHandover(LuoAbi abi, KernelConfig config, byte[] image, KexecHandoff handoff, List<MetadataRegion> regions,
        List<DemoMemfdLayout> memfds, HashSet<ulong> knownPages)
    {
        Abi = abi;
        Config = config;
        Image = image;
        Handoff = handoff;
        Regions = regions;
        Memfds = memfds;
        KnownPages = knownPages;
    }

    /// <summary>The memfds preserved, in session then preservation order.</summary>
    public static IReadOnlyList<DemoMemfd> Contents { get; } =
    [
        new("vm-1", 0x1, Encoding.ASCII.GetBytes("hello, liveupdate\n"), 6, 0),
        new("vm-1", 0x2, Pattern(3 * 4096 + 100, 7), 4096, 0),
        new("vm-2", 0x7, [.. new byte[8192], .. Encoding.ASCII.GetBytes("after a hole")], 0, Seals.F_SEAL_SHRINK | Seals.F_SEAL_GROW),
        new("vm-3", 0xdead, [], 0, 0),
    ];

    /// <summary>Sessions in creation order ("idle" has no files).</summary>
    public static IReadOnlyList<string> SessionNames { get; } = ["vm-1", "idle", "vm-2", "vm-3"];

    /// <summary>ABI of the handover.</summary>
    public LuoAbi Abi { get; }
    /// <summary>Configuration to boot the next kernel with.</summary>
    public KernelConfig Config { get; }
    /// <summary>Arena image right after the kexec (ArenaImage format).</summary>
    public byte[] Image { get; }
    /// <summary>Values the kexec passed.</summary>
    public KexecHandoff Handoff { get; }
    /// <summary>Every metadata structure, KHO first, then LUO in chain order, then memfd data pages.</summary>
    public IReadOnlyList<MetadataRegion> Regions { get; }
    /// <summary>Layout of each preserved memfd.</summary>
    public IReadOnlyList<DemoMemfdLayout> Memfds { get; }
    /// <summary>Page addresses the handover legitimately refers to (preserved blocks' pages, map pages,
    /// scratch-array pages): a pointer elsewhere is wild.</summary>
    public IReadOnlySet<ulong> KnownPages { get; }

    private static readonly Dictionary<LuoAbi, DemoHandover> s_cache = [];
    private static readonly Lock s_lock = new();

    /// <summary>The demo handover for <paramref name="abi"/> (built once per process).</summary>
    public static DemoHandover Get(LuoAbi abi = LuoAbi.LuoV5)
    {
        lock (s_lock)
        {
            if (!s_cache.TryGetValue(abi, out var h)) s_cache[abi] = h = Build(abi);
            return h;
        }
    }

    /// <summary>A fresh copy of the handed-over arena.</summary>
    public PhysicalArena LoadArena()
    {
        if (ArenaImage.TryLoad(Image, out var a, out string msg) != ArenaImageError.None || a is null)
            throw new InvalidOperationException("demo image does not load: " + msg);
        return a;
    }

    /// <summary>Boots the next kernel over <paramref name="arena"/> with this handover's handoff values.</summary>
    public LuoModel.Kernel.Kernel Boot(PhysicalArena arena) => LuoModel.Kernel.Kernel.BootFromHandoff(arena, Handoff, Config);

    /// <summary>Regions of the given kinds concatenated (the fuzzers' input layout).</summary>
    public byte[] Concat(PhysicalArena arena, Func<MetaKind, bool> include)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(include);
        using var ms = new MemoryStream();
        foreach (var r in Regions)
        {
            if (!include(r.Kind)) continue;
            var b = new byte[r.Length];
            arena.Read(r.Phys, b);
            ms.Write(b);
        }
        return ms.ToArray();
    }

    /// <summary>Writes <paramref name="input"/> over the concatenated regions of the given kinds (a shorter
    /// input changes only a prefix; extra bytes are ignored). Inverse of <see cref="Concat"/>.</summary>
    public void Apply(PhysicalArena arena, ReadOnlySpan<byte> input, Func<MetaKind, bool> include)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(include);
        foreach (var r in Regions)
        {
            if (input.IsEmpty) return;
            if (!include(r.Kind)) continue;
            int n = Math.Min(r.Length, input.Length);
            arena.Write(r.Phys, input[..n]);
            input = input[n..];
        }
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)((i * 31) + seed + (i >> 8));
        return b;
    }

    private static DemoHandover Build(LuoAbi abi)
    {
        var config = new KernelConfig { DramBytes = DramBytes, Luo = new LuoOptions { Abi = abi } };
        var k = LuoModel.Kernel.Kernel.ColdBoot(config);
        var p = k.CreateProcess();
        int dev = (int)Check(LuoSyscalls.OpenDevice(k, p), "open /dev/liveupdate");
        var sessionFds = new Dictionary<string, int>();
        foreach (string name in SessionNames)
        {
            Check(LuoSyscalls.CreateSession(k, p, dev, name, out int fd), "create " + name);
            sessionFds[name] = fd;
        }
        foreach (var m in Contents)
        {
            int fd = (int)Check(k.MemfdCreate(p, "demo", MemfdConsts.MFD_ALLOW_SEALING), "memfd_create");
            if (m.Content.Length > 0) Check(LuoSyscalls.WriteBytes(k, p, fd, m.Content), "write");
            Check(k.Lseek(p, fd, m.Pos, MemfdConsts.SEEK_SET), "lseek");
            if (m.Seals != 0) Check(k.Fcntl(p, fd, FcntlCmd.F_ADD_SEALS, m.Seals), "seal");
            Check(LuoSyscalls.PreserveFd(k, p, sessionFds[m.Session], fd, m.Token), "preserve");
            Check(k.Close(p, fd), "close");
        }
        Check(k.Reboot(p, LuoModel.Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC), "reboot");
        var regions = new List<MetadataRegion>();
        var memfds = new List<DemoMemfdLayout>();
        CollectLuo(k, abi, regions, memfds);
        var known = new HashSet<ulong>();
        foreach (var (phys, order) in k.Kho.PreservedBlocks())
            for (ulong i = 0; i < 1UL << order; i++) known.Add(phys + (i << PhysicalArena.PageShift));
        if (k.Kho.Kexec(out var handoff) != Errno.Ok || handoff is null) throw new InvalidOperationException("demo kexec failed");
        var kho = new List<MetadataRegion>();
        if (abi == LuoAbi.LuoV5)
        {
            byte[] fdt = k.Kho.OutgoingFdt();
            kho.Add(new(MetaKind.KhoFdt, k.Kho.FdtPhys, (int)LuoModel.Fdt.Fdt.TotalSize(fdt), "kho root"));
            var levels = new LevelVisitor([]);
            RadixTree.Walk(k.Arena, k.Kho.Tree!.Root, ref levels, null, out _);
            foreach (ulong page in k.Kho.Tree.NodePages)
            {
                int level = levels.Levels.GetValueOrDefault(page, -1);
                kho.Add(new(MetaKind.RadixPage, page, PhysicalArena.PageSize, level == 0 ? "radix leaf" : $"radix table L{level}"));
                known.Add(page);
            }
        }
        kho.Add(new(MetaKind.ScratchArray, handoff.Value.ScratchPhys, (int)handoff.Value.ScratchLen, "scratch array"));
        known.Add(handoff.Value.ScratchPhys & ~(ulong)(PhysicalArena.PageSize - 1));
        regions.InsertRange(0, kho);
        using var ms = new MemoryStream();
        ArenaImage.Save(k.Arena, ms);
        return new DemoHandover(abi, config, ms.ToArray(), handoff.Value, regions, memfds, known);
    }

    private static void CollectLuo(LuoModel.Kernel.Kernel k, LuoAbi abi, List<MetadataRegion> regions, List<DemoMemfdLayout> memfds)
    {
        var luo = k.Luo;
        var arena = k.Arena;
        if (abi == LuoAbi.LuoV5)
        {
            regions.Add(new(MetaKind.LuoRoot, luo.OutRootPhys, LuoSerRoot.Size, "luo_ser"));
            var blocks = luo.Outgoing.Blocks!.Blocks;
            for (int b = 0; b < blocks.Count; b++)
            {
                ulong count = arena.ReadU64(blocks[b] + KhoBlockHeaderSer.CountOffset);
                regions.Add(new(MetaKind.SessionBlock, blocks[b], KhoBlockHeaderSer.Size + ((int)count * LuoSessionSer.Size), $"session block {b}"));
            }
        }
        else
        {
            byte[] fdt = new byte[PhysicalArena.PageSize];
            arena.Read(luo.OutRootPhys, fdt);
            regions.Add(new(MetaKind.LuoFdt, luo.OutRootPhys, (int)LuoModel.Fdt.Fdt.TotalSize(fdt), "luo-v1 fdt"));
            regions.Add(new(MetaKind.FdtSessionArea, luo.FdtSessionArea, 8 + (luo.Outgoing.Count * LuoSessionSer.Size), "session area"));
        }
        foreach (var s in luo.Outgoing.Sessions)
        {
            if (s.FileBlocks is { } fb)
                for (int b = 0; b < fb.Blocks.Count; b++)
                {
                    ulong count = arena.ReadU64(fb.Blocks[b] + KhoBlockHeaderSer.CountOffset);
                    regions.Add(new(MetaKind.FileBlock, fb.Blocks[b], KhoBlockHeaderSer.Size + ((int)count * LuoFileSer.Size), $"session {s.Name} file block {b}"));
                }
            else if (s.FdtFileArea != 0)
                regions.Add(new(MetaKind.FdtFileArea, s.FdtFileArea, s.Files.Count * LuoFileSer.Size, $"session {s.Name} file area"));
        }
        var data = new List<MetadataRegion>();
        foreach (var s in luo.Outgoing.Sessions)
            foreach (var f in s.Files)
            {
                if (f.PrivateData is not MemfdPrivate priv) continue;
                string who = $"session {s.Name} memfd 0x{f.Token:x}";
                regions.Add(new(MetaKind.MemfdRecord, priv.SerPhys, luo.Options.MemfdVersion == MemfdVersion.V2 ? MemfdLuoSer.SizeV2 : MemfdLuoSer.SizeV1, who));
                var array = new List<ulong>();
                var chunks = new List<ulong>();
                if (priv.ArrayAddr != 0 && k.Kho.Vmalloc.Find(priv.ArrayAddr) is { } area)
                {
                    for (int i = 0; i < area.Pages.Count; i++)
                    {
                        int used = Math.Min(PhysicalArena.PageSize, (priv.Folios.Count * MemfdLuoFolioSer.Size) - (i * PhysicalArena.PageSize));
                        regions.Add(new(MetaKind.FolioArray, area.Pages[i], used, $"{who} folio array page {i}"));
                        array.Add(area.Pages[i]);
                    }
                    int listed = area.Pages.Count;
                    for (ulong c = priv.Descriptor.First; c != 0; c = arena.ReadU64(c + KhoVmallocChunk.NextOffset))
                    {
                        int slots = Math.Min(listed, KhoVmallocChunk.Entries);
                        listed -= slots;
                        int len = Math.Min(PhysicalArena.PageSize, KhoVmallocChunk.PhysOffset + (8 * (slots + 1)));
                        regions.Add(new(MetaKind.VmallocChunk, c, len, $"{who} vmalloc chunk {chunks.Count}"));
                        chunks.Add(c);
                    }
                }
                var pfns = priv.Folios.Select(x => x.Pfn).ToList();
                var m = Contents.First(x => x.Session == s.Name && x.Token == f.Token);
                for (int i = 0; i < pfns.Count; i++)
                {
                    int len = Math.Min(PhysicalArena.PageSize, m.Content.Length - (i * PhysicalArena.PageSize));
                    if (len > 0) data.Add(new(MetaKind.MemfdData, pfns[i] << PhysicalArena.PageShift, len, $"{who} data page {i}"));
                }
                memfds.Add(new DemoMemfdLayout(s.Name, f.Token, priv.SerPhys, array, chunks, pfns));
            }
        int flbCount = (int)arena.ReadU64(luo.OutFlbPhys + LuoFlbHeaderSer.CountOffset);
        regions.Add(new(MetaKind.FlbPage, luo.OutFlbPhys, LuoFlbHeaderSer.Size + (Math.Min(flbCount, LuoFlbHeaderSer.MaxEntries) * LuoFlbSer.Size), "flb page"));
        regions.AddRange(data);
    }

    private readonly struct LevelVisitor(Dictionary<ulong, int> levels) : IRadixVisitor
    {
        public Dictionary<ulong, int> Levels => levels;
        public int Node(ulong phys, int level) { levels[phys] = level; return 0; }
        public int Key(ulong key) => 0;
    }

    private static long Check(long rc, string what) =>
        rc < 0 ? throw new InvalidOperationException($"demo handover: {what} failed ({rc})") : rc;
}
