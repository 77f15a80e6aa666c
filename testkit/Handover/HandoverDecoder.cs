using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Testkit;

/// <summary>
/// Decodes the LUO side of a handover from arena bytes as the next kernel would read it (luo.md §5.7, §5.8,
/// §6.5): the "LUO" subtree of an accepted KHO handover, then luo_ser and its block chains (luo-v5) or the
/// luo-v1 root FDT and its session area. Every read is bounds-checked against the arena, every chain walk
/// is cycle-safe and bounded, and every defect becomes a <see cref="HandoverProblem"/> naming what the
/// next kernel would do (panic, fail its first open, fail a retrieve) — hostile bytes never throw or hang.
/// </summary>
public static partial class HandoverDecoder
{
    /// <summary>Handler compatibles the model's kernels register (memfd of either generation, test handler).</summary>
    public static IReadOnlySet<string> KnownHandlers { get; } = new HashSet<string> { "memfd-v1", "memfd-v2", TestFileHandler.DefaultCompatible };

    /// <summary>Most folio entries decoded per memfd record (a hostile nr_folios cannot make the decoder
    /// run for hours); the rest is reported as a note.</summary>
    public const int MaxFolioEntries = 1 << 16;

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>How the next kernel parses the KHO map, chosen from the root FDT's compatible:
    /// "kho-v1" → kho-v1, "kho-v3" → M, anything else → N with that compatible.</summary>
    public static KhoOptions KhoOptionsFor(PhysicalArena arena, KexecHandoff handoff)
    {
        ArgumentNullException.ThrowIfNull(arena);
        var fdt = new byte[Math.Min(handoff.FdtLen, (ulong)PhysicalArena.PageSize)];
        if (!arena.TryRead(handoff.FdtPhys, fdt) || FdtRo.CheckHeader(fdt) != 0) return new KhoOptions();
        int len = FdtRo.GetProp(fdt, 0, "compatible"u8, out ReadOnlySpan<byte> v);
        if (len <= 0) return new KhoOptions();
        int z = v.IndexOf((byte)0);
        string compat = Encoding.ASCII.GetString(z < 0 ? v : v[..z]);
        return compat switch
        {
            "kho-v1" => new KhoOptions { Variant = KhoVariant.KhoV1 },
            "kho-v3" => new KhoOptions { Variant = KhoVariant.M },
            _ => new KhoOptions { Compatible = compat },
        };
    }

    /// <summary>Reads the KHO handover recorded in <paramref name="arena"/> (null when none) and decodes its LUO
    /// side; <paramref name="kho"/> is the KHO view (check <see cref="IncomingHandover.IsKhoBoot"/>).</summary>
    public static LuoHandover? Decode(PhysicalArena arena, out IncomingHandover? kho)
    {
        ArgumentNullException.ThrowIfNull(arena);
        kho = null;
        if (arena.Handoff is not { } h) return null;
        kho = HandoverReader.Read(arena, h, KhoOptionsFor(arena, h));
        return Decode(arena, kho);
    }

    /// <summary>Decodes the LUO side of an already read KHO handover. A rejected KHO handover means the next
    /// kernel boots without KHO: LUO then sees no incoming data (<see cref="LuoHandover.Present"/> false and a
    /// note).</summary>
    public static LuoHandover Decode(PhysicalArena arena, IncomingHandover kho)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(kho);
        var h = new LuoHandover();
        if (!kho.IsKhoBoot)
        {
            h.Problem(HandoverProblemKind.Note, "KHO", "the KHO handover is rejected, so the next kernel has no incoming LUO data");
            return h;
        }
        ReadOnlySpan<byte> fdt = kho.Fdt;
        int node = FdtRo.SubnodeOffset(fdt, 0, Luo.KhoEntryName);
        if (node < 0) return h;
        h.Present = true;
        var ctx = new Ctx(arena, h, kho.Blocks);
        if (U64Prop(fdt, node, "preserved-data"u8) is { } data)
        {
            h.BlobPhys = data;
            h.BlobSize = U64Prop(fdt, node, "blob-size"u8);
            if (h.BlobSize is null) { h.Problem(HandoverProblemKind.BootPanic, "LUO node", "blob-size missing or not 8 bytes (kho_retrieve_subtree -EINVAL)"); return h; }
        }
        else if (U64Prop(fdt, node, "fdt"u8) is { } v1) h.BlobPhys = v1;
        else { h.Problem(HandoverProblemKind.BootPanic, "LUO node", "preserved-data missing or not 8 bytes (kho_retrieve_subtree -EINVAL)"); return h; }

        Span<byte> magic = stackalloc byte[4];
        if (!arena.TryRead(h.BlobPhys, magic))
        {
            h.Problem(HandoverProblemKind.BootPanic, Hex(h.BlobPhys), "the LUO blob is outside memory");
            return h;
        }
        if (BinaryPrimitives.ReadUInt32BigEndian(magic) == 0xD00DFEED) DecodeV1(ctx);
        else DecodeV5(ctx);
        return h;
    }

    private static ulong? U64Prop(ReadOnlySpan<byte> fdt, int node, ReadOnlySpan<byte> name) =>
        FdtRo.GetProp(fdt, node, name, out ReadOnlySpan<byte> v) == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(v) : null;

    /// <summary>"0x1a2b".</summary>
    public static string Hex(ulong v) => "0x" + v.ToString("x", Inv);

    /// <summary>Decoding state: the arena, the result, and the preserved ranges of the KHO map.</summary>
    private sealed class Ctx
    {
        private readonly (ulong Start, ulong End)[] _preserved;

        public Ctx(PhysicalArena arena, LuoHandover result, IReadOnlyList<(ulong Phys, int Order)> blocks)
        {
            Arena = arena;
            Result = result;
            _preserved = [.. blocks.Select(b => (b.Phys, b.Phys + ((ulong)PhysicalArena.PageSize << b.Order))).OrderBy(r => r.Item1)];
        }

        public PhysicalArena Arena { get; }
        public LuoHandover Result { get; }
        public int FolioBudget { get; set; } = MaxFolioEntries * 16;

        /// <summary>True when the page holding <paramref name="phys"/> is inside a preserved block.</summary>
        public bool Preserved(ulong phys)
        {
            int lo = 0, hi = _preserved.Length - 1;
            while (lo <= hi)
            {
                int mid = (lo + hi) >>> 1;
                if (phys < _preserved[mid].Start) hi = mid - 1;
                else if (phys >= _preserved[mid].End) lo = mid + 1;
                else return true;
            }
            return false;
        }

        public bool TryRead(ulong phys, Span<byte> destination) => Arena.TryRead(phys, destination);

        public ulong? ReadU64(ulong phys)
        {
            Span<byte> b = stackalloc byte[8];
            return Arena.TryRead(phys, b) ? BinaryPrimitives.ReadUInt64LittleEndian(b) : null;
        }
    }

    /// <summary>Walks a one-page block chain (kho_block_set_restore rules, luo.md §2.6): returns the blocks
    /// up to the first bad one; <paramref name="error"/> is the errno and reason of the first defect.</summary>
    private static List<BlockInfo> WalkBlocks(Ctx c, ulong head, int entrySize, out string? error)
    {
        var list = new List<BlockInfo>();
        error = null;
        int perBlock = (KhoBlockSet.BlockSize - KhoBlockHeaderSer.Size) / entrySize;
        var seen = new HashSet<ulong>();
        Span<byte> hdr = stackalloc byte[KhoBlockHeaderSer.Size];
        for (ulong p = head; p != 0;)
        {
            if (!seen.Add(p)) { error = $"-EINVAL: the chain loops back to block {Hex(p)}"; break; }
            if (list.Count >= 2 * KhoBlockSet.MaxBlocks) { error = "-EINVAL: the chain is longer than 20000 blocks"; break; }
            if ((p & (PhysicalArena.PageSize - 1)) != 0 || !c.Arena.Contains(p, KhoBlockSet.BlockSize) || !c.TryRead(p, hdr))
            {
                error = $"-EINVAL: block {Hex(p)} is not a page inside memory";
                break;
            }
            var b = KhoBlockHeaderSer.ReadFrom(hdr);
            if (b.Count == 0 || b.Count > (ulong)perBlock)
            {
                list.Add(new BlockInfo(p, b.Next, b.Count, perBlock));
                error = $"-EINVAL: block {Hex(p)} has count {b.Count.ToString(Inv)} (1..{perBlock.ToString(Inv)} allowed)";
                break;
            }
            list.Add(new BlockInfo(p, b.Next, b.Count, perBlock));
            p = b.Next;
        }
        if (error is null && list.Count > KhoBlockSet.MaxBlocks) error = $"-ENOSPC: {list.Count.ToString(Inv)} blocks (at most 10000 are adopted)";
        if (error is null)
        {
            var unpreserved = list.FirstOrDefault(b => !c.Preserved(b.Phys));
            if (unpreserved is not null) c.Result.Problem(HandoverProblemKind.Note, Hex(unpreserved.Phys), "block page is not in the KHO preserved map (the next kernel would reuse it)");
        }
        return list;
    }

    /// <summary>Entry addresses of a walked chain: entries 0..count-1 of each block (count clamped).</summary>
    private static IEnumerable<ulong> Entries(List<BlockInfo> blocks, int entrySize)
    {
        foreach (var b in blocks)
            for (ulong i = 0; i < Math.Min(b.Count, (ulong)b.Capacity); i++)
                yield return b.Phys + KhoBlockHeaderSer.Size + (i * (ulong)entrySize);
    }

    /// <summary>A fixed-size C string field: text up to the NUL and whether there was one.</summary>
    private static (string Text, bool Terminated) Field(ReadOnlySpan<byte> field)
    {
        int n = field.IndexOf((byte)0);
        return (Encoding.Latin1.GetString(n < 0 ? field : field[..n]), n >= 0);
    }
}
