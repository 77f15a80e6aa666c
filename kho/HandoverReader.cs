using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kho;

/// <summary>What an incoming kernel found in the handover (kho.md §1.7), accepted or not.</summary>
public sealed class IncomingHandover
{
    internal IncomingHandover() { }

    /// <summary>None when accepted (is_kho_boot()).</summary>
    public KhoBootReject Reject { get; internal set; }
    /// <summary>Human-readable reason ("disabling KHO revival: ...").</summary>
    public string Reason { get; internal set; } = "";
    /// <summary>is_kho_boot().</summary>
    public bool IsKhoBoot => Reject == KhoBootReject.None;
    /// <summary>The handoff values received.</summary>
    public KexecHandoff? Handoff { get; internal set; }
    /// <summary>Incoming FDT bytes (up to its totalsize), empty when unreadable.</summary>
    public byte[] Fdt { get; internal set; } = [];
    /// <summary>First string of the root compatible, if readable.</summary>
    public string? Compatible { get; internal set; }
    /// <summary>preserved-memory-map value.</summary>
    public ulong MapPhys { get; internal set; }
    /// <summary>Scratch entries read (all of them when accepted; those before the failing one otherwise).</summary>
    public List<KhoScratch> ScratchArray { get; } = [];
    /// <summary>Preserved blocks in walk order.</summary>
    public PreservedBlockList Blocks { get; } = new();
    /// <summary>Map pages (radix tables/leaves, or kho-v1 chunks and bitmaps).</summary>
    public List<ulong> MapPages { get; } = [];

    internal static IncomingHandover Rejected(KhoBootReject r, string why) => new() { Reject = r, Reason = why };
}

/// <summary>
/// Read-only parse of a handover as the incoming kernel performs it (kho_populate + the map walk of
/// kho_memory_init, kho.md §1.7 steps 1 and 3), over untrusted arena bytes. Used by <see cref="Kho.Boot"/>
/// (validate first, commit second) and by the image dump.
/// </summary>
public static class HandoverReader
{
    /// <summary>Largest FDT the reader copies (model bound; KHO's is one page).</summary>
    public const int MaxFdtBytes = 1 << 20;

    /// <summary>Validates and walks the handover.</summary>
    public static IncomingHandover Read(PhysicalArena arena, KexecHandoff handoff, KhoOptions options)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(options);
        var h = new IncomingHandover { Handoff = handoff };
        // (a) early_memremap(fdt_phys, fdt_len)
        if (handoff.FdtLen == 0 || handoff.FdtLen > MaxFdtBytes || !arena.Contains(handoff.FdtPhys, handoff.FdtLen))
            return Fail(h, KhoBootReject.FdtUnmappable, $"FDT 0x{handoff.FdtPhys:x}+0x{handoff.FdtLen:x} cannot be mapped");
        byte[] fdt = new byte[handoff.FdtLen];
        arena.Read(handoff.FdtPhys, fdt);
        if (fdt.Length >= 8)
        {
            uint total = BinaryPrimitives.ReadUInt32BigEndian(fdt.AsSpan(4));
            if (total > fdt.Length && total <= MaxFdtBytes && arena.Contains(handoff.FdtPhys, total))
            {
                fdt = new byte[total];
                arena.Read(handoff.FdtPhys, fdt);
            }
        }
        // (b) fdt_check_header
        int rc = (handoff.FdtPhys & 7) != 0 ? -19 : KhoFdt.CheckHeader(fdt);
        if (rc != 0) return Fail(h, KhoBootReject.FdtBadHeader, $"fdt_check_header failed ({rc})");
        uint totalSize = KhoFdt.TotalSize(fdt);
        h.Fdt = fdt.AsSpan(0, (int)Math.Min(totalSize, (uint)fdt.Length)).ToArray();
        h.Compatible = KhoFdt.RootCompatibleString(fdt);
        // (c) fdt_node_check_compatible(fdt, 0, KHO_FDT_COMPATIBLE)
        if (!KhoFdt.RootCompatible(fdt, Encoding.ASCII.GetBytes(options.EffectiveCompatible)))
            return Fail(h, KhoBootReject.CompatibleMismatch, $"root compatible does not list \"{options.EffectiveCompatible}\"");
        // (d) preserved-memory-map
        int mv = KhoFdt.GetProp(fdt, 0, "preserved-memory-map"u8, out int mlen);
        if (mv < 0 || mlen != 8 || mv + 8 > fdt.Length) return Fail(h, KhoBootReject.BadMemoryMap, "preserved-memory-map missing or not 8 bytes");
        h.MapPhys = BinaryPrimitives.ReadUInt64LittleEndian(fdt.AsSpan(mv));
        if (h.MapPhys == 0) return Fail(h, KhoBootReject.BadMemoryMap, "preserved-memory-map is 0");
        // (e) scratch array
        if (!arena.Contains(handoff.ScratchPhys, handoff.ScratchLen))
            return Fail(h, KhoBootReject.ScratchUnmappable, $"scratch array 0x{handoff.ScratchPhys:x}+0x{handoff.ScratchLen:x} cannot be mapped");
        // (f) mark each entry; a failure keeps the entries already marked
        Span<byte> e = stackalloc byte[KhoScratch.SizeOf];
        for (ulong i = 0; i < handoff.ScratchLen / KhoScratch.SizeOf; i++)
        {
            arena.Read(handoff.ScratchPhys + i * KhoScratch.SizeOf, e);
            var s = KhoScratch.ReadFrom(e);
            if (!arena.Contains(s.Addr, s.Size))
                return Fail(h, KhoBootReject.ScratchMarkFailed, $"scratch entry {i} [0x{s.Addr:x}+0x{s.Size:x}] cannot be marked");
            h.ScratchArray.Add(s);
        }
        // step 3: walk the map
        string? why = options.Variant == KhoVariant.KhoV1 ? WalkV1(arena, h) : WalkRadix(arena, h, options);
        if (why is not null)
        {
            h.Blocks.Clear();
            return Fail(h, options.Variant == KhoVariant.M && why.StartsWith("M:", StringComparison.Ordinal) ? KhoBootReject.OrderTooLargeForM : KhoBootReject.WalkFailed, why);
        }
        return h;
    }

    private static IncomingHandover Fail(IncomingHandover h, KhoBootReject r, string why)
    {
        h.Reject = r;
        h.Reason = "disabling KHO revival: " + why;
        return h;
    }

    private struct BlockVisitor(IncomingHandover h, bool m) : IRadixVisitor
    {
        public string? Error;
        public readonly int Node(ulong phys, int level) { h.MapPages.Add(phys); return 0; }
        public int Key(ulong key)
        {
            if (!RadixKey.TryDecode(key, out ulong phys, out int order)) { Error = $"key 0x{key:x} has no valid order"; return 1; }
            if (m && order >= 19) { Error = $"M: order-{order} block at 0x{phys:x} would be reserved with a 32-bit size shift"; return 1; }
            if (order > 51 || ((ulong)PhysicalArena.PageSize << order) - 1 > ulong.MaxValue - phys) { Error = $"block 0x{phys:x} order {order} wraps"; return 1; }
            h.Blocks.Add(phys, order);
            return 0;
        }
    }

    private static string? WalkRadix(PhysicalArena arena, IncomingHandover h, KhoOptions options)
    {
        var v = new BlockVisitor(h, options.Variant == KhoVariant.M);
        var visited = new HashSet<ulong>();
        RadixTree.Walk(arena, h.MapPhys, ref v, visited, out RadixWalkError err);
        if (err != RadixWalkError.None) return $"preserved-memory map walk: {err}";
        return v.Error;
    }

    private static string? WalkV1(PhysicalArena arena, IncomingHandover h) =>
        XarrayTracker.Deserialize(arena, h.MapPhys, (p, o) => h.Blocks.Add(p, o), h.MapPages);
}
