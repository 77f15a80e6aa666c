using System.Buffers.Binary;
using System.Collections.Immutable;
using FsCheck;
using FsCheck.Fluent;
using LuoModel.Fdt;
using LuoModel.PropertyTests.Support;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>
/// Each writer property must be able to fail: the same property (<see cref="FdtWriterChecks"/>) is run against
/// a deliberately broken build path made in test code (wrong call order, or a finished blob corrupted in a
/// controlled way), and FsCheck must report it falsified under the expected label — not by an exception
/// escaping the broken path, which would prove nothing about the property.
/// </summary>
public class BrokenWriterTests
{
    // Seeded: every CI run tries the same 300 cases (Support/Seeds.cs).
    private static readonly Config Run = Config.QuickThrowOnFailure.WithMaxTest(300).WithQuietOnSuccess(true).Replay(0x4C55_4F4D_4F44_454CUL);

    /// <summary>Runs the property; returns FsCheck's failure report, asserting there was one.</summary>
    private static string Falsified(Property property)
    {
        Exception? ex = Record.Exception(() => property.Check(Run));
        Assert.NotNull(ex);
        Assert.Contains("Falsifiable", ex.Message, StringComparison.Ordinal);
        // Only a labelled result lists labels: an exception thrown by the broken path itself would not.
        Assert.Contains("of failing property", ex.Message, StringComparison.Ordinal);
        return ex.Message;
    }

    /// <summary>The helper above tells a falsified property from a broken path that merely crashed.</summary>
    [Fact]
    public void A_path_that_throws_is_not_counted_as_caught()
    {
        Exception? ex = Record.Exception(() => FdtWriterChecks.RoundTrip(_ => throw new InvalidOperationException("broken path crashed")).Check(Run));
        Assert.NotNull(ex);
        Assert.Contains("broken path crashed", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("of failing property", ex.Message, StringComparison.Ordinal);
    }

    private static byte[] Good(TreeCase t) => FdtBuilders.Sequential(t, FdtCreateFlags.None);

    // ---- broken build paths -------------------------------------------------------------------------------

    /// <summary>Emits the first two properties of the first node that has two in swapped order.</summary>
    private static byte[] SwapsTwoProperties(TreeCase t, FdtCreateFlags flags)
    {
        var ops = t.Ops().ToBuilder();
        for (int i = 0; i + 2 < ops.Count; i++)
        {
            if (ops[i].Kind == WriterOpKind.Begin && ops[i + 1].Kind == WriterOpKind.Prop && ops[i + 2].Kind == WriterOpKind.Prop)
            {
                (ops[i + 1], ops[i + 2]) = (ops[i + 2], ops[i + 1]);
                break;
            }
        }
        return FdtBuilders.SequentialOps(ops, flags, FdtBuilders.FixedBufferSize(t));
    }

    /// <summary>Writes the tree with the first two children of the first node that has two swapped.</summary>
    private static byte[] SwapsTwoSiblings(TreeCase t)
    {
        static TreeNode Swap(TreeNode n, ref bool done)
        {
            if (done) return n;
            if (n.Children.Length >= 2)
            {
                done = true;
                return n with { Children = n.Children.SetItem(0, n.Children[1]).SetItem(1, n.Children[0]) };
            }
            var kids = n.Children.ToBuilder();
            for (int i = 0; i < kids.Count; i++) kids[i] = Swap(kids[i], ref done);
            return n with { Children = kids.ToImmutable() };
        }
        bool swapped = false;
        return Good(t with { Root = Swap(t.Root, ref swapped) });
    }

    /// <summary>Never adds the reservation entries.</summary>
    private static byte[] LosesReservations(TreeCase t) => Good(t with { Reservations = [] });

    /// <summary>
    /// Drops one padding byte after the root's (empty) name and shrinks the header sizes to match, as a writer
    /// that forgot to align a name would.
    /// </summary>
    private static byte[] DropsPaddingByte(TreeCase t)
    {
        byte[] blob = Good(t);
        int at = (int)FdtRo.OffDtStruct(blob) + FdtConst.TagSize + 1;   // second byte of the root name's 4-byte field
        byte[] broken = [.. blob.AsSpan(0, at), .. blob.AsSpan(at + 1)];
        FdtRo.SetSizeDtStruct(broken, FdtRo.SizeDtStruct(blob) - 1);
        FdtRo.SetOffDtStrings(broken, FdtRo.OffDtStrings(blob) - 1);
        FdtRo.SetTotalSize(broken, FdtRo.TotalSize(blob) - 1);
        return broken;
    }

    /// <summary>The first property's nameoff points one byte further into the strings block.</summary>
    private static byte[] WrongNameoff(TreeCase t, FdtCreateFlags flags)
    {
        byte[] blob = FdtBuilders.Sequential(t, flags);
        if (FdtBuilders.MaskNameoffs(blob) is { NameoffAt: [int first, ..] })
            BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(first), BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(first)) + 1);
        return blob;
    }

    /// <summary>Leaves a non-zero byte in the value padding of the first property whose length is not a multiple of 4.</summary>
    private static byte[] DirtyPadding(TreeCase t, FdtCreateFlags flags)
    {
        byte[] blob = FdtBuilders.Sequential(t, flags);
        if (flags != FdtCreateFlags.NoNameDedup) return blob;
        foreach (int nameoffAt in FdtBuilders.MaskNameoffs(blob)!.Value.NameoffAt)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(nameoffAt - 4));
            if (len % 4 == 0) continue;
            blob[nameoffAt + 4 + len] = 0xa5;
            break;
        }
        return blob;
    }

    /// <summary>Ignores FDT_CREATE_FLAG_NO_NAME_DEDUP.</summary>
    private static byte[] AlwaysDedups(TreeCase t, FdtCreateFlags flags) => FdtBuilders.Sequential(t, FdtCreateFlags.None);

    /// <summary>Flips the first byte of the first non-empty property value.</summary>
    private static byte[] FlipsValueByte(TreeCase t)
    {
        byte[] blob = Good(t);
        foreach (int nameoffAt in FdtBuilders.MaskNameoffs(blob)!.Value.NameoffAt)
        {
            if (BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(nameoffAt - 4)) == 0) continue;
            blob[nameoffAt + 4] ^= 0xff;
            break;
        }
        return blob;
    }

    // ---- (a) round trip -----------------------------------------------------------------------------------

    [Fact]
    public void Round_trip_catches_swapped_properties() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.RoundTrip(t => SwapsTwoProperties(t, FdtCreateFlags.None))), StringComparison.Ordinal);

    [Fact]
    public void Round_trip_catches_a_dropped_padding_byte() =>
        Assert.Contains($"{FdtWriterChecks.CheckFullLabel} = FDT_ERR_", Falsified(FdtWriterChecks.RoundTrip(DropsPaddingByte)), StringComparison.Ordinal);

    [Fact]
    public void Round_trip_catches_a_wrong_nameoff() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.RoundTrip(t => WrongNameoff(t, FdtCreateFlags.None))), StringComparison.Ordinal);

    [Fact]
    public void Round_trip_catches_lost_reservations() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.RoundTrip(LosesReservations)), StringComparison.Ordinal);

    // ---- (b) dedup vs no-dedup ----------------------------------------------------------------------------

    [Fact]
    public void Dedup_property_catches_dirty_padding_in_the_structure_block()
    {
        string report = Falsified(FdtWriterChecks.DedupMatchesNoDedup(DirtyPadding));
        Assert.Contains(FdtWriterChecks.StructLabel, report, StringComparison.Ordinal);
        Assert.DoesNotContain(FdtWriterChecks.TreeTextLabel, report, StringComparison.Ordinal);   // invisible to readers
    }

    [Fact]
    public void Dedup_property_catches_an_ignored_nodedup_flag() =>
        Assert.Contains($"{FdtWriterChecks.StringsSizeLabel}: nodedup", Falsified(FdtWriterChecks.DedupMatchesNoDedup(AlwaysDedups)), StringComparison.Ordinal);

    [Fact]
    public void Dedup_property_catches_swapped_properties_in_one_variant() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.DedupMatchesNoDedup(
            (t, flags) => flags == FdtCreateFlags.NoNameDedup ? SwapsTwoProperties(t, flags) : FdtBuilders.Sequential(t, flags))), StringComparison.Ordinal);

    [Fact]
    public void Strings_property_catches_a_wrong_nameoff() =>
        Assert.Contains(FdtWriterChecks.NameoffsLabel, Falsified(FdtWriterChecks.StringsFollowLibfdtRules(WrongNameoff, t => FdtBuilders.ReadWrite(t))), StringComparison.Ordinal);

    [Fact]
    public void Strings_property_catches_names_stored_in_order_of_first_use() =>
        // Distinct names show in the block itself; a repeated name ("a", "a") only in the nameoffs.
        Assert.Matches($"({FdtWriterChecks.StringsBlockLabel}|{FdtWriterChecks.NameoffsLabel}) nodedup", Falsified(FdtWriterChecks.StringsFollowLibfdtRules(
            (t, flags) => flags == FdtCreateFlags.NoNameDedup ? ReversedStrings(t) : FdtBuilders.Sequential(t, flags),
            t => FdtBuilders.ReadWrite(t))));

    /// <summary>
    /// A no-dedup blob whose strings block is in order of first use (dtc's order, not libfdt's) with nameoffs
    /// rewritten to match: readers cannot tell, the byte-exact property must.
    /// </summary>
    private static byte[] ReversedStrings(TreeCase t)
    {
        byte[] blob = FdtBuilders.Sequential(t, FdtCreateFlags.NoNameDedup);
        int strOff = (int)FdtRo.OffDtStrings(blob);
        int offset = 0;
        var inOrder = new List<byte>();
        foreach (int at in FdtBuilders.MaskNameoffs(blob)!.Value.NameoffAt)
        {
            int old = BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(at));
            int len = blob.AsSpan(strOff + old).IndexOf((byte)0) + 1;
            inOrder.AddRange(blob.AsSpan(strOff + old, len));
            BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(at), offset);
            offset += len;
        }
        inOrder.CopyTo(blob, strOff);
        return blob;
    }

    // ---- (c) read-write API -------------------------------------------------------------------------------

    [Fact]
    public void Read_write_property_catches_insertion_in_forward_order() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.ReadWriteMatchesSequential(
            t => FdtBuilders.ReadWrite(t, reverseInsertion: false), Good)), StringComparison.Ordinal);

    [Fact]
    public void Read_write_property_catches_a_wrong_nameoff() =>
        Assert.Contains(FdtWriterChecks.TreeTextLabel, Falsified(FdtWriterChecks.ReadWriteMatchesSequential(
            t => WrongNameoffRw(t), Good)), StringComparison.Ordinal);

    private static byte[] WrongNameoffRw(TreeCase t)
    {
        byte[] blob = FdtBuilders.ReadWrite(t);
        if (FdtBuilders.MaskNameoffs(blob) is { NameoffAt: [int first, ..] })
            BinaryPrimitives.WriteInt32BigEndian(blob.AsSpan(first), BinaryPrimitives.ReadInt32BigEndian(blob.AsSpan(first)) + 1);
        return blob;
    }

    // ---- (f) look-ups -------------------------------------------------------------------------------------

    [Fact]
    public void Lookups_catch_swapped_siblings() =>
        Assert.Contains(FdtWriterChecks.PathLabel, Falsified(FdtWriterChecks.Lookups(SwapsTwoSiblings)), StringComparison.Ordinal);

    [Fact]
    public void Lookups_catch_a_flipped_value_byte() =>
        Assert.Contains(FdtWriterChecks.GetPropLabel, Falsified(FdtWriterChecks.Lookups(FlipsValueByte)), StringComparison.Ordinal);

    [Fact]
    public void Lookups_catch_a_wrong_nameoff() =>
        Assert.Contains(FdtWriterChecks.GetPropLabel, Falsified(FdtWriterChecks.Lookups(t => WrongNameoff(t, FdtCreateFlags.None))), StringComparison.Ordinal);
}
