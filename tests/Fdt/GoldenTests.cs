using System.Buffers.Binary;
using LuoModel.Fdt;

namespace LuoModel.Tests.Fdt;

/// <summary>Byte-exact writer output and libfdt-identical reading of the golden vectors.</summary>
public class GoldenTests
{
    [Theory]
    [MemberData(nameof(Vectors.CaseBlobs), MemberType = typeof(Vectors))]
    public void Tree_text_of_each_blob_matches(string id, string kind)
    {
        byte[] blob = Vectors.Bytes($"{id}.{kind}.dtb");
        Assert.Equal(0, LuoModel.Fdt.Fdt.CheckFull(blob));
        string text = FdtTreePrinter.ToText(blob, out int err);
        Assert.Equal(0, err);
        Assert.Equal(Vectors.Text($"{id}.tree.txt"), text);
    }

    /// <summary>Builds a case with the exact call sequence of the vectors README, including the 17/19/20 steps.</summary>
    internal static byte[] BuildCase(string id, FdtCreateFlags flags)
    {
        FdtNode root = FdtNode.ParseTreeText(Vectors.Text($"{id}.tree.txt"), out var rsv);
        if (id.StartsWith("17-", StringComparison.Ordinal))
        {
            // The tree as built before the NOPs (vectors README, 17-nop).
            FdtNode full = new("");
            full.Prop("compatible", "test,nop").Prop("removed-prop", U32(0xdead)).Prop("kept", U32(1));
            full.Child("removed-node").Prop("status", "gone");
            full.Child("kept-node").Prop("removed-too", U32(2)).Prop("status", "okay");
            root = full;
        }
        if (id.StartsWith("20-", StringComparison.Ordinal)) rsv.AddRange([(0, 0), (0, 0)]);

        using var w = new FdtWriter();
        byte[] buf = new byte[1024];
        int err;
        // Start at 1024 bytes and double while any call reports NOSPACE, redoing the whole build.
        while (true)
        {
            err = w.CreateWithFlags(buf, buf.Length, flags);
            foreach (var (a, s) in rsv) if (err == 0) err = w.AddReservemapEntry(a, s);
            if (err == 0) err = w.FinishReservemap();
            if (err == 0) err = root.WriteTo(w);
            if (err == 0) err = w.Finish();
            if (err != FdtError.NoSpace.Neg()) break;
            buf = new byte[buf.Length * 2];
        }
        Assert.Equal(0, err);
        byte[] blob = w.ToArray();

        if (id.StartsWith("17-", StringComparison.Ordinal))
        {
            Assert.Equal(0, FdtRw.NopProperty(blob, 0, "removed-prop"u8));
            Assert.Equal(0, FdtRw.NopNode(blob, LuoModel.Fdt.Fdt.PathOffset(blob, "/removed-node")));
            Assert.Equal(0, FdtRw.NopProperty(blob, LuoModel.Fdt.Fdt.PathOffset(blob, "/kept-node"), "removed-too"u8));
        }
        if (id.StartsWith("19-", StringComparison.Ordinal))
        {
            LuoModel.Fdt.Fdt.SetVersion(blob, 16);
            blob.AsSpan(36, 4).Clear();
        }
        if (id.StartsWith("20-", StringComparison.Ordinal))
        {
            LuoModel.Fdt.Fdt.SetBootCpuidPhys(blob, 3);
            Array.Resize(ref blob, blob.Length + 64);
            LuoModel.Fdt.Fdt.SetTotalSize(blob, (uint)blob.Length);
        }
        return blob;
    }

    private static byte[] U32(uint v)
    {
        byte[] b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    [Theory]
    [MemberData(nameof(Vectors.Cases), MemberType = typeof(Vectors))]
    public void Sequential_writer_is_byte_identical_to_libfdt(string id)
    {
        Assert.Equal(Vectors.Bytes($"{id}.libfdt.dtb"), BuildCase(id, FdtCreateFlags.None));
    }

    [Theory]
    [MemberData(nameof(Vectors.Cases), MemberType = typeof(Vectors))]
    public void Sequential_writer_without_dedup_is_byte_identical_to_libfdt(string id)
    {
        Assert.Equal(Vectors.Bytes($"{id}.libfdt-nodedup.dtb"), BuildCase(id, FdtCreateFlags.NoNameDedup));
    }

    public static TheoryData<string, int, int> CraftedRows()
    {
        var d = new TheoryData<string, int, int>();
        foreach (var (f, h, c) in Vectors.Crafted()) d.Add(f, h, c);
        if (d.Count == 0) d.Add("<no crafted-results.tsv>", 0, 1);
        return d;
    }

    [Theory]
    [MemberData(nameof(CraftedRows))]
    public void Check_full_and_check_header_give_libfdt_codes(string file, int header, int full)
    {
        byte[] blob = Vectors.Bytes(file);
        Assert.Equal(full, LuoModel.Fdt.Fdt.CheckFull(blob));
        if (header != int.MinValue) Assert.Equal(header, LuoModel.Fdt.Fdt.CheckHeader(blob));
    }
}
