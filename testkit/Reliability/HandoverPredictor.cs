using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Reliability;

/// <summary>
/// What userspace must observe for a luo-v5 handover whose structure (every pointer and count) is intact but
/// whose values may be anything: an independent, deliberately simple reading of luo.md §5.7 and §6.5 (names
/// copied to 63 bytes and cut at the NUL, duplicate names → EIO forever, unknown compatible → EIO forever,
/// seals outside 0x3F → RETRIEVE_FD EOPNOTSUPP and sticky, a negative pos ignored, i_size := size, the first
/// min(nr_folios, array capacity) folio entries with a non-zero pfn placed at their index). Used as the
/// oracle for corrupted value bytes; it trusts the pointers, so it is never used for pointer corruption.
/// </summary>
public static class HandoverPredictor
{
    private static readonly string[] KnownCompatibles = ["memfd-v2", TestFileHandler.DefaultCompatible];

    /// <summary>The expected observation for <paramref name="arena"/> (the demo handover, values changed).</summary>
    public static Observation Predict(DemoHandover h, PhysicalArena arena)
    {
        ArgumentNullException.ThrowIfNull(h);
        ArgumentNullException.ThrowIfNull(arena);
        ulong rootPhys = h.Regions.First(r => r.Kind == MetaKind.LuoRoot).Phys;
        Span<byte> root = stackalloc byte[LuoSerRoot.Size];
        arena.Read(rootPhys, root);
        if (!LuoStrings.StrnEquals(root[..LuoSerRoot.CompatibleLength], LuoSerRoot.Compatible))
            return new(BootKind.Panic, "compatible", 0, [], null);
        var ser = LuoSerRoot.ReadFrom(root);
        var sessions = new List<SessionView>();
        var names = new List<byte[]>();
        Span<byte> raw = stackalloc byte[LuoSessionSer.Size];
        foreach (ulong entry in Entries(arena, ser.SessionsPa, LuoSessionSer.Size))
        {
            arena.Read(entry, raw);
            byte[] name = raw[..(LuoSessionSer.NameLength - 1)].ToArray();
            int nul = Array.IndexOf(name, (byte)0);
            if (nul >= 0) name = name[..nul];
            if (names.Any(n => n.AsSpan().SequenceEqual(name))) return Eio(ser);
            names.Add(name);
            var s = LuoSessionSer.ReadFrom(raw);
            var files = new List<(ulong Token, ulong Data)>();
            foreach (ulong fe in Entries(arena, s.FilesPa, LuoFileSer.Size))
            {
                var b = new byte[LuoFileSer.Size];
                arena.Read(fe, b);
                var f = LuoFileSer.ReadFrom(b);
                if (!KnownCompatibles.Contains(f.Compatible)) return Eio(ser);
                files.Add((f.Token, f.Data));
            }
            var views = files.GroupBy(f => f.Token).Select(g => Memfd(arena, g.Key, g.First().Data)).ToList();
            sessions.Add(new SessionView(name, 0, views, 0));
        }
        return new(BootKind.Opened, "", ser.LiveupdateNum, sessions, null);
    }

    private static Observation Eio(LuoSerRoot ser) => new(BootKind.DeviceEio, "", ser.LiveupdateNum, [], null);

    /// <summary>Entries of a block chain (pointers trusted).</summary>
    private static IEnumerable<ulong> Entries(PhysicalArena arena, ulong head, int entrySize)
    {
        for (ulong b = head; b != 0; b = arena.ReadU64(b + KhoBlockHeaderSer.NextOffset))
        {
            ulong count = arena.ReadU64(b + KhoBlockHeaderSer.CountOffset);
            for (ulong i = 0; i < count; i++) yield return b + KhoBlockHeaderSer.Size + (i * (ulong)entrySize);
        }
    }

    private static FileView Memfd(PhysicalArena arena, ulong token, ulong recordPhys)
    {
        var b = new byte[MemfdLuoSer.SizeV2];
        arena.Read(recordPhys, b);
        var m = MemfdLuoSer.ReadFrom(b, MemfdVersion.V2);
        long eop = -(long)Errno.EOPNOTSUPP;
        if ((m.Seals & ~Seals.All) != 0) return new FileView(token, eop, eop, 0, 0, 0, []);
        long pos = (long)m.Pos >= 0 ? (long)m.Pos : 0;
        long size = (long)m.Size;
        var pages = new Dictionary<ulong, ulong>();
        if (m.NrFolios > 0)
        {
            var arrayPages = new List<ulong>();
            for (ulong c = m.Folios.First; c != 0; c = arena.ReadU64(c + KhoVmallocChunk.NextOffset))
                for (int i = 0; i < KhoVmallocChunk.Entries; i++)
                {
                    ulong p = arena.ReadU64(c + KhoVmallocChunk.PhysOffset + (8UL * (uint)i));
                    if (p == 0) break;
                    arrayPages.Add(p);
                }
            ulong n = Math.Min(m.NrFolios, (ulong)arrayPages.Count * (PhysicalArena.PageSize / MemfdLuoFolioSer.Size));
            var e = new byte[MemfdLuoFolioSer.Size];
            for (ulong i = 0; i < n; i++)
            {
                ulong off = i * MemfdLuoFolioSer.Size;
                arena.Read(arrayPages[(int)(off / PhysicalArena.PageSize)] + (off % PhysicalArena.PageSize), e);
                var f = MemfdLuoFolioSer.ReadFrom(e);
                if (f.Pfn != 0) pages[f.Index] = f.Pfn;
            }
        }
        long sizeSeen = size < 0 ? -(long)Errno.EINVAL : size;
        var content = new byte[sizeSeen > 0 ? Math.Min(sizeSeen, HandoverObserver.ContentCap) : 0];
        for (int off = 0; off < content.Length; off += PhysicalArena.PageSize)
            if (pages.TryGetValue((ulong)off / PhysicalArena.PageSize, out ulong pfn))
                arena.Read(pfn << PhysicalArena.PageShift, content.AsSpan(off, Math.Min(PhysicalArena.PageSize, content.Length - off)));
        return new FileView(token, 0, 0, pos, sizeSeen, m.Seals, content);
    }
}
