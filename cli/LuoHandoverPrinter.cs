using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Testkit;

namespace LuoModel.Cli;

/// <summary>Text form of a decoded LUO handover (<see cref="HandoverDecoder"/>), used by <c>luo image dump</c>
/// and <c>luo demo</c>. One fact per line; nested objects are indented by two spaces per level.</summary>
internal static class LuoHandoverPrinter
{
    private static string H(ulong v) => HandoverDecoder.Hex(v);

    private static string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>Folio flag names (MEMFD_LUO_FOLIO_*).</summary>
    internal static string FolioFlags(uint flags)
    {
        var names = new List<string>();
        if ((flags & MemfdLuoFolioSer.FlagDirty) != 0) names.Add("DIRTY");
        if ((flags & MemfdLuoFolioSer.FlagUptodate) != 0) names.Add("UPTODATE");
        uint rest = flags & ~(MemfdLuoFolioSer.FlagDirty | MemfdLuoFolioSer.FlagUptodate);
        if (rest != 0) names.Add(I($"0x{rest:x}"));
        return names.Count == 0 ? "0" : string.Join('|', names);
    }

    /// <summary>The lines describing <paramref name="h"/>.</summary>
    public static IEnumerable<string> Lines(LuoHandover h)
    {
        ArgumentNullException.ThrowIfNull(h);
        if (!h.Present)
        {
            yield return "LUO: no \"LUO\" subtree: the next kernel has no incoming LUO data";
            foreach (string l in ProblemLines(h)) yield return l;
            yield break;
        }
        string size = h.BlobSize is { } s ? I($"blob-size {s}") : "no blob-size (kho-v1)";
        yield return I($"LUO subtree: preserved-data {H(h.BlobPhys)}, {size}, format {(h.Abi.Length > 0 ? h.Abi : "unknown")}");
        if (h.FdtDts is not null)
        {
            yield return "LUO FDT as DTS:";
            foreach (string l in h.FdtDts.Split('\n', StringSplitOptions.RemoveEmptyEntries)) yield return "  " + l;
        }
        if (h.Root is { } r)
        {
            yield return h.Abi == LuoFdtV1.Compatible
                ? I($"luo-v1 root: liveupdate-number {r.LiveupdateNum}, session area {H(r.SessionsPa)}, FLB page {H(r.FlbsPa)}")
                : I($"luo_ser @ {H(h.BlobPhys)}: compatible \"{r.Compatible}\", liveupdate_num {r.LiveupdateNum}, sessions_pa {H(r.SessionsPa)}, flbs_pa {H(r.FlbsPa)}");
        }
        if (h.V1SessionCount is { } count) yield return I($"session area @ {H(h.Root!.SessionsPa)}: count {count}");
        if (h.SessionBlocks.Count > 0)
        {
            yield return I($"session blocks: {h.SessionBlocks.Count}");
            foreach (var b in h.SessionBlocks) yield return "  " + Block(b);
        }
        if (h.Root is not null) yield return I($"sessions: {h.Sessions.Count}");
        foreach (var session in h.Sessions)
            foreach (string l in SessionLines(session)) yield return "  " + l;
        if (h.Flb is { } flb)
        {
            yield return I($"FLB page @ {H(flb.Phys)}: pgcnt {flb.PageCount}, count {flb.Count}");
            foreach (var e in flb.Entries) yield return I($"  [{e.Index}] \"{e.Name}\" data {H(e.Data)} count {e.Count}");
        }
        foreach (string l in ProblemLines(h)) yield return l;
    }

    private static string Block(BlockInfo b) => I($"block @ {H(b.Phys)}: next {H(b.Next)}, count {b.Count}/{b.Capacity}");

    private static IEnumerable<string> SessionLines(SessionEntryInfo s)
    {
        string name = s.NameTerminated ? "\"" + s.Name + "\"" : "\"" + s.Name + "\" (no NUL)";
        yield return I($"[{s.Index}] {name} @ {H(s.Phys)}: files {H(s.FilesPa)}, count {s.FileCount}");
        if (s.FileBlocks.Count > 0)
        {
            yield return I($"    file blocks: {s.FileBlocks.Count}");
            foreach (var b in s.FileBlocks) yield return "      " + Block(b);
        }
        foreach (var f in s.Files)
        {
            yield return I($"    [{f.Index}] token {H(f.Token)} \"{f.Compatible}\" data {H(f.Data)}");
            if (f.Memfd is not { } m) continue;
            string seals = m.Version == "memfd-v2" ? I($", seals 0x{m.Seals:x}, flags 0x{m.Flags:x}") : "";
            yield return I($"        memfd_luo_ser @ {H(m.Phys)} ({m.Version}): pos {m.Pos}, size {m.Size}{seals}, nr_folios {m.NrFolios}");
            yield return I($"        folios: first {H(m.Folios.First)}, total_pages {m.Folios.TotalPages}, flags 0x{m.Folios.Flags:x}, order {m.Folios.Order}");
            if (m.Chunks.Count > 0) yield return "        vmalloc chunks: " + string.Join(' ', m.Chunks.Select(H));
            if (m.ArrayPages.Count > 0) yield return "        array pages: " + string.Join(' ', m.ArrayPages.Select(H));
            foreach (var e in m.Entries)
                yield return I($"        folio [{e.Index}] pfn {H(e.Pfn)} flags {FolioFlags(e.Flags)} index {e.PageIndex}{(e.Preserved ? "" : " (not preserved)")}");
        }
    }

    private static IEnumerable<string> ProblemLines(LuoHandover h)
    {
        if (h.Problems.Count > 0)
        {
            yield return I($"LUO problems: {h.Problems.Count}");
            foreach (var p in h.Problems) yield return "  " + p;
        }
        if (!h.Present) yield break;
        yield return "LUO verdict: " + (h.Problems.Any(p => p.Kind == HandoverProblemKind.BootPanic)
            ? "the next kernel panics at boot (luo_restore_fail)"
            : h.Problems.Any(p => p.Kind == HandoverProblemKind.FirstOpenFails)
                ? "the next kernel boots, but every open of /dev/liveupdate fails with EIO"
                : h.Problems.Any(p => p.Kind == HandoverProblemKind.RetrieveFails)
                    ? "accepted, but some RETRIEVE_FD calls will fail"
                    : "accepted: the next kernel boots and its first open of /dev/liveupdate succeeds");
    }
}
