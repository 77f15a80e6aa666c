using System.Buffers.Binary;
using System.Text;

namespace LuoModel.Kernel;

/// <summary>struct luo_ser (luo.md §5.2), 32 bytes: compatible[8], liveupdate_num, sessions_pa, flbs_pa.</summary>
public readonly record struct LuoSerRoot(ulong LiveupdateNum, ulong SessionsPa, ulong FlbsPa)
{
    /// <summary>sizeof(struct luo_ser).</summary>
    public const int Size = 32;
    /// <summary>LUO_ABI_COMPATIBLE.</summary>
    public const string Compatible = "luo-v5";
    /// <summary>Size of the compatible field (ALIGN(7, 8)).</summary>
    public const int CompatibleLength = 8;
    /// <summary>Field offsets.</summary>
    public const int CompatibleOffset = 0, LiveupdateNumOffset = 8, SessionsPaOffset = 16, FlbsPaOffset = 24;

    /// <summary>Reads the numeric fields (compatible checked separately).</summary>
    public static LuoSerRoot ReadFrom(ReadOnlySpan<byte> s)
    {
        ulong flbs = BinaryPrimitives.ReadUInt64LittleEndian(s[FlbsPaOffset..]);
        return new(BinaryPrimitives.ReadUInt64LittleEndian(s[LiveupdateNumOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[SessionsPaOffset..]), flbs);
    }

    /// <summary>Writes all 32 bytes including the compatible string.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[FlbsPaOffset..], FlbsPa);
        s[..CompatibleLength].Clear();
        Encoding.ASCII.GetBytes(Compatible).CopyTo(s);
        BinaryPrimitives.WriteUInt64LittleEndian(s[LiveupdateNumOffset..], LiveupdateNum);
        BinaryPrimitives.WriteUInt64LittleEndian(s[SessionsPaOffset..], SessionsPa);
    }

    /// <summary>strncmp(compatible, "luo-v5", 8) == 0.</summary>
    public static bool CompatibleMatches(ReadOnlySpan<byte> s) => LuoStrings.StrnEquals(s[..CompatibleLength], Compatible);
}

/// <summary>struct kho_block_header_ser (luo.md §5.3), 16 bytes.</summary>
public readonly record struct KhoBlockHeaderSer(ulong Next, ulong Count)
{
    /// <summary>Header size.</summary>
    public const int Size = 16;
    /// <summary>Field offsets.</summary>
    public const int NextOffset = 0, CountOffset = 8;
    /// <summary>Reads a header.</summary>
    public static KhoBlockHeaderSer ReadFrom(ReadOnlySpan<byte> s) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(s[NextOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[CountOffset..]));
    /// <summary>Writes a header.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[CountOffset..], Count);
        BinaryPrimitives.WriteUInt64LittleEndian(s[NextOffset..], Next);
    }
}

/// <summary>struct luo_session_ser (luo.md §5.4), 80 bytes: name[64], file_set_ser {files, count}.</summary>
public readonly record struct LuoSessionSer(string Name, ulong FilesPa, ulong FileCount)
{
    /// <summary>sizeof.</summary>
    public const int Size = 80;
    /// <summary>LIVEUPDATE_SESSION_NAME_LENGTH.</summary>
    public const int NameLength = 64;
    /// <summary>Field offsets.</summary>
    public const int NameOffset = 0, FilesOffset = 64, CountOffset = 72;
    /// <summary>Offset and size of file_set_ser.</summary>
    public const int FileSetOffset = 64, FileSetSize = 16;
    /// <summary>Reads an entry (name up to the first NUL within 64 bytes).</summary>
    public static LuoSessionSer ReadFrom(ReadOnlySpan<byte> s)
    {
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(s[CountOffset..]);
        return new(LuoStrings.FromField(s.Slice(NameOffset, NameLength)), BinaryPrimitives.ReadUInt64LittleEndian(s[FilesOffset..]), count);
    }
    /// <summary>Writes an entry (name zero-padded).</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[CountOffset..], FileCount);
        LuoStrings.ToField(Name, s.Slice(NameOffset, NameLength));
        BinaryPrimitives.WriteUInt64LittleEndian(s[FilesOffset..], FilesPa);
    }
}

/// <summary>struct luo_file_ser (luo.md §5.4), 64 bytes: compatible[48], data, token.</summary>
public readonly record struct LuoFileSer(string Compatible, ulong Data, ulong Token)
{
    /// <summary>sizeof.</summary>
    public const int Size = 64;
    /// <summary>LIVEUPDATE_HNDL_COMPAT_LENGTH.</summary>
    public const int CompatibleLength = 48;
    /// <summary>Field offsets.</summary>
    public const int CompatibleOffset = 0, DataOffset = 48, TokenOffset = 56;
    /// <summary>Reads an entry.</summary>
    public static LuoFileSer ReadFrom(ReadOnlySpan<byte> s)
    {
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(s[TokenOffset..]);
        return new(LuoStrings.FromField(s[..CompatibleLength]), BinaryPrimitives.ReadUInt64LittleEndian(s[DataOffset..]), token);
    }
    /// <summary>Writes an entry (compatible zero-padded).</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[TokenOffset..], Token);
        LuoStrings.ToField(Compatible, s[..CompatibleLength]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[DataOffset..], Data);
    }

    /// <summary>Writes an entry whose compatible is already encoded as its 48-byte zero-padded field (the
    /// same bytes as <see cref="WriteTo"/>; no string encoding on the reboot hot path).</summary>
    internal static void Write(Span<byte> s, ReadOnlySpan<byte> compatibleField, ulong data, ulong token)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[TokenOffset..], token);
        compatibleField[..CompatibleLength].CopyTo(s);
        BinaryPrimitives.WriteUInt64LittleEndian(s[DataOffset..], data);
    }
}

/// <summary>struct luo_flb_header_ser (luo.md §5.5), 16 bytes: pgcnt, count.</summary>
public readonly record struct LuoFlbHeaderSer(ulong PageCount, ulong Count)
{
    /// <summary>sizeof.</summary>
    public const int Size = 16;
    /// <summary>Field offsets.</summary>
    public const int PageCountOffset = 0, CountOffset = 8;
    /// <summary>LUO_FLB_PGCNT.</summary>
    public const ulong FlbPageCount = 1;
    /// <summary>LUO_FLB_MAX.</summary>
    public const int MaxEntries = (Kho.PhysicalArena.PageSize - Size) / LuoFlbSer.Size;
    /// <summary>Reads a header.</summary>
    public static LuoFlbHeaderSer ReadFrom(ReadOnlySpan<byte> s) =>
        new(BinaryPrimitives.ReadUInt64LittleEndian(s[PageCountOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(s[CountOffset..]));
    /// <summary>Writes a header.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[CountOffset..], Count);
        BinaryPrimitives.WriteUInt64LittleEndian(s[PageCountOffset..], PageCount);
    }
}

/// <summary>struct luo_flb_ser (luo.md §5.5), 64 bytes: name[48], data, count.</summary>
public readonly record struct LuoFlbSer(string Name, ulong Data, ulong Count)
{
    /// <summary>sizeof.</summary>
    public const int Size = 64;
    /// <summary>LIVEUPDATE_FLB_COMPAT_LENGTH.</summary>
    public const int NameLength = 48;
    /// <summary>Field offsets.</summary>
    public const int NameOffset = 0, DataOffset = 48, CountOffset = 56;
    /// <summary>Reads an entry.</summary>
    public static LuoFlbSer ReadFrom(ReadOnlySpan<byte> s)
    {
        ulong count = BinaryPrimitives.ReadUInt64LittleEndian(s[CountOffset..]);
        return new(LuoStrings.FromField(s[..NameLength]), BinaryPrimitives.ReadUInt64LittleEndian(s[DataOffset..]), count);
    }
    /// <summary>Writes an entry.</summary>
    public void WriteTo(Span<byte> s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(s[CountOffset..], Count);
        LuoStrings.ToField(Name, s[..NameLength]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[DataOffset..], Data);
    }
}

/// <summary>C string helpers for fixed fields.</summary>
public static class LuoStrings
{
    /// <summary>Bytes up to the first NUL (the whole field if none), as Latin-1 text.</summary>
    public static string FromField(ReadOnlySpan<byte> field)
    {
        int n = field.IndexOf((byte)0);
        return Encoding.Latin1.GetString(n < 0 ? field : field[..n]);
    }

    /// <summary>strscpy-like: copies at most field.Length-1 bytes, NUL, zero pads.</summary>
    public static void ToField(string value, Span<byte> field)
    {
        field.Clear();
        byte[] b = Encoding.Latin1.GetBytes(value);
        b.AsSpan(0, Math.Min(b.Length, field.Length - 1)).CopyTo(field);
    }

    /// <summary>strncmp(field, value, field.Length) == 0.</summary>
    public static bool StrnEquals(ReadOnlySpan<byte> field, string value)
    {
        for (int i = 0; i < field.Length; i++)
        {
            byte want = i < value.Length ? (byte)value[i] : (byte)0;
            if (field[i] != want) return false;
            if (want == 0) return true;
        }
        return true;
    }
}
