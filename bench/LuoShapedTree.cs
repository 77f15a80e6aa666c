using System.Buffers.Binary;
using System.Text;
using LuoModel.Fdt;

namespace LuoModel.Bench;

/// <summary>
/// The LUO-shaped benchmark tree of issue 3 §4: S sessions × F files, u64 values in CPU (little-endian)
/// byte order, node names formatted before timing — the same tree and call sequence as the libfdt
/// measurement it is compared with.
/// </summary>
internal sealed class LuoShapedTree
{
    public int Sessions { get; }
    public int Files { get; }
    public byte[][] SessionNode { get; }   // "session-<i>\0"
    public byte[][] SessionName { get; }   // "vm-session-<i, 5 digits>\0"
    public byte[][] FileNode { get; }      // "file-<j>\0"

    public LuoShapedTree(int sessions, int files)
    {
        Sessions = sessions;
        Files = files;
        SessionNode = [.. Enumerable.Range(0, sessions).Select(i => Z($"session-{i}"))];
        SessionName = [.. Enumerable.Range(0, sessions).Select(i => Z($"vm-session-{i:D5}"))];
        FileNode = [.. Enumerable.Range(0, files).Select(j => Z($"file-{j}"))];
    }

    private static byte[] Z(string s) => [.. Encoding.ASCII.GetBytes(s), 0];

    public long Nodes => 2 + (long)Sessions + (long)Sessions * Files;

    public static ulong Token(int i, int j) => ((ulong)i << 32) | (uint)j;
    public ulong Phys(int i, int j) => 0x100000000UL + ((ulong)i * (ulong)Files + (ulong)j) * 0x200000UL;
    public const ulong FileSize = 0x200000UL;

    /// <summary>Builds with the managed writer into <paramref name="buf"/> (size = its length); 0 or a libfdt code.</summary>
    public int Build(FdtWriter w, byte[] buf, FdtCreateFlags flags)
    {
        int e = w.CreateWithFlags(buf, buf.Length, flags);
        e |= w.FinishReservemap();
        e |= w.BeginNode(""u8);
        e |= w.PropertyString("compatible"u8, "luo-v1"u8);
        e |= w.PropertyU64Le("liveupdate-number"u8, 7);
        e |= w.BeginNode("luo-session"u8);
        e |= w.PropertyString("compatible"u8, "luo-session-v1"u8);
        for (int i = 0; i < Sessions; i++)
        {
            e |= w.BeginNode(SessionNode[i]);
            e |= w.PropertyString("session-name"u8, SessionName[i]);
            for (int j = 0; j < Files; j++)
            {
                e |= w.BeginNode(FileNode[j]);
                e |= w.PropertyString("compatible"u8, "memfd-v1"u8);
                e |= w.PropertyU64Le("token"u8, Token(i, j));
                e |= w.PropertyU64Le("phys-addr"u8, Phys(i, j));
                e |= w.PropertyU64Le("size"u8, FileSize);
                e |= w.EndNode();
            }
            e |= w.EndNode();
        }
        e |= w.EndNode();
        e |= w.EndNode();
        e |= w.Finish();
        return e;
    }

    /// <summary>The finished blob's size for the given flags (for the MB/s column and buffer sizing).</summary>
    public int BlobSize(FdtCreateFlags flags)
    {
        using var w = new FdtWriter();
        byte[] buf = new byte[64 + (int)Nodes * 160 + 4096];
        if (Build(w, buf, flags) != 0) throw new InvalidOperationException("benchmark tree does not fit");
        return w.TotalSize;
    }

    public byte[] Blob(FdtCreateFlags flags)
    {
        byte[] buf = new byte[BlobSize(flags)];
        using var w = new FdtWriter();
        if (Build(w, buf, flags) != 0) throw new InvalidOperationException("benchmark tree build failed");
        return buf;
    }

    /// <summary>Generic reader: every node, every property by offset (the C benchmark's walk_all).</summary>
    public static ulong Walk(ReadOnlySpan<byte> fdt)
    {
        ulong sum = 0;
        int depth = 0;
        for (int off = 0; off >= 0 && depth >= 0; off = LuoModel.Fdt.Fdt.NextNode(fdt, off, ref depth))
        {
            for (int p = LuoModel.Fdt.Fdt.FirstPropertyOffset(fdt, off); p >= 0; p = LuoModel.Fdt.Fdt.NextPropertyOffset(fdt, p))
            {
                int v = LuoModel.Fdt.Fdt.GetPropByOffset(fdt, p, out int name, out _, out int len);
                if (v < 0) throw new InvalidOperationException("walk failed");
                sum += (ulong)len + fdt[name] + (len > 0 ? fdt[v + len - 1] : 0u);
            }
        }
        return sum;
    }

    /// <summary>Schema-aware reader: properties fetched by name (the C benchmark's getprop_all).</summary>
    public static ulong GetPropAll(ReadOnlySpan<byte> fdt)
    {
        ulong sum = 0;
        int depth = 0;
        for (int off = 0; off >= 0 && depth >= 0; off = LuoModel.Fdt.Fdt.NextNode(fdt, off, ref depth))
        {
            switch (depth)
            {
                case 0:
                case 1:
                    sum += (ulong)Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "compatible"u8, out ReadOnlySpan<byte> _));
                    if (depth == 0)
                    {
                        Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "liveupdate-number"u8, out ReadOnlySpan<byte> v));
                        sum += BinaryPrimitives.ReadUInt64LittleEndian(v);
                    }
                    break;
                case 2:
                    sum += (ulong)Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "session-name"u8, out ReadOnlySpan<byte> _));
                    break;
                case 3:
                    sum += (ulong)Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "compatible"u8, out ReadOnlySpan<byte> _));
                    Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "token"u8, out ReadOnlySpan<byte> t));
                    Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "phys-addr"u8, out ReadOnlySpan<byte> pa));
                    Need(LuoModel.Fdt.Fdt.GetProp(fdt, off, "size"u8, out ReadOnlySpan<byte> sz));
                    sum += BinaryPrimitives.ReadUInt64LittleEndian(t) + BinaryPrimitives.ReadUInt64LittleEndian(pa) + BinaryPrimitives.ReadUInt64LittleEndian(sz);
                    break;
            }
        }
        return sum;
    }

    private static int Need(int r) => r >= 0 ? r : throw new InvalidOperationException($"getprop failed: {r}");
}
