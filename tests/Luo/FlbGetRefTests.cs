using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Tests.Luo;

/// <summary>The flb_get_takes_ref switch (luo.md §2.5): N's get_incoming takes a reference; cab056f2's does not.</summary>
public class FlbGetRefTests : LuoTestBase
{
    private (Kernel.Kernel Next, CountingFlb Flb) HandOverOneFile(bool takesRef)
    {
        var config = new KernelConfig { Luo = new LuoOptions { FlbGetTakesRef = takesRef }, DramBytes = 1UL << 30 };
        K = Kernel.Kernel.ColdBoot(config);
        P = K.CreateProcess();
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(K.TestHandler!, new CountingFlb()));
        int s = Create(OpenDev(), "flb");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 5), 1));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var next = K.Kexec();
        var flb = new CountingFlb();
        Assert.Equal(Errno.Ok, next.Luo.RegisterFlb(next.TestHandler!, flb));
        return (next, flb);
    }

    [Fact]
    public void Mainline_get_incoming_takes_a_reference_the_put_balances()
    {
        var (next, flb) = HandOverOneFile(takesRef: true);
        Assert.Equal(Errno.Ok, next.Luo.FlbGetIncoming(flb, out object? obj));
        Assert.NotNull(obj);
        Assert.Equal(2, flb.IncomingCount); // serialized count 1 (one file) + the caller's reference
        next.Luo.FlbPutIncoming(flb);
        Assert.Equal((1L, 0, false), (flb.IncomingCount, flb.FinishCalls, flb.IncomingFinished));
    }

    [Fact]
    public void Without_the_reference_one_put_finishes_and_a_second_wraps_silently()
    {
        var (next, flb) = HandOverOneFile(takesRef: false);
        Assert.Equal(Errno.Ok, next.Luo.FlbGetIncoming(flb, out object? obj));
        Assert.NotNull(obj);
        Assert.Equal(1, flb.IncomingCount);
        next.Luo.FlbPutIncoming(flb);
        Assert.Equal((0L, 1, true), (flb.IncomingCount, flb.FinishCalls, flb.IncomingFinished));
        next.Luo.FlbPutIncoming(flb);
        Assert.Equal((-1L, 0, 1), (flb.IncomingCount, flb.IncomingUnderflows, flb.FinishCalls));
    }
}
