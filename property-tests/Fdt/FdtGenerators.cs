using System.Collections.Immutable;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>
/// FsCheck generators for random device trees (fdt.md §3, §6): valid node and property names, values of
/// every small length with all byte values plus occasional long ones, bounded depth and fan-out, and
/// reservation-map entries. <see cref="Trees"/> comes with a shrinker that removes reservations, children and
/// properties and shortens values, which keeps every invariant below.
/// </summary>
/// <remarks>
/// Invariants of a generated tree: sibling node names are distinct and no sibling without a unit address
/// shares its base name with another sibling (so libfdt's "name without @ matches name@anything" look-up
/// finds exactly the intended node, fdt.md §6); property names are distinct within a node and never
/// <c>name</c>; names are 1..31 characters; the deepest node has depth <see cref="MaxDepth"/>.
/// </remarks>
public static class FdtGenerators
{
    /// <summary>Characters allowed in node names and unit addresses.</summary>
    public const string NodeNameChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,._+-";
    /// <summary>Characters allowed in property names.</summary>
    public const string PropNameChars = NodeNameChars + "?#";
    /// <summary>Longest name.</summary>
    public const int MaxNameLength = 31;
    /// <summary>Depth of the deepest generated node (the root has depth 0).</summary>
    public const int MaxDepth = 6;

    /// <summary>Real-world names (and tails of them) so that de-duplication and tail sharing happen often.</summary>
    private static readonly string[] CommonPropNames =
    [
        "compatible", "reg", "#address-cells", "#size-cells", "cells", "s", "status", "ranges", "ible",
        "linux,phandle", "phandle", "fdt", "preserved-memory-map", "map", "kho,a?b#", "b#",
    ];

    private static Gen<string> Word(string alphabet, Gen<int> length) =>
        from len in length
        from chars in Gen.ArrayOf(Gen.Elements(alphabet.ToCharArray()), len)
        select new string(chars);

    /// <summary>Mostly short lengths, sometimes up to the 31-character limit, sometimes exactly it.</summary>
    private static Gen<int> NameLength(int max) => Gen.Frequency(
        (6, Gen.Choose(1, Math.Min(6, max))),
        (2, Gen.Choose(1, Math.Min(16, max))),
        (1, Gen.Choose(1, max)),
        (1, Gen.Constant(max)));

    /// <summary>A node name: <c>base</c> or <c>base@unit</c>, at most 31 characters in all.</summary>
    public static Gen<string> NodeName { get; } =
        from small in Gen.Frequency((1, Gen.Constant(true)), (3, Gen.Constant(false)))   // small alphabet: more clashes
        let alphabet = small ? "ab" : NodeNameChars
        from baseName in Word(alphabet, small ? Gen.Choose(1, 2) : NameLength(MaxNameLength))
        from withUnit in Gen.Frequency((2, Gen.Constant(false)), (1, Gen.Constant(baseName.Length <= MaxNameLength - 2)))
        from unit in withUnit
            ? Word(alphabet, small ? Gen.Choose(1, 2) : NameLength(MaxNameLength - 1 - baseName.Length))
            : Gen.Constant("")
        select withUnit ? baseName + "@" + unit : baseName;

    /// <summary>A property name (never <c>name</c>, which dtc treats specially, fdt.md §6).</summary>
    public static Gen<string> PropName { get; } = Gen.Frequency(
            (3, Gen.Elements(CommonPropNames)),
            (2, Word("ab,#?", Gen.Choose(1, 3))),
            (3, Word(PropNameChars, NameLength(MaxNameLength))))
        .Where(n => n != "name");

    private static Gen<byte[]> RandomBytes(int length) => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length);

    /// <summary>
    /// A property value: empty, a string with its NUL (sometimes a string list), any of the lengths 0..40 with
    /// all byte values, or occasionally a long value (41..4096 bytes, filled from a generated seed).
    /// </summary>
    public static Gen<byte[]> Value { get; } = Gen.Frequency(
        (2, Gen.Constant(Array.Empty<byte>())),
        (3, from parts in Gen.ListOf(Word(NodeNameChars + " /:", Gen.Choose(0, 12)), 3)
            from n in Gen.Choose(1, 3)
            select parts.Take(n).SelectMany(s => Encoding.ASCII.GetBytes(s + "\0")).ToArray()),
        (8, Gen.Choose(0, 40).SelectMany(RandomBytes)),
        (1, from len in Gen.Choose(41, 4096)
            from seed in Gen.Choose(0, int.MaxValue)
            select Fill(seed, len)));

    private static byte[] Fill(int seed, int length)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A u64 with interesting edges (0, all ones, page aligned) and random bit patterns.</summary>
    public static Gen<ulong> U64 { get; } = Gen.Frequency(
        (1, Gen.Elements(0UL, 1UL, ulong.MaxValue, 0x8000_0000_0000_0000UL, 0x1000UL)),
        (2, Gen.Choose(0, 1 << 20).Select(p => (ulong)p << 12)),
        (4, from hi in Gen.Choose(int.MinValue, int.MaxValue)
            from lo in Gen.Choose(int.MinValue, int.MaxValue)
            select ((ulong)(uint)hi << 32) | (uint)lo));

    /// <summary>A reservation entry with a non-zero size.</summary>
    public static Gen<Reservation> ReservationEntry { get; } =
        from a in U64
        from s in U64.Where(s => s != 0)
        select new Reservation(a, s);

    /// <summary>True when two sibling names could be confused by libfdt's look-up rule (fdt.md §6).</summary>
    public static bool SiblingsClash(string a, string b) =>
        a == b || (!a.Contains('@', StringComparison.Ordinal) && BaseName(b) == a)
               || (!b.Contains('@', StringComparison.Ordinal) && BaseName(a) == b);

    private static string BaseName(string n)
    {
        int at = n.IndexOf('@', StringComparison.Ordinal);
        return at < 0 ? n : n[..at];
    }

    /// <summary>Keeps the first of any clashing names.</summary>
    private static string[] UniqueSiblings(string[] names)
    {
        var kept = new List<string>();
        foreach (string n in names)
            if (!kept.Exists(k => SiblingsClash(k, n))) kept.Add(n);
        return [.. kept];
    }

    private static Gen<ImmutableArray<TreeProp>> Props(int size) =>
        from count in Gen.Choose(0, Math.Min(6, 1 + (size / 8)))
        from names in Gen.ArrayOf(PropName, count).Select(ns => ns.Distinct(StringComparer.Ordinal).ToArray())
        from props in Gen.CollectToArray(names, n => Value.Select(v => new TreeProp(n, v)))
        select props.ToImmutableArray();

    private static Gen<TreeNode> Node(string name, int depth, int size) =>
        from props in Props(size)
        from children in Children(depth, size)
        select new TreeNode(name, props, children);

    /// <summary>Children get three quarters of the parent's size budget between them, so trees stay small.</summary>
    private static Gen<ImmutableArray<TreeNode>> Children(int depth, int size)
    {
        if (depth >= MaxDepth || size < 4) return Gen.Constant(ImmutableArray<TreeNode>.Empty);
        return from wanted in Gen.Frequency((3, Gen.Constant(0)), (4, Gen.Constant(1)), (2, Gen.Constant(2)), (1, Gen.Constant(3)), (1, Gen.Constant(4)))
               let count = Math.Min(wanted, size / 4)
               from names in Gen.ArrayOf(NodeName, count).Select(UniqueSiblings)
               from kids in Gen.CollectToArray(names, n => Node(n, depth + 1, size * 3 / 4 / Math.Max(1, names.Length)))
               select kids.ToImmutableArray();
    }

    /// <summary>A whole tree: root (empty name) sized by FsCheck's size parameter, 0..4 reservations.</summary>
    public static Gen<TreeCase> TreeCaseGen { get; } = Gen.Sized(size =>
        from root in Node("", 0, size)
        from rsvCount in Gen.Choose(0, 4)
        from rsv in Gen.ArrayOf(ReservationEntry, rsvCount)
        select new TreeCase(root, [.. rsv]));

    /// <summary>Trees with the shrinker.</summary>
    public static Arbitrary<TreeCase> Trees() => Arb.From(TreeCaseGen, Shrink);

    /// <summary>Smaller trees that keep all invariants: fewer reservations, children, properties; shorter values.</summary>
    public static IEnumerable<TreeCase> Shrink(TreeCase t)
    {
        ArgumentNullException.ThrowIfNull(t);
        for (int i = 0; i < t.Reservations.Length; i++) yield return t with { Reservations = t.Reservations.RemoveAt(i) };
        foreach (TreeNode r in ShrinkNode(t.Root)) yield return t with { Root = r };
    }

    private static IEnumerable<TreeNode> ShrinkNode(TreeNode n)
    {
        for (int i = 0; i < n.Children.Length; i++) yield return n with { Children = n.Children.RemoveAt(i) };
        for (int i = 0; i < n.Props.Length; i++) yield return n with { Props = n.Props.RemoveAt(i) };
        for (int i = 0; i < n.Props.Length; i++)
        {
            byte[] v = n.Props[i].Value;
            if (v.Length == 0) continue;
            yield return n with { Props = n.Props.SetItem(i, n.Props[i] with { Value = [] }) };
            if (v.Length > 1) yield return n with { Props = n.Props.SetItem(i, n.Props[i] with { Value = v[..(v.Length / 2)] }) };
        }
        for (int i = 0; i < n.Children.Length; i++)
            foreach (TreeNode c in ShrinkNode(n.Children[i])) yield return n with { Children = n.Children.SetItem(i, c) };
    }

    /// <summary>The sequential writer's creation flags.</summary>
    public static Gen<LuoModel.Fdt.FdtCreateFlags> Flags { get; } =
        Gen.Elements(LuoModel.Fdt.FdtCreateFlags.None, LuoModel.Fdt.FdtCreateFlags.NoNameDedup);
}
