using System.Buffers.Binary;
using System.Text;
using LuoModel.Fdt;
using F = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Fdt;

/// <summary>
/// The read-write API (fdt_open_into, fdt_add_subnode, fdt_setprop, fdt_pack, ...) against libfdt's documented
/// results: the KHO root page of kho.md §4.3/§4.4 byte for byte, then the individual edits and their error codes.
/// </summary>
public class ReadWriteTests
{
    private const ulong RootPhys = 0x116be4000;       // R in kho.md §4.4
    private const ulong MetadataPhys = 0x10a3f5000;   // D in kho.md §4.4
    private const int Page = 4096;

    /// <summary>Little builder for expected images: big-endian words, raw bytes, LE u64, zero padding.</summary>
    private sealed class Image
    {
        private readonly List<byte> _b = [];
        public int Length => _b.Count;
        public Image Be(params uint[] words)
        {
            foreach (uint w in words) { _b.Add((byte)(w >> 24)); _b.Add((byte)(w >> 16)); _b.Add((byte)(w >> 8)); _b.Add((byte)w); }
            return this;
        }
        public Image Str(string s) { _b.AddRange(Encoding.ASCII.GetBytes(s)); return this; }
        public Image Bytes(params byte[] b) { _b.AddRange(b); return this; }
        public Image Zeros(int n) { _b.AddRange(new byte[n]); return this; }
        public Image Le64(ulong v)
        {
            byte[] x = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(x, v);
            _b.AddRange(x);
            return this;
        }
        public Image At(int offset) { Assert.Equal(offset, _b.Count); return this; }
        public byte[] ToArray() => [.. _b];
    }

    /// <summary>kho_out_fdt_setup() as kho.md §4.3 lists it: the sequential writer over the whole 4096-byte page.</summary>
    private static byte[] CreateKhoPage()
    {
        byte[] page = new byte[Page];
        page.AsSpan().Fill(0xa5);   // whatever the allocator gave: fdt_create zeroes the buffer itself
        using var w = new FdtWriter();
        int err = w.Create(page, Page);
        err |= w.FinishReservemap();
        err |= w.BeginNode(""u8);
        err |= w.PropertyString("compatible", "kho-v4");
        err |= w.PropertyU64Le("preserved-memory-map"u8, RootPhys);
        err |= w.EndNode();
        err |= w.Finish();
        Assert.Equal(0, err);
        Assert.Same(page, w.Buffer);
        return page;
    }

    private const string CreationStrings = "preserved-memory-map\0compatible\0";

    [Fact]
    public void Kho_root_page_after_creation_matches_kho_md_4_3()
    {
        byte[] page = CreateKhoPage();
        byte[] expected = new Image()
            .Be(FdtConst.Magic, 0x98, 0x40, 0x78, 0x30, 17, 16, 0, 0x20, 0x38)
            .Zeros(8)                                         // header rounded to 48
            .At(0x30).Zeros(16)                               // reserve-map terminator
            .At(0x40).Be(1, 0)                                // root
            .Be(3, 7, 21).Str("kho-v4\0").Zeros(1)            // compatible, nameoff 21
            .Be(3, 8, 0).Le64(RootPhys)                       // preserved-memory-map, nameoff 0
            .Be(2, 9)
            .At(0x78).Str(CreationStrings)
            .At(0x98).ToArray();
        Assert.Equal(expected, page[..0x98]);
        Assert.True(page.AsSpan(0x98, 4064 - 0x98).IndexOfAnyExcept((byte)0) < 0, "bytes 0x98..4063 must be zero");
        Assert.Equal(CreationStrings, Encoding.ASCII.GetString(page, 4064, 32));
        Assert.Equal(0, F.CheckFull(page.AsSpan(0, 0x98)));
    }

    /// <summary>kho_add_subtree(): fdt_open_into(fdt, fdt, 4096), add_subnode, setprop x2, fdt_pack (kho.md §4.3).</summary>
    private static int AddSubtree(byte[] page, string name, ulong phys, ulong size)
    {
        Assert.Equal(0, FdtRw.OpenInto(page, page));
        Assert.Equal((uint)Page, F.TotalSize(page));
        int node = FdtRw.AddSubnode(page, 0, name);
        Assert.True(node >= 0, FdtErrors.Name(node));
        Assert.Equal(0, FdtRw.SetPropU64Le(page, node, "preserved-data"u8, phys));
        Assert.Equal(0, FdtRw.SetPropU64Le(page, node, "blob-size"u8, size));
        Assert.Equal(0, FdtRw.Pack(page));
        return node;
    }

    private static readonly byte[] AfterKhoInit = new Image()
        .Be(FdtConst.Magic, 0xE9, 0x38, 0xB0, 0x28, 0x11, 0x10, 0, 0x39, 0x78)
        .At(0x28).Zeros(16)
        .At(0x38).Be(1, 0)
        .At(0x40).Be(3, 7, 0x15).Str("kho-v4\0").Zeros(1)
        .At(0x54).Be(3, 8, 0).Le64(RootPhys)
        .At(0x68).Be(1).Str("kexec-metadata\0\0")
        .At(0x7C).Be(3, 8, 0x2F).Le64(73)
        .At(0x90).Be(3, 8, 0x20).Le64(MetadataPhys)
        .At(0xA4).Be(2)
        .At(0xA8).Be(2)
        .At(0xAC).Be(9)
        .At(0xB0).Str("preserved-memory-map\0compatible\0preserved-data\0blob-size\0")
        .At(0xE9).ToArray();

    [Fact]
    public void Kho_root_page_after_kho_init_matches_kho_md_4_4_including_stale_bytes()
    {
        byte[] page = CreateKhoPage();
        int node = AddSubtree(page, "kexec-metadata", MetadataPhys, 73);
        Assert.Equal(0x30, node);                             // right after the root's properties
        Assert.Equal(AfterKhoInit, page[..0xE9]);
        Assert.Equal("ob-size\0", Encoding.ASCII.GetString(page, 0xE9, 8));
        Assert.True(page.AsSpan(0xF1, 4064 - 0xF1).IndexOfAnyExcept((byte)0) < 0, "bytes 0xF1..4063 must be zero");
        Assert.Equal(CreationStrings, Encoding.ASCII.GetString(page, 4064, 32));
        Assert.Equal(0, F.CheckFull(page.AsSpan(0, 0xE9)));
        Assert.Empty(FdtStrictCheck.Check(page.AsSpan(0, 0xE9)));
    }

    [Fact]
    public void Later_subtree_is_inserted_before_kexec_metadata_with_no_new_strings()
    {
        byte[] page = CreateKhoPage();
        AddSubtree(page, "kexec-metadata", MetadataPhys, 73);
        int x = AddSubtree(page, "X", 0x1234000, 0x5000);
        Assert.Equal(0x30, x);                                // struct offset 0x30, before kexec-metadata
        const int XBytes = 8 + 20 + 20 + 4;                   // BEGIN + "X\0\0\0", two 8-byte props, END_NODE
        Assert.Equal(0x39u, F.SizeDtStrings(page));           // no new strings
        Assert.Equal((uint)(0x78 + XBytes), F.SizeDtStruct(page));
        Assert.Equal((uint)(0xE9 + XBytes), F.TotalSize(page));
        byte[] inserted = new Image()
            .Be(1).Str("X\0\0\0")
            .Be(3, 8, 47).Le64(0x5000)                        // blob-size first (added second)
            .Be(3, 8, 32).Le64(0x1234000)                     // preserved-data
            .Be(2).ToArray();
        Assert.Equal(inserted, page[(0x38 + 0x30)..(0x38 + 0x30 + XBytes)]);
        // Everything before the insertion point and the old subtree after it are unchanged, shifted by 52 bytes.
        Assert.Equal(AfterKhoInit[0x28..0x68], page[0x28..0x68]);
        Assert.Equal(AfterKhoInit[0x68..0xE9], page[(0x68 + XBytes)..(0xE9 + XBytes)]);
        Assert.Equal(
            "header version=17 last_comp_version=16 boot_cpuid_phys=0\n"
            + "node 0 /\n"
            + "prop / compatible 7 6b686f2d763400\n"
            + "prop / preserved-memory-map 8 0040be1601000000\n"
            + "node 1 /X\n"
            + "prop /X blob-size 8 0050000000000000\n"
            + "prop /X preserved-data 8 0040230100000000\n"
            + "node 1 /kexec-metadata\n"
            + "prop /kexec-metadata blob-size 8 4900000000000000\n"
            + "prop /kexec-metadata preserved-data 8 00503f0a01000000\n",
            FdtTreePrinter.ToText(page, out int err));
        Assert.Equal(0, err);
    }

    /// <summary>The KHO page after kho_init, opened for editing in a fresh 4096-byte buffer.</summary>
    private static byte[] OpenKhoPage()
    {
        byte[] page = CreateKhoPage();
        AddSubtree(page, "kexec-metadata", MetadataPhys, 73);
        Assert.Equal(0, FdtRw.OpenInto(page, page));
        return page;
    }

    private static string Text(byte[] fdt)
    {
        string text = FdtTreePrinter.ToText(fdt, out int err);
        Assert.Equal(0, err);
        return text;
    }

    [Fact]
    public void AddSubnode_with_an_existing_name_is_EXISTS_and_changes_nothing()
    {
        byte[] page = OpenKhoPage();
        byte[] before = (byte[])page.Clone();
        Assert.Equal(FdtError.Exists.Neg(), FdtRw.AddSubnode(page, 0, "kexec-metadata"));
        Assert.Equal(before, page);
        // Unit-address rule: "cpu" matches an existing "cpu@0".
        Assert.Equal(0x30, FdtRw.AddSubnode(page, 0, "cpu@0"));
        Assert.Equal(FdtError.Exists.Neg(), FdtRw.AddSubnode(page, 0, "cpu"));
        Assert.Equal(FdtError.Exists.Neg(), FdtRw.AddSubnode(page, 0, "cpu@0"));
        Assert.True(FdtRw.AddSubnode(page, 0, "cpu@1") >= 0);
    }

    [Fact]
    public void DelNode_removes_the_subtree_and_keeps_the_strings()
    {
        byte[] page = OpenKhoPage();
        int node = F.SubnodeOffset(page, 0, "kexec-metadata");
        Assert.Equal(0x30, node);
        Assert.Equal(0, FdtRw.DelNode(page, node));
        Assert.Equal(0x39u, F.SizeDtStrings(page));
        Assert.Equal(0x78u - 0x40, F.SizeDtStruct(page));       // the 64-byte subtree is gone
        Assert.Equal(FdtError.NotFound.Neg(), F.SubnodeOffset(page, 0, "kexec-metadata"));
        Assert.Equal(
            "header version=17 last_comp_version=16 boot_cpuid_phys=0\nnode 0 /\n"
            + "prop / compatible 7 6b686f2d763400\nprop / preserved-memory-map 8 0040be1601000000\n", Text(page));
        Assert.Equal(FdtError.BadOffset.Neg(), FdtRw.DelNode(page, 4));
    }

    [Fact]
    public void DelProp_removes_the_property_bytes_only()
    {
        byte[] page = OpenKhoPage();
        Assert.Equal(0, FdtRw.DelProp(page, 0, "compatible"u8));
        Assert.Equal(0x78u - 20, F.SizeDtStruct(page));
        Assert.Equal(0x39u, F.SizeDtStrings(page));
        Assert.Equal(FdtError.NotFound.Neg(), F.GetProp(page, 0, "compatible", out _));
        // The next property now starts right after the root's name.
        Assert.Equal(new Image().Be(1, 0, 3, 8, 0).Le64(RootPhys).ToArray(), page[0x38..0x54]);
        Assert.Equal(FdtError.NotFound.Neg(), FdtRw.DelProp(page, 0, "compatible"u8));
    }

    [Fact]
    public void AppendProp_extends_the_value_and_creates_missing_properties()
    {
        byte[] page = OpenKhoPage();
        Assert.Equal(0, FdtRw.AppendProp(page, 0, "compatible"u8, "kho-v3\0"u8));
        Assert.Equal(14, F.GetProp(page, 0, "compatible", out ReadOnlySpan<byte> v));
        Assert.Equal("kho-v4\0kho-v3\0"u8.ToArray(), v.ToArray());
        Assert.Equal(2, F.StringListCount(page, 0, "compatible"u8));
        Assert.Equal(0x78u + 8, F.SizeDtStruct(page));          // 8 -> 16 value bytes
        // fdt_appendprop() splices the padded size 8 -> 16 and copies only the new bytes: the last two padding bytes
        // keep what the splice left there (the tail of the next property's "00000003 00000008").
        Assert.Equal(new Image().Be(3, 14, 0x15).Str("kho-v4\0kho-v3\0").Bytes(0x00, 0x08).ToArray(), page[0x40..0x5C]);

        int meta = F.SubnodeOffset(page, 0, "kexec-metadata");
        Assert.Equal(0, FdtRw.AppendProp(page, meta, "new"u8, [1, 2, 3]));
        Assert.Equal(3, F.GetProp(page, meta, "new", out v));
        Assert.Equal(new byte[] { 1, 2, 3 }, v.ToArray());
        Assert.Equal(0x39u + 4, F.SizeDtStrings(page));         // "new\0" appended
    }

    [Fact]
    public void SetProp_grows_and_shrinks_in_place_leaving_libfdt_stale_padding()
    {
        byte[] page = OpenKhoPage();
        // Grow: 7 -> 13 bytes, padded 8 -> 16; everything after moves by 8. Padding bytes 13..15 are whatever the
        // splice left (bytes 5..7 of the next property's "00000003 00000008"), as in libfdt.
        Assert.Equal(0, FdtRw.SetProp(page, 0, "compatible", "kho-v4-longer"u8));
        Assert.Equal(0x78u + 8, F.SizeDtStruct(page));
        Assert.Equal(new Image().Be(3, 13, 0x15).Str("kho-v4-longer").Bytes(0, 0, 8).Be(3, 8, 0).ToArray(), page[0x40..0x68]);

        // Shrink 13 -> 9 (padded 16 -> 12): 4 bytes removed after the first 12; padding keeps the old "nge".
        Assert.Equal(0, FdtRw.SetProp(page, 0, "compatible", "012345678"u8));
        Assert.Equal(0x78u + 4, F.SizeDtStruct(page));
        Assert.Equal(new Image().Be(3, 9, 0x15).Str("012345678").Str("nge").Be(3, 8, 0).ToArray(), page[0x40..0x64]);
        Assert.Equal(0, F.CheckFull(page));

        // Shrink to 1 byte (padded 4): 12 bytes removed.
        Assert.Equal(0, FdtRw.SetProp(page, 0, "compatible", "Z"u8));
        Assert.Equal(0x78u - 4, F.SizeDtStruct(page));
        Assert.Equal(new Image().Be(3, 1, 0x15).Str("Z123").Be(3, 8, 0).ToArray(), page[0x40..0x5C]);
        Assert.Equal(1, F.GetProp(page, 0, "compatible", out ReadOnlySpan<byte> v));
        Assert.Equal("Z"u8.ToArray(), v.ToArray());
        Assert.Equal(0, F.CheckFull(page));
    }

    [Fact]
    public void NOSPACE_when_the_buffer_is_full_changes_nothing()
    {
        byte[] page = CreateKhoPage();
        AddSubtree(page, "kexec-metadata", MetadataPhys, 73);
        // A buffer exactly as large as the blob: no room for anything.
        byte[] full = new byte[0xE9];
        Assert.Equal(0, FdtRw.OpenInto(page.AsSpan(0, 0xE9), full));
        byte[] before = (byte[])full.Clone();
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.AddSubnode(full, 0, "Y"));
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.SetProp(full, 0, "brand-new"u8, [1]));
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.SetProp(full, 0, "compatible", "kho-v4-longer"u8));
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.AppendProp(full, 0, "compatible"u8, [1, 2]));   // 9 bytes pad to 12
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.AddMemRsv(full, 0x1000, 0x1000));
        Assert.Equal(before, full);

        // Room for the new name (10 bytes) but not for the 16-byte property: libfdt appends the name, fails the
        // struct splice and shrinks size_dt_strings again; the header and data are unchanged, the free bytes keep
        // the name (fdt_del_last_string_ only lowers the size).
        byte[] tight = new byte[0xE9 + 10];
        Assert.Equal(0, FdtRw.OpenInto(page.AsSpan(0, 0xE9), tight));
        byte[] tightBefore = (byte[])tight.Clone();
        Assert.Equal(FdtError.NoSpace.Neg(), FdtRw.SetProp(tight, 0, "brand-new"u8, [1]));
        Assert.Equal(tightBefore[..0xE9], tight[..0xE9]);
        Assert.Equal("brand-new\0", Encoding.ASCII.GetString(tight, 0xE9, 10));
        Assert.Equal(0, F.CheckFull(tight));
        Assert.Equal(Text(page[..0xE9]), Text(tight));
    }

    [Fact]
    public void Misordered_blocks_are_BADLAYOUT_until_OpenInto_repacks_them()
    {
        byte[] blob = Vectors.Bytes("ok-strings-before-struct.dtb");
        string text = Text(blob);
        byte[] copy = (byte[])blob.Clone();
        Assert.Equal(FdtError.BadLayout.Neg(), FdtRw.SetProp(copy, 0, "x"u8, [1]));
        Assert.Equal(FdtError.BadLayout.Neg(), FdtRw.AddSubnode(copy, 0, "y"));
        Assert.Equal(FdtError.BadLayout.Neg(), FdtRw.DelProp(copy, 0, "compatible"u8));
        Assert.Equal(FdtError.BadLayout.Neg(), FdtRw.Pack(copy));
        Assert.Equal(blob, copy);

        byte[] buf = new byte[512];
        Assert.Equal(0, FdtRw.OpenInto(blob, buf));
        Assert.Equal(0, F.CheckFull(buf));
        Assert.Equal(text, Text(buf));
        // fdt_packblocks_: rsvmap 40, struct right after it, strings after struct; totalsize = the buffer.
        Assert.Equal(40u, F.OffMemRsvmap(buf));
        Assert.Equal(56u, F.OffDtStruct(buf));
        Assert.Equal(56u + F.SizeDtStruct(blob), F.OffDtStrings(buf));
        Assert.Equal(512u, F.TotalSize(buf));
        Assert.Equal(0, FdtRw.SetProp(buf, 0, "x"u8, [1]));
        Assert.Equal(0, FdtRw.Pack(buf));
        Assert.Equal(0, F.CheckFull(buf.AsSpan(0, (int)F.TotalSize(buf))));
        Assert.Equal(1, F.GetProp(buf, 0, "x", out _));
    }
}
