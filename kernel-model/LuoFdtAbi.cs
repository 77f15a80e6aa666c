using System.Buffers.Binary;
using LuoModel.Fdt;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Names and sizes of the FDT-era ABI "luo-v1" (luo.md §5.8).</summary>
public static class LuoFdtV1
{
    /// <summary>Root compatible.</summary>
    public const string Compatible = "luo-v1";
    /// <summary>Root property holding the u64 liveupdate number (raw little-endian 8 bytes).</summary>
    public const string NumberProp = "liveupdate-number";
    /// <summary>Session node name.</summary>
    public const string SessionNode = "luo-session";
    /// <summary>Session node compatible.</summary>
    public const string SessionCompatible = "luo-session-v2";
    /// <summary>Session header property (u64 phys of the 16-page session area).</summary>
    public const string SessionHeaderProp = "luo-session-header";
    /// <summary>FLB node name.</summary>
    public const string FlbNode = "luo-flb";
    /// <summary>FLB node compatible.</summary>
    public const string FlbCompatible = "luo-flb-v1";
    /// <summary>FLB header property.</summary>
    public const string FlbHeaderProp = "luo-flb-header";
    /// <summary>Pages of the session area.</summary>
    public const int SessionAreaPages = 16;
    /// <summary>Pages of a session's file area.</summary>
    public const int FileAreaPages = 2;
}

public sealed partial class Luo
{
    private const int FdtSessionHeaderSize = 8;

    /// <summary>FDT era: physical address of the outgoing 16-page session area (count @0, entries @8).</summary>
    public ulong FdtSessionArea { get; private set; }
    /// <summary>FDT era: incoming session area (0 if none).</summary>
    public ulong FdtIncomingSessionArea { get; private set; }

    /// <summary>FDT-era late init: session area, FLB page and the one-page root FDT, registered as "LUO".</summary>
    private Errno FdtLateInit()
    {
        Errno rc = Faults.Check(FaultPoint.LateInitAlloc);
        if (rc != Errno.Ok) return rc;
        if (AllocPreserve((ulong)LuoFdtV1.SessionAreaPages * PhysicalArena.PageSize, out ulong area, "fdt session area") != Errno.Ok) return Errno.ENOMEM;
        if (AllocPreserve(PhysicalArena.PageSize, out ulong flb, "flb page") != Errno.Ok) { Kho.UnpreserveFree(area); return Errno.ENOMEM; }
        if (AllocPreserve(PhysicalArena.PageSize, out ulong fdt, "luo fdt") != Errno.Ok)
        {
            Kho.UnpreserveFree(flb);
            Kho.UnpreserveFree(area);
            return Errno.ENOMEM;
        }
        Kho.Arena.WriteU64(flb + LuoFlbHeaderSer.PageCountOffset, LuoFlbHeaderSer.FlbPageCount);
        byte[] blob = BuildRootFdt(LiveupdateNum + 1, area, flb);
        Kho.Arena.Write(fdt, blob);
        rc = Kho.AddSubtree(KhoEntryName, fdt, PhysicalArena.PageSize);
        if (rc != Errno.Ok)
        {
            Kho.UnpreserveFree(fdt);
            Kho.UnpreserveFree(flb);
            Kho.UnpreserveFree(area);
            return rc;
        }
        FdtSessionArea = area;
        OutFlbPhys = flb;
        OutRootPhys = fdt;
        return Errno.Ok;
    }

    /// <summary>The root FDT of §5.8, written with the sequential-write API into one page.</summary>
    public static byte[] BuildRootFdt(ulong number, ulong sessionArea, ulong flbPage)
    {
        var buf = new byte[PhysicalArena.PageSize];
        using var w = new FdtWriter();
        Check(w.Create(buf, buf.Length));
        Check(w.FinishReservemap());
        Check(w.BeginNode(""));
        Check(w.PropertyString("compatible", LuoFdtV1.Compatible));
        Check(w.PropertyU64Le("liveupdate-number"u8, number));
        Check(w.BeginNode(LuoFdtV1.SessionNode));
        Check(w.PropertyString("compatible", LuoFdtV1.SessionCompatible));
        Check(w.PropertyU64Le("luo-session-header"u8, sessionArea));
        Check(w.EndNode());
        Check(w.BeginNode(LuoFdtV1.FlbNode));
        Check(w.PropertyString("compatible", LuoFdtV1.FlbCompatible));
        Check(w.PropertyU64Le("luo-flb-header"u8, flbPage));
        Check(w.EndNode());
        Check(w.EndNode());
        Check(w.Finish());
        return buf;
    }

    // Fixed content in one page: a writer error is a bug in this file, not an input error.
    private static void Check(int rc)
    {
        if (rc != 0) throw new InvalidOperationException($"luo-v1 FDT does not fit one page ({rc})");
    }

    /// <summary>FDT-era early boot (luo.md §5.8): every check failure panics.</summary>
    private string? FdtEarlyInit()
    {
        Errno rc = Kho.RetrieveSubtree(KhoEntryName, out ulong phys, out _);
        if (rc == Errno.ENOENT) return null;
        if (rc != Errno.Ok) return $"luo_restore_fail: kho_retrieve_subtree(\"LUO\") = -{rc}";
        var page = new byte[PhysicalArena.PageSize];
        if (!Kho.Arena.TryRead(phys, page)) return "luo_restore_fail: LUO FDT outside memory";
        ReadOnlySpan<byte> f = page;
        if (Fdt.Fdt.CheckHeader(f) != 0) return "luo_restore_fail: bad LUO FDT header";
        if (Fdt.Fdt.NodeCheckCompatible(f, 0, LuoFdtV1.Compatible) != 0) return "luo_restore_fail: root compatible is not luo-v1";
        if (Fdt.Fdt.GetProp(f, 0, LuoFdtV1.NumberProp, out var num) < 0 || num.Length != 8) return "luo_restore_fail: liveupdate-number";
        LiveupdateNum = BinaryPrimitives.ReadUInt64LittleEndian(num);
        int sn = Fdt.Fdt.SubnodeOffset(f, 0, LuoFdtV1.SessionNode);
        if (sn < 0 || Fdt.Fdt.NodeCheckCompatible(f, sn, LuoFdtV1.SessionCompatible) != 0) return "luo_restore_fail: luo-session node";
        if (Fdt.Fdt.GetProp(f, sn, LuoFdtV1.SessionHeaderProp, out var sh) < 0 || sh.Length != 8) return "luo_restore_fail: luo-session-header";
        int fn = Fdt.Fdt.SubnodeOffset(f, 0, LuoFdtV1.FlbNode);
        if (fn < 0) return "luo_restore_fail: luo-flb node missing (-ENOENT)";
        if (Fdt.Fdt.GetProp(f, fn, LuoFdtV1.FlbHeaderProp, out var fh) >= 0 && fh.Length == 8)
            IncomingFlbPa = BinaryPrimitives.ReadUInt64LittleEndian(fh);
        ulong area = BinaryPrimitives.ReadUInt64LittleEndian(sh);
        if (area != 0 && Kho.Arena.Contains(area, (ulong)LuoFdtV1.SessionAreaPages * PhysicalArena.PageSize))
        {
            FdtIncomingSessionArea = area;
            Incoming.Active = Kho.Arena.ReadU64(area) != 0;
        }
        return null;
    }

    private List<ulong> FdtIncomingSessionEntries()
    {
        ulong count = Math.Min(Kho.Arena.ReadU64(FdtIncomingSessionArea), LuoOptions.FdtMaxSessions);
        var list = new List<ulong>((int)count);
        for (int i = 0; i < (int)count; i++) list.Add(FdtIncomingSessionArea + FdtSessionHeaderSize + ((ulong)i * LuoSessionSer.Size));
        return list;
    }

    private void FdtReleaseIncomingSessionArea()
    {
        if (FdtIncomingSessionArea == 0) return;
        Kho.RestoreFree(FdtIncomingSessionArea);
        FdtIncomingSessionArea = 0;
    }
}
