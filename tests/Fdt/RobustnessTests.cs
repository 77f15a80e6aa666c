using System.Runtime.ExceptionServices;
using System.Text;
using LuoModel.Fdt;
using F = LuoModel.Fdt.Fdt;

namespace LuoModel.Tests.Fdt;

/// <summary>
/// Every truncation and every single-byte change of ok-base.dtb (142 + 141 * 256 blobs) through the reader, the
/// strict check, the tree printer, a full walk and the read-write API: only libfdt codes come back, nothing throws,
/// and a blob that fdt_check_full accepts walks with no error but NOTFOUND at iteration ends (differential oracle).
/// One [Fact] per API group; a failure lists the first mutations that broke the rule.
/// </summary>
public class RobustnessTests
{
    private const int NotFound = -1;

    private static byte[] Base => Vectors.Bytes("ok-base.dtb");

    /// <summary>A mutation of ok-base: a truncation (Offset -1) or one byte at Offset set to Value.</summary>
    private readonly record struct Mutation(int Length, int Offset, int Value)
    {
        public override string ToString() =>
            Offset < 0 ? $"truncated to {Length}" : $"byte 0x{Offset:x2} = 0x{Value:x2}";
    }

    /// <summary>Runs <paramref name="body"/> on every mutation; returns descriptions of the failures (at most 20).</summary>
    private static List<string> ForEachMutation(Func<byte[], string?> body)
    {
        byte[] b = Base;
        Assert.Equal(141, b.Length);
        var failures = new List<string>();
        int count = 0;
        void Run(Mutation m, byte[] blob)
        {
            count++;
            string? problem;
            try
            {
                problem = body(blob);
            }
#pragma warning disable CA1031 // the point of the test: any escaping exception is reported with its mutation
            catch (Exception e)
#pragma warning restore CA1031
            {
                problem = $"{e.GetType().Name}: {e.Message}";
            }
            if (problem is not null && failures.Count < 20) failures.Add($"{m}: {problem}");
        }
        for (int len = 0; len <= b.Length; len++) Run(new Mutation(len, -1, 0), b[..len]);
        byte[] buf = (byte[])b.Clone();
        for (int off = 0; off < b.Length; off++)
        {
            for (int v = 0; v < 256; v++)
            {
                buf[off] = (byte)v;
                Run(new Mutation(b.Length, off, v), buf);
            }
            buf[off] = b[off];
        }
        Assert.Equal(142 + (141 * 256), count);
        return failures;
    }

    /// <summary>NOTFOUND (an iteration end or a miss) mapped to 0 for the oracle.</summary>
    private static int Nf(int code) => code == NotFound ? 0 : code;

    private static bool IsCode(int code) => code is 0 or (>= -19 and <= -1);

    private static void AssertNoFailures(List<string> failures) =>
        Assert.True(failures.Count == 0, string.Join('\n', failures));

    [Fact]
    public void CheckFull_and_CheckHeader_return_libfdt_codes()
    {
        int accepted = 0;
        var failures = ForEachMutation(blob =>
        {
            int full = F.CheckFull(blob), header = F.CheckHeader(blob);
            if (full == 0) accepted++;
            if (!IsCode(full)) return $"CheckFull {full}";
            if (!IsCode(header)) return $"CheckHeader {header}";
            // CheckFull includes CheckHeader: a header failure is never accepted by the full check.
            return header != 0 && full == 0 ? $"CheckHeader {header} but CheckFull 0" : null;
        });
        AssertNoFailures(failures);
        Assert.InRange(accepted, 142, 142 * 256);   // the full blob (once per offset) and many harmless changes pass
    }

    private static readonly HashSet<string> KnownRules = typeof(FdtStrictRules).GetFields()
        .Select(f => (string)f.GetRawConstantValue()!).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Strict_check_never_throws_and_reports_known_rules()
    {
        var failures = ForEachMutation(blob =>
        {
            IReadOnlyList<FdtFinding> findings = FdtStrictCheck.Check(blob);
            int full = F.CheckFull(blob);
            if (full != 0)
            {
                return findings is [{ Rule: FdtStrictRules.Libfdt } only] && only.Message == FdtErrors.Name(full)
                    ? null : $"CheckFull {full} but findings {string.Join(", ", findings.Select(f => f.Rule))}";
            }
            foreach (FdtFinding f in findings)
            {
                if (!KnownRules.Contains(f.Rule) || f.Rule == FdtStrictRules.Libfdt) return $"rule {f.Rule}";
                if (f.Offset < 0 || f.Offset > blob.Length) return $"offset {f.Offset} of {f.Rule}";
            }
            return null;
        });
        AssertNoFailures(failures);
    }

    [Fact]
    public void Tree_printer_returns_codes_and_prints_every_accepted_blob()
    {
        var failures = ForEachMutation(blob =>
        {
            string text = FdtTreePrinter.ToText(blob, out int err);
            if (!IsCode(err)) return $"ToText {err}";
            if (F.CheckFull(blob) == 0 && err != 0) return $"CheckFull 0 but ToText {FdtErrors.Name(err)} after {text.Length} chars";
            return null;
        });
        AssertNoFailures(failures);
    }

    private static readonly byte[][] Paths =
        [.. new[] { "/", "/child", "//child/", "/child@1", "/nope", "/child/value" }.Select(Encoding.ASCII.GetBytes)];

    /// <summary>
    /// The full walk: every node by NextNode with name, path, depth, parent, properties by offset, compatible and
    /// subnodes; then path, subnode, property and rsvmap look-ups on the root. Records every negative result.
    /// </summary>
    private static void Walk(ReadOnlySpan<byte> b, List<(string Api, int Code)> results)
    {
        void Note(string api, int code)
        {
            if (code < 0) results.Add((api, code));
        }
        int depth = 0, nodes = 0;
        int node = F.NextNode(b, -1, ref depth);
        while (node >= 0)
        {
            if (++nodes > 1000) { results.Add(("NextNode does not end", int.MinValue)); return; }
            Note("GetName", F.GetName(b, node, out _));
            F.GetPathString(b, node, out int pathErr);
            Note("GetPath", pathErr);
            Note("NodeDepth", F.NodeDepth(b, node));
            if (node != 0) Note("ParentOffset", F.ParentOffset(b, node));
            int prop, props = 0;
            for (prop = F.FirstPropertyOffset(b, node); prop >= 0 && props++ < 1000; prop = F.NextPropertyOffset(b, prop))
                Note("GetPropByOffset", F.GetPropByOffset(b, prop, out ReadOnlySpan<byte> _, out ReadOnlySpan<byte> _));
            if (prop >= 0) { results.Add(("property iteration does not end", int.MinValue)); return; }
            Note("property iteration end", prop == NotFound ? 0 : prop);
            Note("GetProp compatible", Nf(F.GetProp(b, node, "compatible"u8, out ReadOnlySpan<byte> _)));
            int sub, subs = 0;
            for (sub = F.FirstSubnode(b, node); sub >= 0 && subs++ < 1000; sub = F.NextSubnode(b, sub)) { }
            if (sub >= 0) { results.Add(("subnode iteration does not end", int.MinValue)); return; }
            Note("subnode iteration end", sub == NotFound ? 0 : sub);
            node = F.NextNode(b, node, ref depth);
        }
        Note("NextNode end", node == NotFound ? 0 : node);
        foreach (byte[] path in Paths)
        {
            int p = F.PathOffset(b, path);
            Note("PathOffset " + Encoding.ASCII.GetString(path), p == NotFound ? 0 : p);
        }
        int s = F.SubnodeOffset(b, 0, "child"u8);
        Note("SubnodeOffset child", s == NotFound ? 0 : s);
        int gp = F.GetProp(b, 0, "compatible"u8, out ReadOnlySpan<byte> _);
        Note("GetProp / compatible", gp == NotFound ? 0 : gp);
        int cc = F.NodeCheckCompatible(b, 0, "test-v1"u8);
        Note("NodeCheckCompatible", cc == NotFound ? 0 : cc);
        Note("NumMemRsv", F.NumMemRsv(b));
        Note("GetMemRsv 0", F.GetMemRsv(b, 0, out _, out _));
    }

    [Fact]
    public void Full_walk_returns_codes_and_agrees_with_CheckFull()
    {
        var results = new List<(string Api, int Code)>();
        int rootHazards = 0;
        var failures = ForEachMutation(blob =>
        {
            results.Clear();
            Walk(blob, results);
            foreach (var (api, code) in results)
            {
                if (code < -19) return $"{api}: {code}";
            }
            // Differential oracle: what fdt_check_full accepts, every look-up can walk (NOTFOUND was mapped to 0 above).
            if (F.CheckFull(blob) != 0 || results.Count == 0) return null;
            // fdt.md §12 item 19: libfdt accepts a structure block whose first token is not the root, and then its
            // root look-ups fail with BADOFFSET. The strict check names that shape; nothing else may break a walk.
            var rules = FdtStrictCheck.Check(blob).Select(f => f.Rule).ToList();
            if ((rules.Contains(FdtStrictRules.NoRoot) || rules.Contains(FdtStrictRules.DataBeforeRoot))
                && results.All(r => r.Code == FdtError.BadOffset.Neg()))
            {
                rootHazards++;
                return null;
            }
            return "CheckFull 0 but " + string.Join(", ", results.Select(r => $"{r.Api} {FdtErrors.Name(r.Code)}"));
        });
        AssertNoFailures(failures);
        // Exactly one accepted mutation has that shape: byte 0x3b = 0x09 turns the root's BEGIN_NODE into FDT_END
        // (hostile-no-root plus garbage after the end).
        Assert.Equal(1, rootHazards);
        byte[] noRoot = Base;
        noRoot[0x3b] = 0x09;
        Assert.Equal(0, F.CheckFull(noRoot));
        Assert.Equal([FdtStrictRules.NoRoot, FdtStrictRules.GarbageAfterEnd], FdtStrictCheck.Check(noRoot).Select(f => f.Rule));
        Assert.Equal(0, F.PathOffset(noRoot, "/"u8));
        Assert.Equal(FdtError.BadOffset.Neg(), F.GetProp(noRoot, 0, "compatible"u8, out ReadOnlySpan<byte> _));
    }

    [Fact]
    public void Read_write_api_returns_codes_on_every_mutation()
    {
        byte[] work = new byte[512];
        var failures = ForEachMutation(blob =>
        {
            Array.Clear(work);
            int open = FdtRw.OpenInto(blob, work);
            if (!IsCode(open)) return $"OpenInto {open}";
            if (open != 0) return F.CheckFull(blob) == 0 ? $"CheckFull 0 but OpenInto {FdtErrors.Name(open)}" : null;
            int child = F.SubnodeOffset(work, 0, "child"u8);
            int[] codes =
            [
                FdtRw.SetProp(work, 0, "new-prop"u8, [1, 2, 3]),
                FdtRw.AppendProp(work, 0, "compatible"u8, "x\0"u8),
                FdtRw.SetPropInplace(work, 0, "new-prop"u8, [4, 5, 6]),
                FdtRw.AddSubnode(work, 0, "added"u8) is >= 0 ? 0 : FdtError.Internal.Neg(),
                FdtRw.DelProp(work, child < 0 ? 0 : child, "value"u8),
                FdtRw.NopProperty(work, 0, "new-prop"u8),
                child < 0 ? 0 : FdtRw.DelNode(work, F.SubnodeOffset(work, 0, "child"u8)),
                FdtRw.AddMemRsv(work, 0x1000, 0x2000),
                FdtRw.DelMemRsv(work, 0),
                FdtRw.Pack(work),
            ];
            foreach (int c in codes)
            {
                if (c < -19) return $"read-write code {c}";
            }
            return null;
        });
        AssertNoFailures(failures);
    }

    [Fact]
    public void Read_write_edits_of_accepted_blobs_stay_valid()
    {
        // For every mutation libfdt accepts whose tree is strict-clean, a fixed edit script keeps fdt_check_full happy.
        byte[] work = new byte[512];
        int edited = 0;
        var failures = ForEachMutation(blob =>
        {
            if (F.CheckFull(blob) != 0 || FdtStrictCheck.Check(blob).Count != 0) return null;
            Array.Clear(work);
            if (FdtRw.OpenInto(blob, work) is var open and not 0) return $"OpenInto {FdtErrors.Name(open)}";
            int added = FdtRw.AddSubnode(work, 0, "added"u8);
            if (added < 0) return $"AddSubnode {FdtErrors.Name(added)}";
            if (FdtRw.SetPropU32(work, added, "id"u8, 7) is var sp and not 0) return $"SetProp {FdtErrors.Name(sp)}";
            if (FdtRw.Pack(work) is var pk and not 0) return $"Pack {FdtErrors.Name(pk)}";
            edited++;
            int full = F.CheckFull(work.AsSpan(0, (int)F.TotalSize(work)));
            return full == 0 ? null : $"after edits CheckFull {FdtErrors.Name(full)}";
        });
        AssertNoFailures(failures);
        Assert.True(edited > 142, $"only {edited} strict-clean mutations");
    }

    /// <summary>Runs <paramref name="body"/> on a thread with a 256 KiB stack: recursion over 10000 levels would overflow it.</summary>
    private static void OnSmallStack(Action body)
    {
        ExceptionDispatchInfo? failure = null;
        var t = new Thread(() =>
        {
            try { body(); }
#pragma warning disable CA1031 // rethrown on the test thread below
            catch (Exception e) { failure = ExceptionDispatchInfo.Capture(e); }
#pragma warning restore CA1031
        }, 256 * 1024);
        t.Start();
        t.Join();
        failure?.Throw();
    }

    [Fact]
    public void Deep_nesting_does_not_overflow_the_stack()
    {
        byte[] deep = Vectors.Bytes("hostile-deep-nesting.dtb");
        OnSmallStack(() =>
        {
            Assert.Equal(0, F.CheckFull(deep));
            Assert.Equal([FdtStrictRules.TooDeep], FdtStrictCheck.Check(deep).Select(f => f.Rule));

            // Root plus 10000 nodes "a", 8 bytes each: the deepest is at struct offset 80000, depth 10000.
            int depth = 0, last = -1, count = 0;
            for (int n = F.NextNode(deep, -1, ref depth); n >= 0; n = F.NextNode(deep, n, ref depth)) { last = n; count++; }
            Assert.Equal(10001, count);
            Assert.Equal(80000, last);
            Assert.Equal(10000, F.NodeDepth(deep, last));
            Assert.Equal(79992, F.ParentOffset(deep, last));

            string path = string.Concat(Enumerable.Repeat("/a", 10000));
            byte[] buf = new byte[20001];
            Assert.Equal(0, F.GetPath(deep, last, buf));
            Assert.Equal(path, Encoding.ASCII.GetString(buf, 0, 20000));
            Assert.Equal(0, buf[20000]);
            Assert.Equal(FdtError.NoSpace.Neg(), F.GetPath(deep, last, new byte[20000]));
            Assert.Equal(80000, F.PathOffset(deep, path));

            // The printer's 4096-byte path buffer holds paths up to depth 2047 ("/a" * 2047 + NUL): it prints the
            // header and 2048 nodes, then stops with libfdt's NOSPACE from fdt_get_path.
            string text = FdtTreePrinter.ToText(deep, out int err);
            Assert.Equal(FdtError.NoSpace.Neg(), err);
            string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(1 + 2048, lines.Length);
            Assert.Equal("node 2047 " + path[..(2 * 2047)], lines[^1]);

            // The read-write API walks iteratively too: deleting /a removes the whole chain.
            byte[] work = new byte[deep.Length];
            Assert.Equal(0, FdtRw.OpenInto(deep, work));
            Assert.Equal(0, FdtRw.DelNode(work, 8));
            Assert.Equal(0, FdtRw.Pack(work));
            byte[] packed = work[..(int)F.TotalSize(work)];
            Assert.Equal(0, F.CheckFull(packed));
            Assert.Equal("header version=17 last_comp_version=16 boot_cpuid_phys=0\nnode 0 /\n", FdtTreePrinter.ToText(packed, out err));
            Assert.Equal(0, err);
        });
    }

    // Regression blobs found by the mutation runs above (fixed in fdt/Fdt.ReadOnly.cs GetPath and fdt/FdtRw.cs OpenInto).

    [Fact]
    public void GetPath_does_not_read_before_its_buffer_when_the_walk_climbs_above_the_root()
    {
        // bad-two-roots: asking for the second top-level node made libfdt's back-scan run before buf[0].
        byte[] twoRoots = Vectors.Bytes("bad-two-roots.dtb");
        int depth = 0, second = -1;
        for (int n = F.NextNode(twoRoots, -1, ref depth); n >= 0; n = F.NextNode(twoRoots, n, ref depth)) if (n > 0 && second < 0) second = n;
        Assert.True(second > 0);
        Assert.Equal(FdtError.BadStructure.Neg(), F.GetPath(twoRoots, second, new byte[256]));

        // ok-base with FDT_END (0x78) turned into END_NODE (byte 0x7b = 0x02): NextNode leaves the tree at depth -1
        // with offset 68, the printer asks for that path.
        byte[] extraEnd = Base;
        extraEnd[0x7b] = 0x02;
        Assert.Equal(FdtError.BadStructure.Neg(), F.GetPath(extraEnd, 68, new byte[256]));
        string text = FdtTreePrinter.ToText(extraEnd, out int err);
        Assert.Equal(FdtError.BadStructure.Neg(), err);
        Assert.Equal("header version=17 last_comp_version=16 boot_cpuid_phys=0\nnode 0 /\nprop / compatible 8 746573742d763100\n"
            + "node 1 /child\nprop /child value 4 00001234\n", text);
    }

    [Fact]
    public void OpenInto_refuses_blocks_outside_the_span_and_reads_past_totalsize_like_libfdt()
    {
        // totalsize 56 (byte 0x07 = 0x38): the blocks lie past totalsize, so libfdt repacks them, reading where the
        // header points. Inside the span that works and gives the same tree.
        byte[] small = Base;
        small[0x07] = 0x38;
        byte[] work = new byte[512];
        Assert.Equal(0, FdtRw.OpenInto(small, work));
        Assert.Equal(0, F.CheckFull(work));
        Assert.Equal(FdtTreePrinter.ToText(Base, out _), FdtTreePrinter.ToText(work, out int err));
        Assert.Equal(0, err);

        // The same header over a span that ends before the strings block: TRUNCATED, not an out-of-range copy.
        Assert.Equal(FdtError.Truncated.Neg(), FdtRw.OpenInto(small.AsSpan(0, 130), work));

        // size_dt_struct past INT_MAX would be a negative int length in the repack: TRUNCATED.
        F.SetSizeDtStruct(small, 0x80000000);
        Assert.Equal(FdtError.Truncated.Neg(), FdtRw.OpenInto(small, work));
    }
}
