using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Fuzz;

namespace LuoModel.Fuzz;

/// <summary>Generated seed inputs (the FDT vectors are added by run.sh from tests/vectors/fdt).</summary>
internal static class Seeds
{
    public static void Write(string dir)
    {
        Put(dir, "kho-boot", "demo-v5-kho", FuzzTargets.HandoverSeed(LuoAbi.LuoV5, kho: true));
        Put(dir, "luo-v5", "demo-v5-luo", FuzzTargets.HandoverSeed(LuoAbi.LuoV5, kho: false));
        Put(dir, "luo-v1", "demo-v1-luo", FuzzTargets.HandoverSeed(LuoAbi.FdtV1, kho: false));
        foreach (var (name, bytes) in Images()) Put(dir, "image", name, bytes);
        foreach (var (name, bytes) in Ioctls()) Put(dir, "ioctl", name, bytes);
    }

    private static void Put(string dir, string target, string name, byte[] bytes)
    {
        string d = Path.Combine(dir, target);
        Directory.CreateDirectory(d);
        File.WriteAllBytes(Path.Combine(d, name), bytes);
    }

    private static byte[] Save(PhysicalArena a)
    {
        using var ms = new MemoryStream();
        ArenaImage.Save(a, ms);
        return ms.ToArray();
    }

    /// <summary>Small images: a few pages (raw and uniform), with and without a handoff, one scrubbed.</summary>
    private static IEnumerable<(string, byte[])> Images()
    {
        var a = new PhysicalArena(64 << 10);
        a.Write(0x1000, Encoding.ASCII.GetBytes("LUO demo page"));
        a.Fill(0x3000, PhysicalArena.PageSize, 0x5A);
        yield return ("small-plain", Save(a));
        a.Handoff = new KexecHandoff(0x1000, PhysicalArena.PageSize, 0x3000, 32);
        yield return ("small-handoff", Save(a));
        a.Scrub([new PhysRange(0x1000, 0x2000), new PhysRange(0x3000, 0x4000)]);
        yield return ("small-scrubbed", Save(a));
        var b = new PhysicalArena(1 << 20);
        byte[] fdt = new LuoModel.Fdt.FdtNode("").Prop("compatible", "kho-v4").Prop("preserved-memory-map", new byte[] { 0, 0x20, 0, 0, 0, 0, 0, 0 }).Build();
        b.Write(0x10000, fdt);
        b.Handoff = new KexecHandoff(0x10000, PhysicalArena.PageSize, 0x30000, 16);
        b.WriteU64(0x30000, 0x40000);
        b.WriteU64(0x30008, 0x10000);
        yield return ("kho-root-only", Save(b));
    }

    /// <summary>Small ioctl records (format in FuzzTargets.Ioctl): create/retrieve session, preserve, retrieve,
    /// finish, get_name, short and long sizes, a raw foreign command.</summary>
    private static IEnumerable<(string, byte[])> Ioctls()
    {
        static byte[] Rec(int fdSel, int nrSel, int layout, byte[] s) => [(byte)fdSel, 0x00, (byte)nrSel, (byte)layout, (byte)s.Length, .. s];
        static byte[] Sized(int size, int length, Action<byte[]>? fill = null)
        {
            var b = new byte[length];
            BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)size);
            fill?.Invoke(b);
            return b;
        }
        byte[] create = Sized(72, 72, b => Encoding.ASCII.GetBytes("new").CopyTo(b, 8));
        byte[] retrieve = Sized(72, 72, b => Encoding.ASCII.GetBytes("vm-2").CopyTo(b, 8));
        byte[] preserve = Sized(16, 16, b => { BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), 6); b[8] = 0x42; });
        byte[] retrFd = Sized(16, 16, b => b[8] = 0x1);
        yield return ("create", Rec(0, 0, 0x0a, create));
        yield return ("retrieve-session", Rec(0, 1, 0x0a, retrieve));
        yield return ("preserve", Rec(1, 2, 0x0a, preserve));
        yield return ("retrieve-fd", Rec(2, 3, 0x0a, retrFd));
        yield return ("finish", Rec(2, 4, 0x0a, Sized(8, 8)));
        yield return ("get-name", Rec(1, 5, 0x0a, Sized(72, 72)));
        yield return ("straddle-fault", Rec(1, 2, 0x25, preserve));
        yield return ("too-big-nonzero", Rec(0, 0, 0x0a, [.. Sized(80, 72, b => Encoding.ASCII.GetBytes("x").CopyTo(b, 8)), 0, 0, 0, 0, 0, 0, 0, 1]));
        yield return ("null-arg", Rec(0, 0, 0xe0, create));
        yield return ("raw-cmd", [3, 0xF0, 0x51, 0x54, 0, 0, 0x0a, 4, 0, 0, 0, 0]);
        yield return ("sequence", [.. Rec(0, 0, 0x0a, create), .. Rec(1, 2, 0x0a, preserve), .. Rec(2, 3, 0x0a, retrFd), .. Rec(2, 4, 0x0a, Sized(8, 8)), .. Rec(2, 5, 0x0a, Sized(16, 72))]);
    }
}
