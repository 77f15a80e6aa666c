using System.Buffers.Binary;
using System.Text;
using LuoModel.Fdt;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Kho;

/// <summary>
/// The libfdt calls KHO makes on its root FDT (kho.md §4.3), expressed over the fdt/ library
/// (<see cref="FdtWriter"/>, <see cref="FdtRw"/>, <see cref="FdtRo"/>). Results are libfdt ints (negative
/// FDT_ERR_*). All reads are bounded by the span, whatever the bytes say.
/// </summary>
internal static class KhoFdt
{
    public const int ErrNotFound = (int)FdtError.NotFound, ErrExists = (int)FdtError.Exists, ErrNoSpace = (int)FdtError.NoSpace,
        ErrTruncated = (int)FdtError.Truncated, ErrBadMagic = (int)FdtError.BadMagic, ErrBadVersion = (int)FdtError.BadVersion;

    /// <summary>kho_out_fdt_setup() (M/N) and the kho-v1 finalize FDT: fdt_create(page, 4096),
    /// fdt_finish_reservemap, fdt_begin_node(""), fdt_property_string(compatible), fdt_property(
    /// preserved-memory-map, u64 LE), [kho-v1: one child per subtree with property "fdt"], fdt_end_node,
    /// fdt_finish; return codes OR-ed as the kernel does.</summary>
    public static int BuildRoot(byte[] page, string compatible, ulong mapPhys, IReadOnlyList<(string Name, ulong Phys)>? v1Children = null)
    {
        using var w = new FdtWriter();
        Span<byte> u64 = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(u64, mapPhys);
        int rc = w.Create(page, PhysicalArena.PageSize);
        rc |= w.FinishReservemap();
        rc |= w.BeginNode("");
        rc |= w.PropertyString("compatible", compatible);
        rc |= w.Property("preserved-memory-map", u64);
        foreach (var (name, phys) in v1Children ?? [])
        {
            rc |= w.BeginNode(name);
            BinaryPrimitives.WriteUInt64LittleEndian(u64, phys);
            rc |= w.Property("fdt", u64);
            rc |= w.EndNode();
        }
        rc |= w.EndNode();
        rc |= w.Finish();
        return rc;
    }

    /// <summary>fdt_open_into(fdt, fdt, 4096).</summary>
    public static int OpenInto(Span<byte> f) => FdtRw.OpenInto(f, f);

    /// <summary>fdt_add_subnode(fdt, 0, name).</summary>
    public static int AddRootSubnode(Span<byte> f, string name) => FdtRw.AddSubnode(f, 0, name);

    /// <summary>fdt_setprop().</summary>
    public static int SetProp(Span<byte> f, int node, string name, ReadOnlySpan<byte> value) => FdtRw.SetProp(f, node, name, value);

    /// <summary>fdt_del_node().</summary>
    public static int DelNode(Span<byte> f, int node) => FdtRw.DelNode(f, node);

    /// <summary>fdt_pack().</summary>
    public static int Pack(Span<byte> f) => FdtRw.Pack(f);

    /// <summary>fdt_check_header().</summary>
    public static int CheckHeader(ReadOnlySpan<byte> f) => FdtRo.CheckHeader(f);

    /// <summary>Header totalsize.</summary>
    public static uint TotalSize(ReadOnlySpan<byte> f) => FdtRo.TotalSize(f);

    /// <summary>fdt_getprop(): absolute value offset, or a negated code.</summary>
    public static int GetProp(ReadOnlySpan<byte> f, int node, ReadOnlySpan<byte> name, out int len)
    {
        int v = FdtRo.GetProp(f, node, name, out len);
        if (v >= 0 && (len < 0 || v + len > f.Length)) return -(int)FdtError.Truncated;
        return v;
    }

    /// <summary>fdt_first_subnode(fdt, 0) when <paramref name="prev"/> &lt; 0, else fdt_next_subnode(prev).</summary>
    public static int NextRootChild(ReadOnlySpan<byte> f, int prev) => prev < 0 ? FdtRo.FirstSubnode(f, 0) : FdtRo.NextSubnode(f, prev);

    /// <summary>fdt_subnode_offset(fdt, 0, name) (exact or unit-address match, kho.md §2.13).</summary>
    public static int FindRootChild(ReadOnlySpan<byte> f, ReadOnlySpan<byte> name) => FdtRo.SubnodeOffset(f, 0, name);

    /// <summary>fdt_get_name().</summary>
    public static ReadOnlySpan<byte> NodeName(ReadOnlySpan<byte> f, int node) => FdtRo.GetNameSpan(f, node);

    /// <summary>fdt_node_check_compatible(fdt, 0, c) == 0.</summary>
    public static bool RootCompatible(ReadOnlySpan<byte> f, ReadOnlySpan<byte> compatible) => FdtRo.NodeCheckCompatible(f, 0, compatible) == 0;

    /// <summary>First string of the root compatible, or null.</summary>
    public static string? RootCompatibleString(ReadOnlySpan<byte> f)
    {
        int n = FdtRo.GetProp(f, 0, "compatible"u8, out ReadOnlySpan<byte> v);
        if (n < 0) return null;
        int z = v.IndexOf((byte)0);
        return Encoding.ASCII.GetString(z < 0 ? v : v[..z]);
    }
}
