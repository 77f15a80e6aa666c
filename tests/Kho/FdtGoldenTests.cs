using System.Buffers.Binary;
using System.Text;
using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

/// <summary>kho.md §4.3–§4.4: root FDT bytes after creation and after kho_init.</summary>
public class FdtGoldenTests
{
    private static void Be(byte[] b, int off, uint v) => BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(off), v);
    private static void Le(byte[] b, int off, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(off), v);

    /// <summary>The whole 4096-byte page after kho_init, built from the §4.4 table.</summary>
    internal static byte[] ExpectedAfterInit(ulong r, ulong d, string compat = "kho-v4")
    {
        var b = new byte[4096];
        Be(b, 0x00, 0xD00DFEED); Be(b, 0x04, 0xE9); Be(b, 0x08, 0x38); Be(b, 0x0C, 0xB0); Be(b, 0x10, 0x28);
        Be(b, 0x14, 17); Be(b, 0x18, 16); Be(b, 0x1C, 0); Be(b, 0x20, 0x39); Be(b, 0x24, 0x78);
        Be(b, 0x38, 1); Be(b, 0x3C, 0);
        Be(b, 0x40, 3); Be(b, 0x44, 7); Be(b, 0x48, 0x15); Encoding.ASCII.GetBytes(compat).CopyTo(b, 0x4C);
        Be(b, 0x54, 3); Be(b, 0x58, 8); Be(b, 0x5C, 0); Le(b, 0x60, r);
        Be(b, 0x68, 1); Encoding.ASCII.GetBytes("kexec-metadata").CopyTo(b, 0x6C);
        Be(b, 0x7C, 3); Be(b, 0x80, 8); Be(b, 0x84, 0x2F); Le(b, 0x88, 73);
        Be(b, 0x90, 3); Be(b, 0x94, 8); Be(b, 0x98, 0x20); Le(b, 0x9C, d);
        Be(b, 0xA4, 2); Be(b, 0xA8, 2); Be(b, 0xAC, 9);
        Encoding.ASCII.GetBytes("preserved-memory-map\0compatible\0preserved-data\0blob-size\0").CopyTo(b, 0xB0);
        Encoding.ASCII.GetBytes("ob-size\0").CopyTo(b, 0xE9);
        Encoding.ASCII.GetBytes("preserved-memory-map\0compatible\0").CopyTo(b, 4064);
        return b;
    }

    private static byte[] Created(ulong r, string compat)
    {
        var page = new byte[4096];
        page.AsSpan().Fill(0xCC); // fdt_create zeroes whatever the allocator gave
        Assert.Equal(0, KhoFdt.BuildRoot(page, compat, r));
        return page;
    }

    private static int AddSubtree(byte[] f, string name, ulong phys, ulong size)
    {
        Assert.Equal(0, KhoFdt.OpenInto(f));
        int node = KhoFdt.AddRootSubnode(f, name);
        if (node < 0) { KhoFdt.Pack(f); return node; }
        var v = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(v, phys);
        int rc = KhoFdt.SetProp(f, node, "preserved-data", v);
        BinaryPrimitives.WriteUInt64LittleEndian(v, size);
        if (rc == 0) rc = KhoFdt.SetProp(f, node, "blob-size", v);
        Assert.Equal(0, KhoFdt.Pack(f));
        return rc;
    }

    [Fact]
    public void Creation_layout()
    {
        var p = Created(0x116be4000, "kho-v4");
        uint H(int o) => BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(o));
        Assert.Equal((0xD00DFEEDu, 0x98u, 0x40u, 0x78u, 0x30u, 17u, 16u, 0u, 0x20u, 0x38u),
            (H(0), H(4), H(8), H(12), H(16), H(20), H(24), H(28), H(32), H(36)));
        Assert.Equal("preserved-memory-map\0compatible\0", Encoding.ASCII.GetString(p, 0x78, 32));
        Assert.Equal("preserved-memory-map\0compatible\0", Encoding.ASCII.GetString(p, 4064, 32));
        Assert.True(p.AsSpan(0x98, 4064 - 0x98).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal(0x15u, H(0x50)); // compatible nameoff 21 (prop at 0x48: tag, len, nameoff)
    }

    [Fact]
    public void After_kexec_metadata_matches_spec_table_exactly()
    {
        const ulong r = 0x116be4000, d = 0x10a3f5000;
        var p = Created(r, "kho-v4");
        Assert.Equal(0, AddSubtree(p, "kexec-metadata", d, 73));
        Assert.Equal(ExpectedAfterInit(r, d), p);
    }

    [Fact]
    public void Later_subtree_inserted_before_metadata_and_add_remove_round_trips()
    {
        var p = Created(0x116be4000, "kho-v4");
        AddSubtree(p, "kexec-metadata", 0x10a3f5000, 73);
        var before = p.AsSpan(0, 0xE9).ToArray();
        Assert.Equal(0, AddSubtree(p, "X", 0x5000, 16));
        // struct offset 0x30 = absolute 0x38 + 0x30
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(0x68)));
        Assert.Equal((byte)'X', p[0x6C]);
        Assert.Equal(47u, BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(0x70 + 8)));      // blob-size first
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(0x70 + 20 + 8))); // then preserved-data
        Assert.Equal(0x39u, BinaryPrimitives.ReadUInt32BigEndian(p.AsSpan(0x20)));        // no new strings
        Assert.Equal(-KhoFdt.ErrExists, AddSubtree(p, "X", 0x6000, 1));
        // remove X
        Assert.Equal(0, KhoFdt.OpenInto(p));
        int x = KhoFdt.FindRootChild(p, "X"u8);
        Assert.Equal(0, KhoFdt.DelNode(p, x));
        Assert.Equal(0, KhoFdt.Pack(p));
        Assert.Equal(before, p.AsSpan(0, 0xE9).ToArray());
    }

    [Fact]
    public void Unit_address_matching()
    {
        var p = Created(0x1000, "kho-v4");
        Assert.Equal(0, AddSubtree(p, "dev@1", 1, 1));
        Assert.Equal(-KhoFdt.ErrExists, AddSubtree(p, "dev", 2, 1));
        Assert.Equal(0, AddSubtree(p, "dev@2", 3, 1));
        Assert.True(KhoFdt.FindRootChild(p, "dev"u8) >= 0);
        Assert.Equal("dev@2", Encoding.ASCII.GetString(KhoFdt.NodeName(p, KhoFdt.FindRootChild(p, "dev"u8))));
    }

    [Fact]
    public void Header_checks_used_by_kho_populate()
    {
        var p = Created(0x1000, "kho-v4");
        Assert.Equal(0, KhoFdt.CheckHeader(p));
        Assert.True(KhoFdt.RootCompatible(p, "kho-v4"u8));
        Assert.False(KhoFdt.RootCompatible(p, "kho-v"u8));
        var bad = (byte[])p.Clone(); bad[0] = 0;
        Assert.Equal(-KhoFdt.ErrBadMagic, KhoFdt.CheckHeader(bad));
        bad = (byte[])p.Clone(); Be(bad, 0x18, 18);
        Assert.Equal(-KhoFdt.ErrBadVersion, KhoFdt.CheckHeader(bad));
        bad = (byte[])p.Clone(); Be(bad, 0x0C, 0x2000);
        Assert.Equal(-KhoFdt.ErrTruncated, KhoFdt.CheckHeader(bad));
        Assert.Equal(-KhoFdt.ErrTruncated, KhoFdt.CheckHeader(p.AsSpan(0, 20)));
    }
}
