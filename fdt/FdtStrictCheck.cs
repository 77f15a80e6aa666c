using System.Globalization;
using System.Runtime.InteropServices;

namespace LuoModel.Fdt;

/// <summary>
/// The strict checks of fdt.md §12 that libfdt's fdt_check_full() leaves out. <see cref="Check"/> first runs
/// <see cref="Fdt.CheckFull"/>; only a blob libfdt accepts is walked further, so every read below stays inside
/// what CheckFull proved readable. The walk is iterative (an explicit stack, never recursion on the blob's depth),
/// allocates only small bookkeeping lists, and reports every broken rule by a stable name
/// (<see cref="FdtStrictRules"/>) instead of throwing.
/// </summary>
/// <remarks>
/// Decisions where fdt.md is silent:
/// <list type="bullet">
/// <item>Offsets in findings are absolute blob offsets (header field, block start, or the token concerned).</item>
/// <item>NOPs inside nodes are fine (17-nop, ok-nop-inside); NOPs before the root are data-before-root.</item>
/// <item>Version 16 is allowed (its 36-byte header and missing size_dt_struct included: the structure block then
/// ends right after FDT_END, so garbage-after-end cannot be detected); versions above 17 with
/// last_comp_version &lt;= 17 are allowed (ok-version-18). Versions 2..15 are reported as old-version; their node
/// names are full paths, so name rules apply to the part after the last '/', as fdt_get_name() does.</item>
/// <item>The reservation map's extent for overlap is up to and including the first size-0 entry (libfdt's
/// terminator rule); extra zero entries after it (20-padded) are free space. Empty blocks overlap nothing.</item>
/// <item>Unused names in the strings block (left by fdt_nop_property/fdt_del_node) are not a finding.</item>
/// <item>too-deep is reported once, at the first node out of range; the walk continues to the end.</item>
/// <item>Duplicate names are compared byte-exactly on the full node name (with unit address) and the property
/// name text (not nameoff, which differs between dedup and no-dedup blobs); each later copy is one finding.</item>
/// </list>
/// </remarks>
public static partial class FdtStrictCheck
{
    /// <summary>
    /// Strict validation of an FDT blob (the span length is the buffer size). Returns no findings for a blob that is
    /// valid under fdt.md §12's strict rules; otherwise one finding per broken rule occurrence: header and layout
    /// findings first, then the structure walk's in token order, except that duplicate names are reported when their
    /// node's END_NODE is reached (in blob order among themselves). Never throws on any input.
    /// </summary>
    public static IReadOnlyList<FdtFinding> Check(ReadOnlySpan<byte> fdt, FdtStrictOptions? options = null)
    {
        options ??= FdtStrictOptions.Default;
        int err = Fdt.CheckFull(fdt);
        if (err != 0) return [new FdtFinding(FdtStrictRules.Libfdt, 0, FdtErrors.Name(err))];

        var sink = new Sink(options.MaxFindings);
        CheckHeaderAndLayout(fdt, options, sink);
        if (!sink.Full) new Walker(fdt, options, sink).Run();
        return sink.Result;
    }

    /// <summary>Collects findings up to the configured maximum.</summary>
    private sealed class Sink(int max)
    {
        private List<FdtFinding>? _list;

        public bool Full { get; private set; }

        public IReadOnlyList<FdtFinding> Result => _list is null ? [] : _list;

        public void Add(string rule, long offset, string message)
        {
            if (Full) return;
            _list ??= new List<FdtFinding>(4);
            int off = (int)Math.Clamp(offset, 0, int.MaxValue);
            if (_list.Count >= max)
            {
                _list.Add(new FdtFinding(FdtStrictRules.TooManyFindings, off,
                    string.Create(CultureInfo.InvariantCulture, $"stopped after {max} findings")));
                Full = true;
                return;
            }
            _list.Add(new FdtFinding(rule, off, message));
        }
    }

    private static string Hex(long v) => string.Create(CultureInfo.InvariantCulture, $"0x{v:x}");

    /// <summary>Header rules (version, size, alignment) and block overlap (fdt.md §12 items 3, 10, 11, 27).</summary>
    private static void CheckHeaderAndLayout(ReadOnlySpan<byte> fdt, FdtStrictOptions options, Sink sink)
    {
        uint version = Fdt.Version(fdt);
        if (version < 16)
        {
            sink.Add(FdtStrictRules.OldVersion, FdtHeaderOffsets.Version,
                string.Create(CultureInfo.InvariantCulture, $"version {version} is below 16 (libfdt still reads 2..15; strict readers do not)"));
        }
        uint total = Fdt.TotalSize(fdt);
        if (total > options.MaxTotalSize)
        {
            sink.Add(FdtStrictRules.TooLarge, FdtHeaderOffsets.TotalSize,
                string.Create(CultureInfo.InvariantCulture, $"totalsize {total} exceeds the configured maximum {options.MaxTotalSize}"));
        }
        uint offRsv = Fdt.OffMemRsvmap(fdt), offStruct = Fdt.OffDtStruct(fdt), offStrings = Fdt.OffDtStrings(fdt);
        if (offRsv % 8 != 0)
            sink.Add(FdtStrictRules.MisalignedRsvmap, FdtHeaderOffsets.OffMemRsvmap, $"off_mem_rsvmap {Hex(offRsv)} is not a multiple of 8");
        if (offStruct % 4 != 0)
            sink.Add(FdtStrictRules.MisalignedStruct, FdtHeaderOffsets.OffDtStruct, $"off_dt_struct {Hex(offStruct)} is not a multiple of 4");

        // Block extents; CheckFull proved each lies inside totalsize (and the span).
        int numRsv = Math.Max(Fdt.NumMemRsv(fdt), 0);
        Span<long> start = stackalloc long[4];
        Span<long> end = stackalloc long[4];
        start[0] = 0; end[0] = Fdt.HeaderSize(fdt);
        start[1] = offRsv; end[1] = offRsv + (numRsv + 1L) * FdtConst.ReserveEntrySize;
        start[2] = offStruct; end[2] = offStruct + StructSize(fdt);
        start[3] = offStrings; end[3] = offStrings + (long)Fdt.SizeDtStrings(fdt);
        for (int i = 0; i < 4; i++)
        {
            for (int j = i + 1; j < 4; j++)
            {
                bool overlap = start[i] < end[i] && start[j] < end[j] && start[i] < end[j] && start[j] < end[i];
                if (!overlap) continue;
                sink.Add(FdtStrictRules.BlockOverlap, Math.Max(start[i], start[j]),
                    $"{BlockName(i)} [{Hex(start[i])}, {Hex(end[i])}) overlaps {BlockName(j)} [{Hex(start[j])}, {Hex(end[j])})");
            }
        }
    }

    private static string BlockName(int i) => i switch
    {
        0 => "header",
        1 => "reservation map",
        2 => "structure block",
        _ => "strings block",
    };

    /// <summary>
    /// The structure block's length: size_dt_struct from version 17; before that (no such field) the offset just
    /// past FDT_END, found with fdt_next_tag() as fdt_open_into() does.
    /// </summary>
    private static long StructSize(ReadOnlySpan<byte> fdt)
    {
        if (Fdt.Version(fdt) >= 17) return Fdt.SizeDtStruct(fdt);
        var view = new FdtView(fdt);
        long limit = view.StructLimit;
        int offset = 0;
        while (true)
        {
            uint tag = Fdt.NextTag(fdt, in view, offset, out int next);
            if (next < 0) return Math.Max(limit, 0);
            if (tag == FdtConst.End) return next;
            offset = next;
        }
    }

    /// <summary>A name seen in a node: hash, absolute position and length, and the absolute offset of its token.</summary>
    [StructLayout(LayoutKind.Auto)]
    private readonly record struct NameRef(int Hash, int Abs, int Len, int Token);

    /// <summary>Orders names so that equal ones are adjacent and, among equal ones, in blob order.</summary>
    private readonly struct NameRefOrder : IComparer<NameRef>
    {
        public int Compare(NameRef x, NameRef y)
        {
            int c = x.Hash.CompareTo(y.Hash);
            if (c == 0) c = x.Len.CompareTo(y.Len);
            if (c == 0) c = x.Token.CompareTo(y.Token);
            return c;
        }
    }

    /// <summary>An open node on the explicit stack: where its property and child names start, and whether a child was seen.</summary>
    [StructLayout(LayoutKind.Auto)]
    private struct Frame
    {
        public int PropStart;
        public int ChildStart;
        public bool HadChild;
    }

    /// <summary>The iterative structure walk (fdt.md §12 items 16, 18-20, 23-26).</summary>
    private ref struct Walker
    {
        private readonly ReadOnlySpan<byte> _fdt;
        private readonly FdtStrictOptions _options;
        private readonly Sink _sink;
        private readonly List<Frame> _frames = new(8);
        private readonly List<NameRef> _props = new(8);
        private readonly List<NameRef> _children = new(8);
        private List<int>? _first;
        private List<(NameRef Dup, int First)>? _dups;

        public Walker(ReadOnlySpan<byte> fdt, FdtStrictOptions options, Sink sink)
        {
            _fdt = fdt;
            _options = options;
            _sink = sink;
        }

        public void Run()
        {
            ReadOnlySpan<byte> fdt = _fdt;
            var view = new FdtView(fdt);
            uint offStruct = view.OffStruct;
            bool oldFormat = Fdt.Version(fdt) < 16;
            bool rootSeen = false, rootClosed = false, deepReported = false;
            int offset = 0;
            while (!_sink.Full)
            {
                uint tag = Fdt.NextTag(fdt, in view, offset, out int next);
                if (next < 0) return;                       // cannot happen after CheckFull; never walk on
                long token = offStruct + (long)offset;
                switch (tag)
                {
                    case FdtConst.Nop:
                        if (!rootSeen) _sink.Add(FdtStrictRules.DataBeforeRoot, token, "FDT_NOP before the root node");
                        else if (rootClosed) _sink.Add(FdtStrictRules.DataAfterRoot, token, "FDT_NOP after the root node");
                        break;
                    case FdtConst.Prop:
                        OnProp(offset, token, rootSeen, rootClosed);
                        break;
                    case FdtConst.BeginNode:
                        if (rootClosed)
                        {
                            _sink.Add(FdtStrictRules.DataAfterRoot, token, "a second top-level node after the root");
                        }
                        else if (rootSeen)
                        {
                            int depth = _frames.Count;                 // depth of the new node, root = 0
                            if (!deepReported && depth >= _options.MaxDepth - 1)
                            {
                                deepReported = true;
                                _sink.Add(FdtStrictRules.TooDeep, token, string.Create(CultureInfo.InvariantCulture,
                                    $"node at depth {depth} (root = 0); the limit is depth {_options.MaxDepth - 2} (MaxDepth {_options.MaxDepth})"));
                            }
                            OnChild(offset, token, oldFormat);
                        }
                        rootSeen = true;
                        _frames.Add(new Frame { PropStart = _props.Count, ChildStart = _children.Count });
                        break;
                    case FdtConst.EndNode:
                        if (_frames.Count == 0) { _sink.Add(FdtStrictRules.DataAfterRoot, token, "FDT_END_NODE with no open node"); break; }
                        CloseNode();
                        if (_frames.Count == 0) rootClosed = true;
                        break;
                    case FdtConst.End:
                        if (!rootSeen) _sink.Add(FdtStrictRules.NoRoot, token, "the structure block holds no root node");
                        if (Fdt.Version(fdt) >= 17 && (uint)next < Fdt.SizeDtStruct(fdt))
                        {
                            _sink.Add(FdtStrictRules.GarbageAfterEnd, offStruct + (long)next, string.Create(CultureInfo.InvariantCulture,
                                $"{Fdt.SizeDtStruct(fdt) - (uint)next} bytes after FDT_END inside size_dt_struct"));
                        }
                        return;
                    default:
                        return;
                }
                offset = next;
            }
        }

        private readonly void OnProp(int offset, long token, bool rootSeen, bool rootClosed)
        {
            ReadOnlySpan<byte> fdt = _fdt;
            int value = Fdt.GetPropByOffset(fdt, offset, out int nameAbs, out int nameLen, out _);
            if (value < 0) return;                              // CheckFull proved the name; defensive only
            ReadOnlySpan<byte> name = fdt.Slice(nameAbs, nameLen);
            if (!rootSeen) _sink.Add(FdtStrictRules.DataBeforeRoot, token, $"property {Printable(name)} before the root node");
            else if (rootClosed) _sink.Add(FdtStrictRules.DataAfterRoot, token, $"property {Printable(name)} after the root node");
            if (PropertyNameProblem(name) is string why)
                _sink.Add(FdtStrictRules.BadPropertyName, token, $"property {Printable(name)}: {why}");
            if (!rootSeen || rootClosed) return;
            Span<Frame> frames = CollectionsMarshal.AsSpan(_frames);
            if (frames[^1].HadChild)
                _sink.Add(FdtStrictRules.PropAfterSubnode, token, $"property {Printable(name)} after a subnode (libfdt look-ups cannot see it)");
            _props.Add(new NameRef(HashOf(name), nameAbs, nameLen, (int)token));
        }

        private readonly void OnChild(int offset, long token, bool oldFormat)
        {
            ReadOnlySpan<byte> fdt = _fdt;
            CollectionsMarshal.AsSpan(_frames)[^1].HadChild = true;
            int p = Fdt.GetName(fdt, offset, out int len);   // the base name for versions < 16, as libfdt
            if (p < 0)
            {
                if (oldFormat) _sink.Add(FdtStrictRules.BadNodeName, token, "node name is not a path (version < 16)");
                return;
            }
            ReadOnlySpan<byte> name = fdt.Slice(p, len);
            if (NodeNameProblem(name) is string why)
                _sink.Add(FdtStrictRules.BadNodeName, token, $"node {Printable(name)}: {why}");
            _children.Add(new NameRef(HashOf(name), p, len, (int)token));
        }

        private void CloseNode()
        {
            Frame f = _frames[^1];
            _frames.RemoveAt(_frames.Count - 1);
            ReportDuplicates(CollectionsMarshal.AsSpan(_props)[f.PropStart..], FdtStrictRules.DuplicateProperty, "property");
            ReportDuplicates(CollectionsMarshal.AsSpan(_children)[f.ChildStart..], FdtStrictRules.DuplicateNode, "node");
            _props.RemoveRange(f.PropStart, _props.Count - f.PropStart);
            _children.RemoveRange(f.ChildStart, _children.Count - f.ChildStart);
        }

        /// <summary>Sorts one node's names by (hash, length, position) and reports every later copy of a name, in blob order.</summary>
        private void ReportDuplicates(Span<NameRef> names, string rule, string what)
        {
            if (names.Length < 2) return;
            ReadOnlySpan<byte> fdt = _fdt;
            names.Sort(new NameRefOrder());
            _dups?.Clear();
            // first[j]: token of the first copy of names[j]'s text, or -1 when names[j] is the first copy.
            List<int> first = _first ??= [];
            first.Clear();
            first.Add(-1);
            for (int j = 1; j < names.Length; j++)
            {
                NameRef b = names[j];
                ReadOnlySpan<byte> bn = fdt.Slice(b.Abs, b.Len);
                int firstToken = -1;
                // Equal names are adjacent within a run of equal (hash, length); among them, in blob order.
                for (int i = j - 1; i >= 0 && names[i].Hash == b.Hash && names[i].Len == b.Len; i--)
                {
                    if (!fdt.Slice(names[i].Abs, names[i].Len).SequenceEqual(bn)) continue;
                    firstToken = first[i] >= 0 ? first[i] : names[i].Token;
                    break;
                }
                first.Add(firstToken);
                if (firstToken >= 0) (_dups ??= []).Add((b, firstToken));
            }
            if (_dups is null || _dups.Count == 0) return;
            _dups.Sort((x, y) => x.Dup.Token.CompareTo(y.Dup.Token));
            foreach (var (dup, firstAt) in _dups)
            {
                _sink.Add(rule, dup.Token, $"{what} {Printable(fdt.Slice(dup.Abs, dup.Len))} repeats the one at {Hex(firstAt)}");
            }
            _dups.Clear();
        }

        private static int HashOf(ReadOnlySpan<byte> name)
        {
            // Per-process randomized hash: colliding names cannot be crafted in advance.
            var h = new HashCode();
            h.AddBytes(name);
            return h.ToHashCode();
        }
    }
}
