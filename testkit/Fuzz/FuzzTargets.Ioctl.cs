using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Fuzz;

public static partial class FuzzTargets
{
    /// <summary>Most ioctl records one input runs.</summary>
    public const int MaxIoctls = 24;

    private static readonly uint[] LikelyNr = [0x00, 0x01, 0x40, 0x41, 0x42, 0x43, 0x02, 0x44];

    /// <summary>
    /// Raw ioctl decoder (luo.md §3.2–§3.9): a kernel booted from the demo handover, with the device open, an
    /// incoming session retrieved, an outgoing session created and a memfd open. The input is a sequence of
    /// records: fd selector, command (mostly 0xBA00 | a likely nr, sometimes a raw u32), user-memory layout
    /// (protection of two pages, placement of the struct across the boundary, NULL or unmapped), struct
    /// length and bytes (the size field is the first four). Every result must be 0 or a kernel errno; then
    /// the kernel reboots and its handover must be accepted by the next kernel, whose device opens.
    /// </summary>
    public static void Ioctl(ReadOnlySpan<byte> d)
    {
        if (d.Length > MaxInput) d = d[..MaxInput];
        var h = DemoHandover.Get(LuoAbi.LuoV5);
        var k = h.Boot(h.LoadArena());
        var p = k.CreateProcess();
        int dev = (int)LuoSyscalls.OpenDevice(k, p);
        Require(dev >= 0, "demo device does not open");
        LuoSyscalls.RetrieveSession(k, p, dev, "vm-1", out int inFd);
        LuoSyscalls.CreateSession(k, p, dev, "fz", out int outFd);
        int mfd = (int)k.MemfdCreate(p, "fz", MemfdConsts.MFD_ALLOW_SEALING);
        LuoSyscalls.WriteBytes(k, p, mfd, "fuzz"u8);
        int[] fds = [dev, outFd, inFd, mfd, 77, -1];
        for (int n = 0; n < MaxIoctls && d.Length >= 5; n++)
        {
            int fd = fds[d[0] % fds.Length];
            uint cmd;
            int used;
            if (d[1] < 0xE0)
            {
                cmd = (LiveupdateUapi.IoctlType << 8) | (d[2] < 0x80 ? LikelyNr[d[2] % LikelyNr.Length] : d[2]);
                used = 3;
            }
            else
            {
                if (d.Length < 6) break;
                cmd = BinaryPrimitives.ReadUInt32LittleEndian(d[2..]);
                used = 6;
            }
            if (d.Length < used + 2) break;
            byte layout = d[used];
            int len = d[used + 1];
            used += 2;
            var bytes = d.Slice(used, Math.Min(len, d.Length - used));
            d = d[(used + bytes.Length)..];
            long rc = OneIoctl(k, p, fd, cmd, layout, bytes);
            Require(HandoverObserver.IsKernelResult(rc), $"ioctl(fd {fd}, 0x{cmd:x}) = {rc}: not a kernel result");
        }
        SecondHandover(k);
    }

    private static long OneIoctl(LuoModel.Kernel.Kernel k, Process p, int fd, uint cmd, byte layout, ReadOnlySpan<byte> bytes)
    {
        const int Page = UserMemory.PageSize;
        ulong buf = p.Memory.Map(2 * Page, Prot.Read | Prot.Write);
        int place = layout >> 4;
        ulong arg = place switch
        {
            0 => buf,
            14 => 0,
            15 => buf + (4 * Page),
            _ => buf + Page - (ulong)(4 * place),
        };
        if (place != 14 && place != 15)
        {
            int room = (int)(buf + (2 * Page) - arg);
            p.Memory.Poke(arg, bytes[..Math.Min(bytes.Length, room)]);
        }
        p.Memory.Protect(buf, Page, ProtOf(layout & 3));
        p.Memory.Protect(buf + Page, Page, ProtOf((layout >> 2) & 3));
        long rc = k.Ioctl(p, fd, cmd, arg);
        p.Memory.Unmap(buf, 2 * Page);
        return rc;
    }

    private static Prot ProtOf(int v) => v switch { 0 => Prot.None, 1 => Prot.Read, _ => Prot.Read | Prot.Write };
}
