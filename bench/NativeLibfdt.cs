using System.Runtime.InteropServices;

namespace LuoModel.Bench;

/// <summary>
/// Debian's libfdt.so.1 (1.6.1) through P/Invoke: the baseline column of the FDT benchmarks. Rows that use it
/// are filtered out with a message when the library is absent (see Program.cs).
/// </summary>
internal static unsafe partial class NativeLibfdt
{
    private const string Lib = "libfdt.so.1";

    public static bool IsAvailable { get; } = NativeLibrary.TryLoad(Lib, out _);

    [LibraryImport(Lib, EntryPoint = "fdt_create_with_flags")] public static partial int CreateWithFlags(byte* buf, int size, uint flags);
    [LibraryImport(Lib, EntryPoint = "fdt_finish_reservemap")] public static partial int FinishReservemap(byte* fdt);
    [LibraryImport(Lib, EntryPoint = "fdt_begin_node")] public static partial int BeginNode(byte* fdt, byte* name);
    [LibraryImport(Lib, EntryPoint = "fdt_property")] public static partial int Property(byte* fdt, byte* name, void* val, int len);
    [LibraryImport(Lib, EntryPoint = "fdt_end_node")] public static partial int EndNode(byte* fdt);
    [LibraryImport(Lib, EntryPoint = "fdt_finish")] public static partial int Finish(byte* fdt);
    [LibraryImport(Lib, EntryPoint = "fdt_next_node")] public static partial int NextNode(byte* fdt, int offset, int* depth);
    [LibraryImport(Lib, EntryPoint = "fdt_first_property_offset")] public static partial int FirstPropertyOffset(byte* fdt, int node);
    [LibraryImport(Lib, EntryPoint = "fdt_next_property_offset")] public static partial int NextPropertyOffset(byte* fdt, int offset);
    [LibraryImport(Lib, EntryPoint = "fdt_getprop_by_offset")] public static partial byte* GetPropByOffset(byte* fdt, int offset, byte** name, int* len);
    [LibraryImport(Lib, EntryPoint = "fdt_getprop")] public static partial byte* GetProp(byte* fdt, int node, byte* name, int* len);
    [LibraryImport(Lib, EntryPoint = "fdt_check_full")] public static partial int CheckFull(byte* fdt, nuint bufsize);

    private static int PropString(byte* fdt, byte* name, byte[] value)
    {
        fixed (byte* v = value) return Property(fdt, name, v, value.Length);   // value includes its NUL
    }

    private static int PropU64(byte* fdt, byte* name, ulong v) => Property(fdt, name, &v, 8);

    /// <summary>The same call sequence as LuoShapedTree.Build, through libfdt.</summary>
    public static int Build(LuoShapedTree t, byte* buf, int size, uint flags)
    {
        fixed (byte* compatible = "compatible\0"u8, luoV1 = "luo-v1\0"u8, lun = "liveupdate-number\0"u8, luoSession = "luo-session\0"u8,
               empty = "\0"u8, sessionName = "session-name\0"u8, token = "token\0"u8, physAddr = "phys-addr\0"u8, sizeName = "size\0"u8)
        {
            byte[] luoSessionV1 = "luo-session-v1\0"u8.ToArray(), memfdV1 = "memfd-v1\0"u8.ToArray(), luoV1a = "luo-v1\0"u8.ToArray();
            int e = CreateWithFlags(buf, size, flags);
            e |= FinishReservemap(buf);
            e |= BeginNode(buf, empty);
            e |= PropString(buf, compatible, luoV1a);
            e |= PropU64(buf, lun, 7);
            e |= BeginNode(buf, luoSession);
            e |= PropString(buf, compatible, luoSessionV1);
            for (int i = 0; i < t.Sessions; i++)
            {
                fixed (byte* sn = t.SessionNode[i]) e |= BeginNode(buf, sn);
                e |= PropString(buf, sessionName, t.SessionName[i]);
                for (int j = 0; j < t.Files; j++)
                {
                    fixed (byte* fnode = t.FileNode[j]) e |= BeginNode(buf, fnode);
                    e |= PropString(buf, compatible, memfdV1);
                    e |= PropU64(buf, token, LuoShapedTree.Token(i, j));
                    e |= PropU64(buf, physAddr, t.Phys(i, j));
                    e |= PropU64(buf, sizeName, LuoShapedTree.FileSize);
                    e |= EndNode(buf);
                }
                e |= EndNode(buf);
            }
            e |= EndNode(buf);
            e |= EndNode(buf);
            e |= Finish(buf);
            return e;
        }
    }

    public static ulong Walk(byte* fdt)
    {
        ulong sum = 0;
        int depth = 0;
        for (int off = 0; off >= 0 && depth >= 0; off = NextNode(fdt, off, &depth))
        {
            for (int p = FirstPropertyOffset(fdt, off); p >= 0; p = NextPropertyOffset(fdt, p))
            {
                byte* name;
                int len;
                byte* v = GetPropByOffset(fdt, p, &name, &len);
                if (v == null) throw new InvalidOperationException("walk failed");
                sum += (ulong)len + name[0] + (len > 0 ? v[len - 1] : 0u);
            }
        }
        return sum;
    }

    public static ulong GetPropAll(byte* fdt)
    {
        ulong sum = 0;
        int depth = 0, len;
        fixed (byte* compatible = "compatible\0"u8, lun = "liveupdate-number\0"u8, sessionName = "session-name\0"u8,
               token = "token\0"u8, physAddr = "phys-addr\0"u8, sizeName = "size\0"u8)
        {
            for (int off = 0; off >= 0 && depth >= 0; off = NextNode(fdt, off, &depth))
            {
                switch (depth)
                {
                    case 0:
                    case 1:
                        if (GetProp(fdt, off, compatible, &len) == null) throw new InvalidOperationException();
                        sum += (ulong)len;
                        if (depth == 0) sum += *(ulong*)GetProp(fdt, off, lun, &len);
                        break;
                    case 2:
                        if (GetProp(fdt, off, sessionName, &len) == null) throw new InvalidOperationException();
                        sum += (ulong)len;
                        break;
                    case 3:
                        if (GetProp(fdt, off, compatible, &len) == null) throw new InvalidOperationException();
                        sum += (ulong)len;
                        sum += Unaligned(GetProp(fdt, off, token, &len)) + Unaligned(GetProp(fdt, off, physAddr, &len)) + Unaligned(GetProp(fdt, off, sizeName, &len));
                        break;
                }
            }
        }
        return sum;
    }

    private static ulong Unaligned(byte* p) => p == null ? throw new InvalidOperationException() : System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(p);
}
