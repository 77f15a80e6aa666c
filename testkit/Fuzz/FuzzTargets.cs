using System.Globalization;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Handover;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Testkit.Fuzz;

/// <summary>A property violated inside a fuzz target (the fuzzer treats it as a crash, a test as a failure).</summary>
public sealed class FuzzFindingException(string message) : Exception(message);

/// <summary>A fuzz target: runs one input; returns normally or throws (a finding).</summary>
public delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// The fuzz targets of issue 9 §1. Each takes arbitrary bytes, drives one parser or decoder of the model and
/// checks properties inside: nothing throws (an escaping exception, including IndexOutOfRange or
/// ArgumentOutOfRange, is a finding), every syscall result is a success or a kernel errno, and differential
/// oracles where they exist. Shared by the SharpFuzz host (fuzz/) and the corpus replay tests.
/// </summary>
public static partial class FuzzTargets
{
    /// <summary>Largest input a target looks at (bigger inputs are cut).</summary>
    public const int MaxInput = 1 << 20;

    /// <summary>Targets by name (the folder names under fuzz/corpus/).</summary>
    public static IReadOnlyDictionary<string, FuzzTarget> All { get; } = new Dictionary<string, FuzzTarget>(StringComparer.Ordinal)
    {
        ["fdt"] = Fdt,
        ["printers"] = Printers,
        ["image"] = Image,
        ["kho-boot"] = KhoBoot,
        ["luo-v5"] = LuoV5,
        ["luo-v1"] = LuoV1,
        ["ioctl"] = Ioctl,
    };

    private static void Require(bool ok, string what)
    {
        if (!ok) throw new FuzzFindingException(what);
    }

    private static string Code(int err) => err.ToString(CultureInfo.InvariantCulture);

    /// <summary>FDT validator and reader: fdt_check_full, a full walk with every look-up of the read-only API,
    /// the strict checker. Oracle: check_full OK ⇒ the walk and the tree printer meet no error but the
    /// NOTFOUND that ends an iteration (and the root's NOTFOUND parent). Two libfdt behaviours are kept out of the
    /// oracle because libfdt 1.6.1 has them too: a structure block that does not start with the root's
    /// FDT_BEGIN_NODE (leading NOP, property first) makes fdt_get_path fail BADOFFSET, and a path longer than
    /// the 4096-byte buffer fails NOSPACE.</summary>
    public static void Fdt(ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxInput) d = d[..MaxInput];
        int full = FdtRo.CheckFull(d);
        FdtRo.CheckHeader(d);
        FdtRo.RoProbe(d);
        _ = FdtStrictCheck.Check(d);
        bool ok = full == 0 && FdtRo.NextTag(d, 0, out _) == FdtConst.BeginNode;
        bool longPath = false;
        int nrsv = FdtRo.NumMemRsv(d);
        for (int i = 0; i < Math.Min(nrsv, 4096); i++) Require(FdtRo.GetMemRsv(d, i, out _, out _) == 0 || !ok, "get_mem_rsv failed on a valid blob");
        int depth = 0, nodes = 0, node;
        int notFound = FdtError.NotFound.Neg();
        for (node = FdtRo.NextNode(d, -1, ref depth); node >= 0 && nodes < 20000; node = FdtRo.NextNode(d, node, ref depth))
        {
            nodes++;
            int nameLen;
            int nameOff = FdtRo.GetName(d, node, out nameLen);
            ReadOnlySpan<byte> name = FdtRo.GetNameSpan(d, node);
            string? path = FdtRo.GetPathString(d, node, out int perr);
            longPath |= perr == FdtError.NoSpace.Neg();
            int parent = FdtRo.ParentOffset(d, node);
            int nd = FdtRo.NodeDepth(d, node);
            if (ok)
            {
                Require(nameOff >= 0 && nameLen >= 0, $"get_name({node}) = {Code(nameOff)} on a valid blob");
                Require(path is not null || perr == FdtError.NoSpace.Neg(), $"get_path({node}) = {Code(perr)} on a valid blob");
                Require(nd >= 0, $"node_depth({node}) = {Code(nd)}");
                Require(parent >= 0 || (node == 0 && parent == notFound), $"parent_offset({node}) = {Code(parent)}");
            }
            if (parent >= 0 && name.Length > 0)
            {
                int sub = FdtRo.SubnodeOffset(d, parent, name);
                if (ok) Require(sub >= 0, $"subnode_offset of an existing name = {Code(sub)}");
            }
            int prop;
            for (prop = FdtRo.FirstPropertyOffset(d, node); prop >= 0; prop = FdtRo.NextPropertyOffset(d, prop))
            {
                int len = FdtRo.GetPropByOffset(d, prop, out ReadOnlySpan<byte> pname, out ReadOnlySpan<byte> _);
                if (ok) Require(len >= 0, $"getprop_by_offset({prop}) = {Code(len)}");
                if (len >= 0)
                {
                    int g = FdtRo.GetProp(d, node, pname, out int glen);
                    if (ok) Require(g >= 0 && glen >= 0, $"getprop of an existing name = {Code(g)}");
                }
            }
            if (ok) Require(prop == notFound, $"property iteration of node {node} ended with {Code(prop)}");
            for (int c = FdtRo.FirstSubnode(d, node); c >= 0; c = FdtRo.NextSubnode(d, c)) { }
            FdtRo.StringListCount(d, node, "compatible"u8);
            FdtRo.StringListGet(d, node, "compatible"u8, 0, out _);
            FdtRo.NodeCheckCompatible(d, node, "kho-v1"u8);
            if (path is not null && path.Length < 4096) FdtRo.PathOffset(d, path);
        }
        if (ok && nodes < 20000) Require(node == notFound, $"node walk ended with {Code(node)} on a valid blob");
        string tree = FdtTreePrinter.ToText(d, out int terr);
        if (ok && nodes < 20000) Require((terr == 0 || (longPath && terr == FdtError.NoSpace.Neg())) && tree.Length > 0, $"tree printer = {Code(terr)} on a valid blob");
    }

    /// <summary>DTS printer and fdtdump printer (and the tree printer). Oracle: check_full OK with version ≥ 16
    /// ⇒ DTS prints (or refuses only with BADSTRUCTURE: dtc's structural refusals, depth) and fdtdump reaches
    /// FDT_END (when the reservation terminator is all zeros: fdtdump's own rule).</summary>
    public static void Printers(ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxInput) d = d[..MaxInput];
        bool ok = FdtRo.CheckFull(d) == 0 && d.Length >= FdtConst.HeaderSize && FdtRo.Version(d) >= 16;
        string dts = FdtDtsPrinter.ToText(d, out int derr);
        string dump = FdtDumpPrinter.ToText(d, out int uerr);
        _ = FdtTreePrinter.ToText(d, out _);
        int badStructure = FdtError.BadStructure.Neg();
        if (derr == 0) Require(dts.StartsWith("/dts-v1/;", StringComparison.Ordinal), "DTS text without the /dts-v1/ header");
        if (ok)
        {
            Require(derr == 0 || derr == badStructure, $"DTS printer = {Code(derr)} on a valid blob");
            // fdtdump stops its reservation list only at an entry whose address and size are both 0 (fdt.md §3),
            // so a size-0 terminator with a non-zero address makes it read on, as fdtdump 1.6.1 does
            int n = FdtRo.NumMemRsv(d);
            long term = FdtRo.OffMemRsvmap(d) + (16L * n);
            bool zeroTerminator = n >= 0 && term + 16 <= d.Length && System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(d[(int)term..]) == 0;
            if (zeroTerminator) Require(uerr == 0 || uerr == badStructure, $"fdtdump printer = {Code(uerr)} on a valid blob");
            Require(dump.Length > 0, "fdtdump printed nothing for a valid blob");
        }
    }

    /// <summary>Arena image loader: TryLoad never throws; a loaded image saves and reloads to the same
    /// contents (Save∘Load is idempotent); its handover (if any) reads without throwing.</summary>
    public static void Image(ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxInput) d = d[..MaxInput];
        LoadImage(d);
        // Most mutations break the XxHash64 trailer; load a copy with the trailer recomputed so they reach the parser.
        if (d.Length >= 16)
        {
            byte[] fixedUp = d.ToArray();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(fixedUp.AsSpan(fixedUp.Length - 8),
                System.IO.Hashing.XxHash64.HashToUInt64(fixedUp.AsSpan(0, fixedUp.Length - 8)));
            LoadImage(fixedUp);
        }
    }

    private static void LoadImage(ReadOnlySpan<byte> d)
    {
        var rc = ArenaImage.TryLoad(d, out var arena, out string msg);
        Require((rc == ArenaImageError.None) == (arena is not null) && msg.Length > 0, $"TryLoad {rc} with arena {arena is not null}");
        if (arena is null) return;
        byte[] once = Save(arena);
        Require(ArenaImage.TryLoad(once, out var again, out msg) == ArenaImageError.None && again is not null, "a saved image does not reload: " + msg);
        Require(Save(again!).AsSpan().SequenceEqual(once), "save(load(save(x))) differs from save(x)");
        Require(again!.Handoff == arena.Handoff && again.DramBytes == arena.DramBytes, "handoff or DRAM changed by a save/load cycle");
        if (arena.Handoff is { } h && arena.DramBytes <= 1UL << 36)
        {
            var view = HandoverReader.Read(arena, h, new KhoOptions());
            Require(view.IsKhoBoot || view.Reason.Length > 0, "rejected handover without a reason");
        }
    }

    private static byte[] Save(PhysicalArena a)
    {
        using var ms = new MemoryStream();
        ArenaImage.Save(a, ms);
        return ms.ToArray();
    }
}
