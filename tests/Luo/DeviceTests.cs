using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Boot parameters and the /dev/liveupdate lifecycle (luo.md §2.1, §3.1).</summary>
public class DeviceTests : LuoTestBase
{
    [Theory]
    [InlineData("on", true)]
    [InlineData("1", true)]
    [InlineData("y", true)]
    [InlineData("Y", true)]
    [InlineData("ON", true)]
    [InlineData("off", false)]
    [InlineData("0", false)]
    [InlineData("n", false)]
    [InlineData("x", null)]
    [InlineData("o", null)]
    [InlineData("", null)]
    public void Kstrtobool_rules(string s, bool? expected) => Assert.Equal(expected, KernelConfig.KstrToBool(s));

    [Theory]
    [InlineData(null, null)]
    [InlineData("off", null)]
    [InlineData("bogus", null)]
    [InlineData("on", "off")]
    public void Disabled_luo_has_no_device(string? liveupdate, string? kho)
    {
        var k = Kernel.Kernel.ColdBoot(new KernelConfig { Liveupdate = liveupdate, KhoParam = kho, DramBytes = 1UL << 30 });
        var p = k.CreateProcess();
        Assert.False(k.Luo.Enabled);
        Assert.Equal(E(Errno.ENOENT), k.Open(p, Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR));
        Assert.Equal(0, p.FdCount);
    }

    [Fact]
    public void Second_open_is_EBUSY_until_last_reference_goes()
    {
        int dev = OpenDev();
        Assert.Equal(E(Errno.EBUSY), K.Open(P, Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR));
        long dup = K.Dup(P, dev);
        Assert.Equal(0, K.Close(P, dev));
        Assert.Equal(E(Errno.EBUSY), K.Open(P, Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR)); // dup keeps it busy
        Assert.Equal(0, K.Close(P, (int)dup));
        Assert.False(K.Luo.DeviceInUse);
        Assert.True(OpenDev() >= 0);
    }

    [Fact]
    public void Fork_child_keeps_device_busy_after_parent_exit()
    {
        int dev = OpenDev();
        var child = K.Fork(P);
        K.Exit(P);
        Assert.True(K.Luo.DeviceInUse);
        K.Close(child, dev);
        Assert.False(K.Luo.DeviceInUse);
    }

    [Fact]
    public void Open_takes_lowest_fd_and_EMFILE_comes_first()
    {
        Assert.Equal(0, K.SetrlimitNofile(P, 1, 1));
        Assert.Equal(0, K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(E(Errno.EMFILE), K.Open(P, Kernel.Kernel.LiveupdatePath, OpenFlags.O_RDWR));
        Assert.False(K.Luo.DeviceInUse);
    }

    [Fact]
    public void Rlimit_rules()
    {
        Assert.Equal(E(Errno.EINVAL), K.SetrlimitNofile(P, 10, 5));
        Assert.Equal(E(Errno.EPERM), K.SetrlimitNofile(P, 10, 2_000_000));
        P.Privileged = false;
        Assert.Equal(E(Errno.EPERM), K.SetrlimitNofile(P, 10, 600_000));
        Assert.Equal(0, K.SetrlimitNofile(P, 10, 100));
        K.GetrlimitNofile(P, out ulong s, out ulong h);
        Assert.Equal((10UL, 100UL), (s, h));
    }

    [Fact]
    public void Device_release_does_not_touch_sessions()
    {
        int dev = OpenDev();
        int s = Create(dev, "keep");
        Assert.Equal(0, K.Close(P, dev));
        Assert.Single(K.Luo.Outgoing.Sessions);
        Assert.Equal("anon_inode:[luo_session] keep", P.FdPath(s));
        Assert.True(P.IsCloseOnExec(s));
    }

    [Fact]
    public void Dup2_dup3_and_fcntl_dupfd()
    {
        int n = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(5, K.Dup2(P, n, 5));
        Assert.Equal(E(Errno.EINVAL), K.Dup3(P, 5, 5, 0));
        Assert.Equal(5, K.Dup2(P, 5, 5));
        Assert.Equal(7, K.Fcntl(P, n, FcntlCmd.F_DUPFD_CLOEXEC, 7));
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, 7, FcntlCmd.F_GETFD));
        Assert.Equal(E(Errno.EBADF), K.Dup2(P, 3, 4));
        Assert.Equal(E(Errno.EBADF), K.Close(P, 3));
        Assert.Equal(E(Errno.ENOTTY), K.Ioctl(P, n, LiveupdateUapi.CreateSession, 0));
    }
}
