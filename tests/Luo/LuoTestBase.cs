using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Shared helpers: a booted kernel, a process, /dev/liveupdate open, raw struct builders.</summary>
public abstract class LuoTestBase
{
    protected LuoTestBase(KernelConfig? config = null)
    {
        K = Kernel.Kernel.ColdBoot(config ?? new KernelConfig { DramBytes = 1UL << 30 });
        P = K.CreateProcess();
    }

    protected Kernel.Kernel K { get; set; }
    protected Process P { get; set; }

    protected static long E(Errno e) => -(long)e;

    protected int OpenDev()
    {
        long fd = LuoSyscalls.OpenDevice(K, P);
        Assert.True(fd >= 0, $"open /dev/liveupdate = {fd}");
        return (int)fd;
    }

    protected int Create(int dev, string name)
    {
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, name, out int fd));
        return fd;
    }

    protected int Memfd(string text = "")
    {
        long fd = K.MemfdCreate(P, "m", 0);
        Assert.True(fd >= 0);
        if (text.Length > 0) Assert.Equal(text.Length, LuoSyscalls.WriteBytes(K, P, (int)fd, System.Text.Encoding.ASCII.GetBytes(text)));
        return (int)fd;
    }

    /// <summary>A memfd holding <paramref name="data"/>, written through write() (the offset is left at its end).</summary>
    protected int MemfdWith(byte[] data, uint flags = 0)
    {
        long fd = K.MemfdCreate(P, "m", flags);
        Assert.True(fd >= 0);
        Assert.Equal(data.Length, LuoSyscalls.WriteBytes(K, P, (int)fd, data));
        return (int)fd;
    }

    protected static byte[] SessionStruct(string name, uint size = 72)
    {
        var b = new byte[Math.Max(72, (int)size)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        System.Text.Encoding.ASCII.GetBytes(name).CopyTo(b, 8);
        return b;
    }

    protected static byte[] FdStruct(int fd, ulong token, uint size = 16)
    {
        var b = new byte[Math.Max(16, (int)size)];
        BinaryPrimitives.WriteUInt32LittleEndian(b, size);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), fd);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(8), token);
        return b;
    }

    /// <summary>Opens the device, reboots, overwrites one property of LUO's node in the outgoing KHO FDT and
    /// boots the next kernel over the edited handover.</summary>
    protected Kernel.Kernel KexecWithLuoKhoProperty(string name, byte[] value)
    {
        OpenDev();
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        byte[] kho = K.Kho.OutgoingFdt();
        int node = LuoModel.Fdt.Fdt.SubnodeOffset(kho, 0, Kernel.Luo.KhoEntryName);
        Assert.True(node > 0);
        Assert.Equal(0, LuoModel.Fdt.FdtRw.SetProp(kho, node, name, value));
        K.Arena.Write(K.Kho.FdtPhys, kho);
        return K.Kexec();
    }

    /// <summary>Maps a read-write buffer holding <paramref name="bytes"/> and returns its address.</summary>
    protected ulong UserBuf(byte[] bytes, Prot prot = Prot.Read | Prot.Write)
    {
        ulong a = P.Memory.Map((ulong)Math.Max(bytes.Length, 1), Prot.Read | Prot.Write);
        P.Memory.Poke(a, bytes);
        P.Memory.Protect(a, (ulong)Math.Max(bytes.Length, 1), prot);
        return a;
    }

    /// <summary>Reboots with kexec and boots the next kernel; the new kernel gets a fresh process.</summary>
    protected void KexecNext(KernelConfig? next = null)
    {
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        K = K.Kexec(next);
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
    }
}
