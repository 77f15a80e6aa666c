using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>A host file in a byte array (what the daemon's SCM_RIGHTS memfd is to the model).</summary>
internal sealed class FakeHostFile(ulong ino, string text, long size = 4096) : IHostFileBacking
{
    public byte[] Data { get; set; } = Fill(text, size);
    public int Releases { get; private set; }
    public bool FailReads { get; set; }
    public HostFileId Id { get; } = new(0x2a, ino);
    /// <summary>A size that differs from the data held (negative, or larger than memory).</summary>
    public long? SizeOverride { get; set; }
    public long Size => SizeOverride ?? Data.Length;
    public long Position { get; set; }
    public uint Seals { get; set; }

    public int ReadAt(long offset, Span<byte> destination)
    {
        if (FailReads) return -(int)Errno.EIO;
        if (offset >= Data.Length) return 0;
        int n = (int)Math.Min(destination.Length, Data.Length - offset);
        Data.AsSpan((int)offset, n).CopyTo(destination);
        return n;
    }

    public void Release() => Releases++;

    public static byte[] Fill(string text, long size)
    {
        var b = new byte[size];
        Encoding.ASCII.GetBytes(text).CopyTo(b, 0);
        return b;
    }
}

/// <summary>Host-backed memfds (kernel-model/HostMemfd.cs): contents are read at freeze, identity is the
/// host inode, the backing is released when the model inode goes.</summary>
public class HostMemfdTests : LuoTestBase
{
    [Fact]
    public void Writes_after_preserve_are_what_the_next_kernel_gets()
    {
        int dev = OpenDev();
        int s = Create(dev, "host");
        var host = new FakeHostFile(7, "at preserve") { Position = 5 };
        int fd = (int)K.InstallHostMemfd(P, host);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, fd, 0x1A));
        Assert.Equal(0, K.Close(P, fd));
        host.Data = FakeHostFile.Fill("after preserve", 4096);
        host.Position = 9;
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var next = K.Kexec();
        K.ReleaseHostBackings();
        Assert.Equal(1, host.Releases);
        var p = next.CreateProcess();
        int dev2 = (int)LuoSyscalls.OpenDevice(next, p);
        Assert.Equal(0, LuoSyscalls.RetrieveSession(next, p, dev2, "host", out int s2));
        long rfd = LuoSyscalls.RestoreAndVerifyMemfd(next, p, s2, 0x1A, "after preserve");
        Assert.True(rfd >= 0, $"restore = {rfd}");
        var m = (MemfdFile)p.FileOf((int)rfd)!;
        Assert.Equal(9, m.Position);                                   // offset taken at freeze
        var buf = new byte[32];
        Assert.Equal(32, Kernel.Kernel.ReadMemfdContents(m, 0, buf));
        Assert.Equal("after preserve", Encoding.ASCII.GetString(buf, 0, 14));
    }

    [Fact]
    public void Same_host_inode_is_one_model_inode()
    {
        int dev = OpenDev();
        int s1 = Create(dev, "a"), s2 = Create(dev, "b");
        var h1 = new FakeHostFile(11, "x");
        var h2 = new FakeHostFile(11, "x");
        int f1 = (int)K.InstallHostMemfd(P, h1);
        int f2 = (int)K.InstallHostMemfd(P, h2);
        Assert.Equal(1, h2.Releases);                                 // the model keeps one backing per inode
        Assert.Same(((MemfdFile)P.FileOf(f1)!).Inode, ((MemfdFile)P.FileOf(f2)!).Inode);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s1, f1, 1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s2, f2, 2));   // C5 through the host identity
        Assert.Equal(1, K.HostFileCount);
        K.Close(P, f1);
        K.Close(P, f2);
        Assert.Equal(0, h1.Releases);                                 // LUO still holds the file
        K.Close(P, s1);                                               // unpreserve drops LUO's reference
        Assert.Equal(1, h1.Releases);
        Assert.Equal(0, K.HostFileCount);
    }

    [Fact]
    public void Hugetlb_and_foreign_files_are_refused_and_unreadable_hosts_fail_the_reboot()
    {
        int dev = OpenDev();
        int s = Create(dev, "r");
        int huge = (int)K.InstallHostMemfd(P, new FakeHostFile(20, "h"), hugetlb: true);
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, huge, 1));
        int foreign = (int)K.InstallHostForeignFile(P, "/dev/null");
        Assert.Equal("/dev/null", P.FdPath(foreign));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.PreserveFd(K, P, s, foreign, 2));
        var bad = new FakeHostFile(21, "b");
        int fd = (int)K.InstallHostMemfd(P, bad);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, fd, 3));
        bad.FailReads = true;
        Assert.Equal(E(Errno.EIO), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));   // freeze fails → rollback
        Assert.Equal(KernelState.Running, K.State);
        bad.FailReads = false;
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
    }
}
