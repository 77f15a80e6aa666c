using System.Buffers.Binary;
using LuoModel.Fdt;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>
/// The correct ways of turning a <see cref="TreeCase"/> into a blob with the library under test (sequential
/// writer over a fixed or growable buffer; read-write API), plus a small independent token walker used to
/// compare structure blocks. Broken variants live in <c>BrokenWriterTests</c>.
/// </summary>
public static class FdtBuilders
{
    /// <summary>
    /// A buffer size that always fits the sequential writer's output: the no-dedup total size is the largest
    /// the writer can need (de-duplication only removes names).
    /// </summary>
    public static int FixedBufferSize(TreeCase t)
    {
        ArgumentNullException.ThrowIfNull(t);
        return t.NoDedupTotalSize;
    }

    /// <summary>Runs <paramref name="ops"/> from index <paramref name="start"/>; returns 0 or (first error, index of the failing call).</summary>
    public static (int Error, int FailedAt) Run(FdtWriter w, IReadOnlyList<WriterOp> ops, int start = 0)
    {
        ArgumentNullException.ThrowIfNull(ops);
        for (int i = start; i < ops.Count; i++)
        {
            int err = ops[i].Apply(w);
            if (err != 0) return (err, i);
        }
        return (0, -1);
    }

    /// <summary>Sequential writer over a fixed buffer of <see cref="FixedBufferSize"/> bytes.</summary>
    public static byte[] Sequential(TreeCase t, FdtCreateFlags flags) => SequentialOps(t.Ops(), flags, FixedBufferSize(t));

    /// <summary>Sequential writer running an explicit call list over a fixed buffer.</summary>
    public static byte[] SequentialOps(IReadOnlyList<WriterOp> ops, FdtCreateFlags flags, int bufferSize)
    {
        int err = TrySequential(ops, flags, bufferSize, out byte[] blob, out string failed);
        Check(err, failed);
        return blob;
    }

    /// <summary>Like <see cref="SequentialOps"/> but returns the first error (and the failing call) instead of throwing.</summary>
    public static int TrySequential(IReadOnlyList<WriterOp> ops, FdtCreateFlags flags, int bufferSize, out byte[] blob, out string failed)
    {
        ArgumentNullException.ThrowIfNull(ops);
        using var w = new FdtWriter();
        blob = [];
        failed = "fdt_create_with_flags";
        int err = w.CreateWithFlags(new byte[bufferSize], bufferSize, flags);
        if (err != 0) return err;
        (err, int at) = Run(w, ops);
        failed = at >= 0 ? ops[at].ToString() : "";
        if (err == 0) blob = w.ToArray();
        return err;
    }

    /// <summary>Sequential writer in growable mode starting from <paramref name="initialSize"/> bytes.</summary>
    public static byte[] Growable(TreeCase t, FdtCreateFlags flags, int initialSize)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var w = new FdtWriter();
        Check(w.CreateGrowable(initialSize, flags), "CreateGrowable");
        var ops = t.Ops();
        var (err, at) = Run(w, ops);
        Check(err, at >= 0 ? ops[at].ToString() : "");
        return w.ToArray();
    }

    /// <summary>The empty finished tree <c>/ { };</c> from the sequential writer.</summary>
    public static byte[] EmptyTree()
    {
        using var w = new FdtWriter();
        byte[] buf = new byte[128];
        Check(w.Create(buf), "fdt_create");
        Check(w.FinishReservemap(), "fdt_finish_reservemap");
        Check(w.BeginNode(""), "fdt_begin_node");
        Check(w.EndNode(), "fdt_end_node");
        Check(w.Finish(), "fdt_finish");
        return w.ToArray();
    }

    /// <summary>
    /// Read-write API: open the empty tree into a big buffer, add the reservations, then fill every node
    /// (<see cref="FillNode"/>) and pack.
    /// </summary>
    public static byte[] ReadWrite(TreeCase t, bool reverseInsertion = true)
    {
        ArgumentNullException.ThrowIfNull(t);
        byte[] buf = new byte[FixedBufferSize(t) + 256];
        Check(FdtRw.OpenInto(EmptyTree(), buf), "fdt_open_into");
        foreach (Reservation r in t.Reservations) Check(FdtRw.AddMemRsv(buf, r.Address, r.Size), "fdt_add_mem_rsv");
        FillNode(buf, 0, t.Root, reverseInsertion);
        Check(FdtRw.Pack(buf), "fdt_pack");
        return buf[..(int)FdtRo.TotalSize(buf)];
    }

    /// <summary>
    /// fdt_setprop of a new name inserts it first in the node and fdt_add_subnode inserts before the existing
    /// children (fdt.md §8), so both are added last-to-first. Each child is filled right after it is added:
    /// everything inserted later lies after the parent and the earlier siblings' offsets, so the offsets
    /// returned by fdt_add_subnode stay valid while they are used.
    /// </summary>
    private static void FillNode(byte[] buf, int offset, TreeNode node, bool reverse)
    {
        IEnumerable<TreeProp> props = reverse ? node.Props.Reverse() : node.Props;
        foreach (TreeProp p in props) Check(FdtRw.SetProp(buf, offset, p.Name, p.Value), $"fdt_setprop({p.Name})");
        IEnumerable<TreeNode> children = reverse ? node.Children.Reverse() : node.Children;
        foreach (TreeNode c in children)
        {
            int child = FdtRw.AddSubnode(buf, offset, c.Name);
            Check(child < 0 ? child : 0, $"fdt_add_subnode({c.Name})");
            FillNode(buf, child, c, reverse);
        }
    }

    private static void Check(int err, string what)
    {
        if (err != 0) throw new InvalidOperationException($"{what} failed: {FdtErrors.Name(err)}");
    }

    /// <summary>
    /// An independent walk of a blob's structure block (fdt.md §4): a copy of the block with every nameoff
    /// field zeroed (and, with <paramref name="maskPadding"/>, every value padding byte too: the read-write API
    /// leaves stale bytes there, as libfdt does), and the absolute offsets of the nameoff fields. Null when the
    /// tokens do not parse.
    /// </summary>
    public static (byte[] Masked, List<int> NameoffAt)? MaskNameoffs(ReadOnlySpan<byte> blob, bool maskPadding = false)
    {
        if (blob.Length < FdtConst.HeaderSize) return null;
        int off = (int)FdtRo.OffDtStruct(blob), size = (int)FdtRo.SizeDtStruct(blob);
        if (off < 0 || size < 0 || (long)off + size > blob.Length) return null;
        byte[] s = blob.Slice(off, size).ToArray();
        var at = new List<int>();
        int p = 0;
        while (p + FdtConst.TagSize <= s.Length)
        {
            uint tag = BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(p));
            p += FdtConst.TagSize;
            switch (tag)
            {
                case FdtConst.BeginNode:
                    int nul = s.AsSpan(p).IndexOf((byte)0);
                    if (nul < 0) return null;
                    p += FdtConst.TagAlign(nul + 1);
                    break;
                case FdtConst.Prop:
                    if (p + 8 > s.Length) return null;
                    int len = BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(p));
                    if (len < 0 || p + 8 + (((long)len + 3) & ~3L) > s.Length) return null;
                    at.Add(off + p + 4);
                    s.AsSpan(p + 4, 4).Clear();
                    if (maskPadding) s.AsSpan(p + 8 + len, FdtConst.TagAlign(len) - len).Clear();
                    p += 8 + FdtConst.TagAlign(len);
                    break;
                case FdtConst.EndNode:
                case FdtConst.Nop:
                    break;
                case FdtConst.End:
                    return p == s.Length ? (s, at) : null;
                default:
                    return null;
            }
        }
        return null;
    }
}
