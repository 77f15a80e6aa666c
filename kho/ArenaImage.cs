using System.Buffers.Binary;
using System.IO.Hashing;

namespace LuoModel.Kho;

/// <summary>Why an arena image could not be loaded.</summary>
public enum ArenaImageError
{
    /// <summary>Loaded.</summary>
    None,
    /// <summary>The file ends before the structure it announces.</summary>
    Truncated,
    /// <summary>The first 8 bytes are not "LUOARENA".</summary>
    BadMagic,
    /// <summary>A format version this model does not read.</summary>
    UnsupportedVersion,
    /// <summary>The XxHash64 trailer does not match the contents.</summary>
    ChecksumMismatch,
    /// <summary>Checksum fine but the fields are inconsistent (sizes, order, ranges).</summary>
    Malformed,
}

/// <summary>
/// Save/load of a <see cref="PhysicalArena"/> (model-defined format, not a kernel ABI). All integers
/// little-endian. Layout, version 1:
/// header (72 bytes) = magic "LUOARENA" @0, u32 version @8, u32 header size @12, u64 DRAM bytes @16,
/// u8 background @24, u8 has-handoff @25, u16 0 @26, u32 zero-range count @28, u64 page-record count @32,
/// handoff u64 fdt_phys @40, fdt_len @48, scratch_phys @56, scratch_len @64;
/// then zero ranges (u64 start, u64 end) each; then page records ascending by pfn: u64 pfn, u8 kind
/// (0 = 4096 raw bytes follow, 1 = one fill byte follows); then u64 XxHash64 of everything before it.
/// Loading validates everything before building the arena, so a bad file never yields a half-loaded arena.
/// </summary>
public static class ArenaImage
{
    /// <summary>Format version written by <see cref="Save"/>.</summary>
    public const uint Version = 1;
    private const int HeaderSize = 72, RangeSize = 16, TrailerSize = 8;
    private static ReadOnlySpan<byte> Magic => "LUOARENA"u8;
    private static class Off
    {
        public const int Magic = 0, Version = 8, HeaderSize = 12, Dram = 16, Background = 24, HasHandoff = 25,
            ZeroRangeCount = 28, PageCount = 32, FdtPhys = 40, FdtLen = 48, ScratchPhys = 56, ScratchLen = 64;
    }

    /// <summary>Writes <paramref name="arena"/> (contents, background, handoff) to <paramref name="stream"/>.</summary>
    public static void Save(PhysicalArena arena, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(arena);
        ArgumentNullException.ThrowIfNull(stream);
        var hash = new XxHash64();
        var pfns = arena.PresentPfns().ToList();
        Span<byte> h = stackalloc byte[HeaderSize];
        h.Clear();
        Magic.CopyTo(h);
        BinaryPrimitives.WriteUInt32LittleEndian(h[Off.Version..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(h[Off.HeaderSize..], HeaderSize);
        BinaryPrimitives.WriteUInt64LittleEndian(h[Off.Dram..], arena.DramBytes);
        h[Off.Background] = arena.Background;
        h[Off.HasHandoff] = arena.Handoff is null ? (byte)0 : (byte)1;
        BinaryPrimitives.WriteUInt32LittleEndian(h[Off.ZeroRangeCount..], (uint)arena.ZeroRanges.Count);
        BinaryPrimitives.WriteUInt64LittleEndian(h[Off.PageCount..], (ulong)pfns.Count);
        if (arena.Handoff is { } ho)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(h[Off.FdtPhys..], ho.FdtPhys);
            BinaryPrimitives.WriteUInt64LittleEndian(h[Off.FdtLen..], ho.FdtLen);
            BinaryPrimitives.WriteUInt64LittleEndian(h[Off.ScratchPhys..], ho.ScratchPhys);
            BinaryPrimitives.WriteUInt64LittleEndian(h[Off.ScratchLen..], ho.ScratchLen);
        }
        Emit(stream, hash, h);
        Span<byte> rec = stackalloc byte[RangeSize];
        foreach (var r in arena.ZeroRanges)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(rec, r.Start);
            BinaryPrimitives.WriteUInt64LittleEndian(rec[8..], r.End);
            Emit(stream, hash, rec);
        }
        Span<byte> ph = stackalloc byte[10];
        foreach (ulong pfn in pfns)
        {
            ReadOnlySpan<byte> page = arena.PageForRead(pfn);
            BinaryPrimitives.WriteUInt64LittleEndian(ph, pfn);
            bool uniform = !page.ContainsAnyExcept(page[0]);
            ph[8] = uniform ? (byte)1 : (byte)0;
            if (uniform) { ph[9] = page[0]; Emit(stream, hash, ph); }
            else { Emit(stream, hash, ph[..9]); Emit(stream, hash, page); }
        }
        Span<byte> t = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt64LittleEndian(t, hash.GetCurrentHashAsUInt64());
        stream.Write(t);
    }

    private static void Emit(Stream s, XxHash64 hash, ReadOnlySpan<byte> data)
    {
        hash.Append(data);
        s.Write(data);
    }

    /// <summary>Saves to a file.</summary>
    public static void Save(PhysicalArena arena, string path)
    {
        using var f = File.Create(path);
        Save(arena, f);
    }

    /// <summary>Loads an image from bytes. On any error <paramref name="arena"/> is null and
    /// <paramref name="message"/> says what is wrong.</summary>
    public static ArenaImageError TryLoad(ReadOnlySpan<byte> image, out PhysicalArena? arena, out string message)
    {
        arena = null;
        if (image.Length < Magic.Length || !image[..Magic.Length].SequenceEqual(Magic))
            return Fail(image.Length < Magic.Length ? ArenaImageError.Truncated : ArenaImageError.BadMagic,
                "not a LuoModel arena image (magic \"LUOARENA\" missing)", out message);
        if (image.Length < HeaderSize + TrailerSize)
            return Fail(ArenaImageError.Truncated, $"image truncated: {image.Length} bytes, header needs {HeaderSize + TrailerSize}", out message);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(image[Off.Version..]);
        if (version != Version)
            return Fail(ArenaImageError.UnsupportedVersion, $"unsupported image version {version} (this model reads {Version})", out message);
        ulong stored = BinaryPrimitives.ReadUInt64LittleEndian(image[^TrailerSize..]);
        ulong actual = XxHash64.HashToUInt64(image[..^TrailerSize]);
        if (stored != actual)
            return Fail(ArenaImageError.ChecksumMismatch, $"checksum mismatch (stored 0x{stored:x16}, computed 0x{actual:x16}): image corrupt or truncated", out message);

        var body = image[..^TrailerSize];
        uint hsize = BinaryPrimitives.ReadUInt32LittleEndian(body[Off.HeaderSize..]);
        ulong dram = BinaryPrimitives.ReadUInt64LittleEndian(body[Off.Dram..]);
        byte bg = body[Off.Background];
        byte hasHandoff = body[Off.HasHandoff];
        uint nRanges = BinaryPrimitives.ReadUInt32LittleEndian(body[Off.ZeroRangeCount..]);
        ulong nPages = BinaryPrimitives.ReadUInt64LittleEndian(body[Off.PageCount..]);
        if (hsize != HeaderSize || dram == 0 || dram % PhysicalArena.PageSize != 0 || dram > PhysicalArena.MaxDramBytes
            || (bg != 0 && bg != PhysicalArena.PoisonByte) || hasHandoff > 1)
            return Fail(ArenaImageError.Malformed, $"bad header (header size {hsize}, DRAM 0x{dram:x}, background 0x{bg:x2})", out message);
        long pos = HeaderSize;
        if ((ulong)(body.Length - pos) / RangeSize < nRanges)
            return Fail(ArenaImageError.Truncated, $"zero-range table truncated ({nRanges} entries announced)", out message);
        var ranges = new List<PhysRange>((int)nRanges);
        for (uint i = 0; i < nRanges; i++, pos += RangeSize)
        {
            ulong s = BinaryPrimitives.ReadUInt64LittleEndian(body[(int)pos..]);
            ulong e = BinaryPrimitives.ReadUInt64LittleEndian(body[(int)(pos + 8)..]);
            if (s >= e || e > dram || (ranges.Count > 0 && s < ranges[^1].End))
                return Fail(ArenaImageError.Malformed, $"zero range {i} [0x{s:x}, 0x{e:x}) invalid or out of order", out message);
            ranges.Add(new PhysRange(s, e));
        }
        // First pass: validate every page record without building anything.
        long p = pos;
        ulong prev = ulong.MaxValue;
        for (ulong i = 0; i < nPages; i++)
        {
            if (body.Length - p < 10)
                return Fail(ArenaImageError.Truncated, $"page record {i} truncated", out message);
            ulong pfn = BinaryPrimitives.ReadUInt64LittleEndian(body[(int)p..]);
            byte kind = body[(int)(p + 8)];
            if (pfn >= dram >> PhysicalArena.PageShift || (prev != ulong.MaxValue && pfn <= prev))
                return Fail(ArenaImageError.Malformed, $"page record {i}: pfn 0x{pfn:x} outside DRAM or out of order", out message);
            long len = kind switch { 0 => 9 + PhysicalArena.PageSize, 1 => 10, _ => -1 };
            if (len < 0) return Fail(ArenaImageError.Malformed, $"page record {i}: unknown kind {kind}", out message);
            if (body.Length - p < len) return Fail(ArenaImageError.Truncated, $"page record {i} truncated", out message);
            p += len;
            prev = pfn;
        }
        if (p != body.Length)
            return Fail(ArenaImageError.Malformed, $"{body.Length - p} unexpected bytes after the last page record", out message);

        var a = new PhysicalArena(dram);
        p = pos;
        for (ulong i = 0; i < nPages; i++)
        {
            ulong pfn = BinaryPrimitives.ReadUInt64LittleEndian(body[(int)p..]);
            byte[] page = a.PageForWrite(pfn);
            if (body[(int)(p + 8)] == 0) { body.Slice((int)p + 9, PhysicalArena.PageSize).CopyTo(page); p += 9 + PhysicalArena.PageSize; }
            else { page.AsSpan().Fill(body[(int)p + 9]); p += 10; }
        }
        a.RestoreState(bg, ranges);
        if (hasHandoff == 1)
            a.Handoff = new KexecHandoff(
                BinaryPrimitives.ReadUInt64LittleEndian(body[Off.FdtPhys..]), BinaryPrimitives.ReadUInt64LittleEndian(body[Off.FdtLen..]),
                BinaryPrimitives.ReadUInt64LittleEndian(body[Off.ScratchPhys..]), BinaryPrimitives.ReadUInt64LittleEndian(body[Off.ScratchLen..]));
        arena = a;
        message = $"loaded: DRAM 0x{dram:x}, {nPages} stored pages";
        return ArenaImageError.None;
    }

    /// <summary>Loads an image file; I/O errors other than a missing file propagate.</summary>
    public static ArenaImageError TryLoad(string path, out PhysicalArena? arena, out string message)
    {
        byte[] bytes = File.ReadAllBytes(path);
        return TryLoad(bytes, out arena, out message);
    }

    private static ArenaImageError Fail(ArenaImageError e, string msg, out string message)
    {
        message = msg;
        return e;
    }
}
