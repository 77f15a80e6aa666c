using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace LuoModel.Fdt;

/// <summary>
/// Host-side index of the sequential writer's strings table, so that finding a property name costs one hash
/// probe instead of libfdt's scan of the whole table (fdt.md §8 "The strings table while building").
/// </summary>
/// <remarks>
/// libfdt returns the lowest address at which <c>name\0</c> occurs. The table grows downwards, so that is
/// the most recently added stored string having the name as a suffix. The index therefore maps every suffix
/// of every stored string to its position, and a newer string overwrites older entries: the answer is always
/// the one libfdt's scan gives. Keys are not copied: an entry holds the provisional (negative, relative to
/// the end of the buffer) offset and the key is compared against the buffer itself.
/// </remarks>
internal sealed class FdtNameCache
{
    private int[] _offsets = new int[64];   // provisional nameoff (negative); 0 = empty slot
    private int[] _lengths = new int[64];
    private int[] _hashes = new int[64];
    private int _count;

    public void Clear()
    {
        if (_count == 0) return;
        Array.Clear(_offsets);
        _count = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(ReadOnlySpan<byte> s)
    {
        // Names are short (1..31 bytes): mix the length with the first and last eight bytes, read as
        // little-endian words (byte order only affects the hash, never a result), instead of a byte loop.
        ulong h = (ulong)s.Length * 0x9E3779B97F4A7C15UL;
        if (s.Length >= 8)
        {
            h ^= BinaryPrimitives.ReadUInt64LittleEndian(s);
            h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9UL;
            h ^= BinaryPrimitives.ReadUInt64LittleEndian(s[^8..]);
        }
        else
        {
            foreach (byte b in s) h = (h << 8) | b;
        }
        h = (h ^ (h >> 32)) * 0x94D049BB133111EBUL;
        return (int)((h >> 33) & 0x7fffffff) | 1;
    }

    /// <summary>Provisional offset of <paramref name="name"/> or 0 when it is not in the table.</summary>
    public int Find(ReadOnlySpan<byte> name, ReadOnlySpan<byte> buffer, int end)
    {
        int h = Hash(name);
        int mask = _offsets.Length - 1;
        for (int i = h & mask; ; i = (i + 1) & mask)
        {
            int off = _offsets[i];
            if (off == 0) return 0;
            if (_hashes[i] == h && _lengths[i] == name.Length && buffer.Slice(end + off, name.Length).SequenceEqual(name))
                return off;
        }
    }

    /// <summary>Records a string newly stored at provisional offset <paramref name="offset"/>, with all its suffixes.</summary>
    public void AddWithSuffixes(ReadOnlySpan<byte> name, int offset)
    {
        for (int i = 0; i < name.Length; i++) Set(name[i..], offset + i);
    }

    private void Set(ReadOnlySpan<byte> key, int offset)
    {
        if ((_count + 1) * 2 > _offsets.Length) Grow();
        int h = Hash(key);
        int mask = _offsets.Length - 1;
        for (int i = h & mask; ; i = (i + 1) & mask)
        {
            if (_offsets[i] == 0)
            {
                _offsets[i] = offset; _lengths[i] = key.Length; _hashes[i] = h; _count++;
                return;
            }
            // Same key (same hash and length; the caller only adds keys that end at a NUL): newer wins.
            if (_hashes[i] == h && _lengths[i] == key.Length && SameKey(i, key))
            {
                _offsets[i] = offset;
                return;
            }
        }
    }

    // Keys are compared by content through the owner's buffer; the owner passes it in before adding.
    private byte[]? _buffer;
    private int _end;

    public void Bind(byte[] buffer, int end) { _buffer = buffer; _end = end; }

    private bool SameKey(int slot, ReadOnlySpan<byte> key) =>
        _buffer is not null && _buffer.AsSpan(_end + _offsets[slot], key.Length).SequenceEqual(key);

    private void Grow()
    {
        int[] oo = _offsets, ol = _lengths, oh = _hashes;
        _offsets = new int[oo.Length * 2]; _lengths = new int[oo.Length * 2]; _hashes = new int[oo.Length * 2];
        int mask = _offsets.Length - 1;
        for (int j = 0; j < oo.Length; j++)
        {
            if (oo[j] == 0) continue;
            int i = oh[j] & mask;
            while (_offsets[i] != 0) i = (i + 1) & mask;
            _offsets[i] = oo[j]; _lengths[i] = ol[j]; _hashes[i] = oh[j];
        }
    }
}
