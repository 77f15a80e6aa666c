using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kho;

public sealed partial class Kho
{
    private readonly List<(string Name, ulong Phys)> _v1Subtrees = [];
    private const string PropPreservedData = "preserved-data", PropBlobSize = "blob-size";

    /// <summary>Bytes of the outgoing root FDT page (a copy), empty when there is none.</summary>
    public byte[] OutgoingFdt() => FdtPhys == 0 ? [] : Arena.PageForRead(FdtPhys >> PhysicalArena.PageShift).ToArray();

    /// <summary>Child node names of the outgoing root FDT in struct order (kho-v1: the pending list).</summary>
    public List<string> OutgoingSubtreeNames()
    {
        if (Options.Variant == KhoVariant.KhoV1) return [.. _v1Subtrees.Select(s => s.Name)];
        var names = new List<string>();
        if (FdtPhys == 0) return names;
        ReadOnlySpan<byte> f = Arena.PageForRead(FdtPhys >> PhysicalArena.PageShift);
        for (int c = KhoFdt.NextRootChild(f, -1); c >= 0; c = KhoFdt.NextRootChild(f, c))
            names.Add(Encoding.ASCII.GetString(KhoFdt.NodeName(f, c)));
        return names;
    }

    /// <summary>kho_add_subtree(name, blob, size) (§2.11, §4.3): open_into, add_subnode, setprop
    /// preserved-data then blob-size, pack. -EEXIST for a name match, -ENOMEM when the node does not fit or the
    /// FDT cannot be opened. On a property failure N deletes the node and returns -ENOMEM; M returns the raw
    /// libfdt code (cast to <see cref="Errno"/>, e.g. (Errno)3 for FDT_ERR_NOSPACE) and keeps the partial node.
    /// kho-v1 (48a1b232 signature kho_add_subtree(name, fdt)): records the pair for kho_finalize(); size unused.</summary>
    public Errno AddSubtree(string name, ulong blobPhys, ulong size)
    {
        CheckAlive();
        ArgumentNullException.ThrowIfNull(name);
        if (Options.Variant == KhoVariant.KhoV1)
        {
            if (!HasTracker) { Warn(KhoWarning.NullFdt, "kho_add_subtree", blobPhys); return Errno.EFAULT; }
            _v1Subtrees.Add((name, blobPhys));
            return Errno.Ok;
        }
        if (FdtPhys == 0) { Warn(KhoWarning.NullFdt, "kho_add_subtree", blobPhys); return Errno.EFAULT; }
        Span<byte> f = Arena.PageForWrite(FdtPhys >> PhysicalArena.PageShift);
        if (KhoFdt.OpenInto(f) != 0) return Errno.ENOMEM;
        Errno result = Errno.Ok;
        int node = KhoFdt.AddRootSubnode(f, name);
        if (node < 0) result = node == -KhoFdt.ErrExists ? Errno.EEXIST : Errno.ENOMEM;
        else
        {
            Span<byte> v = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(v, blobPhys);
            int rc = KhoFdt.SetProp(f, node, PropPreservedData, v);
            if (rc == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(v, size);
                rc = KhoFdt.SetProp(f, node, PropBlobSize, v);
            }
            if (rc != 0)
            {
                if (Options.Variant == KhoVariant.N) { KhoFdt.DelNode(f, node); result = Errno.ENOMEM; }
                else result = (Errno)(-rc);
            }
        }
        KhoFdt.Pack(f);
        return result;
    }

    /// <summary>kho_remove_subtree(blob) (§2.12): deletes the first child whose 8-byte preserved-data equals
    /// the address; no match → no-op; always re-packs. kho-v1: drops the list entry.</summary>
    public void RemoveSubtree(ulong blobPhys)
    {
        CheckAlive();
        if (Options.Variant == KhoVariant.KhoV1)
        {
            int i = _v1Subtrees.FindIndex(s => s.Phys == blobPhys);
            if (i >= 0) _v1Subtrees.RemoveAt(i);
            return;
        }
        if (FdtPhys == 0) { Warn(KhoWarning.NullFdt, "kho_remove_subtree", blobPhys); return; }
        Span<byte> f = Arena.PageForWrite(FdtPhys >> PhysicalArena.PageShift);
        if (KhoFdt.OpenInto(f) != 0) return;
        for (int c = KhoFdt.NextRootChild(f, -1); c >= 0; c = KhoFdt.NextRootChild(f, c))
        {
            int v = KhoFdt.GetProp(f, c, "preserved-data"u8, out int len);
            if (v >= 0 && len == 8 && BinaryPrimitives.ReadUInt64LittleEndian(f[v..]) == blobPhys)
            {
                KhoFdt.DelNode(f, c);
                break;
            }
        }
        KhoFdt.Pack(f);
    }

    /// <summary>kho_retrieve_subtree(name, &amp;phys, &amp;size) in the new kernel (§2.13): -ENOENT without an
    /// incoming FDT or matching child; -EINVAL when preserved-data (kho-v1: fdt) is missing or not 8 bytes, or
    /// blob-size is (then <paramref name="phys"/> is already written). kho-v1 has no size (0).</summary>
    public Errno RetrieveSubtree(string name, out ulong phys, out ulong size)
    {
        CheckAlive();
        ArgumentNullException.ThrowIfNull(name);
        phys = 0;
        size = 0;
        if (!Incoming.IsKhoBoot) return Errno.ENOENT;
        ReadOnlySpan<byte> f = Incoming.Fdt;
        int node = KhoFdt.FindRootChild(f, Encoding.ASCII.GetBytes(name));
        if (node < 0) return Errno.ENOENT;
        bool v1 = Options.Variant == KhoVariant.KhoV1;
        int v = KhoFdt.GetProp(f, node, v1 ? "fdt"u8 : "preserved-data"u8, out int len);
        if (v < 0 || len != 8) return Errno.EINVAL;
        phys = BinaryPrimitives.ReadUInt64LittleEndian(f[v..]);
        if (v1) return Errno.Ok;
        v = KhoFdt.GetProp(f, node, "blob-size"u8, out len);
        if (v < 0 || len != 8) return Errno.EINVAL;
        size = BinaryPrimitives.ReadUInt64LittleEndian(f[v..]);
        return Errno.Ok;
    }

    /// <summary>kho_finalize() (kho-v1, 48a1b232 era, §1.5, §3.3): preserves a fresh FDT page, serializes the
    /// tracker into the chunk chain and writes the FDT (compatible, preserved-memory-map, one child per subtree
    /// with property "fdt", in kho_add_subtree order). -EEXIST when already finalized, -ENOMEM on allocation
    /// failure (nothing kept). Radix variants have no finalize: -EOPNOTSUPP.</summary>
    public Errno Finalize()
    {
        CheckAlive();
        if (Options.Variant != KhoVariant.KhoV1) return Errno.EOPNOTSUPP;
        if (_xa is null) return Errno.EINVAL;
        if (Finalized) return Errno.EEXIST;
        if (!Pages.TryAlloc(0, AllocFlags.Zeroed, out ulong fpfn)) return Errno.ENOMEM;
        Errno rc = _xa.Add(fpfn, 0);
        if (rc == Errno.Ok) rc = _xa.Serialize(out ulong first) is var s && s == Errno.Ok ? BuildV1Fdt(fpfn, first) : s;
        if (rc != Errno.Ok)
        {
            _xa.Del(fpfn, 0);
            _xa.FreeChunks();
            Pages.Free(fpfn, 0);
            return rc;
        }
        FdtPhys = fpfn << PhysicalArena.PageShift;
        Finalized = true;
        return Errno.Ok;
    }

    private Errno BuildV1Fdt(ulong fpfn, ulong first) =>
        KhoFdt.BuildRoot(Arena.PageForWrite(fpfn), Options.EffectiveCompatible, first, _v1Subtrees) == 0 ? Errno.Ok : Errno.ENOMEM;

    /// <summary>kho_abort() (kho-v1, §1.5): -ENOENT when not finalized; else frees the chunk chain and the FDT
    /// page and reopens preservation. The tracker itself is kept (model decision: subsystems unpreserve their
    /// own memory on abort).</summary>
    public Errno Abort()
    {
        CheckAlive();
        if (Options.Variant != KhoVariant.KhoV1) return Errno.EOPNOTSUPP;
        if (!Finalized) return Errno.ENOENT;
        _xa!.FreeChunks();
        ulong fpfn = FdtPhys >> PhysicalArena.PageShift;
        _xa.Del(fpfn, 0);
        Pages.Free(fpfn, 0);
        FdtPhys = 0;
        Finalized = false;
        return Errno.Ok;
    }
}
