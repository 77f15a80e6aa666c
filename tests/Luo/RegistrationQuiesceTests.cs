using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>The registration_quiesce switch (luo.md §2.4, FDT era): handler (un)registration fails EBUSY while
/// any session exists; N allows it at any time.</summary>
public class RegistrationQuiesceTests : LuoTestBase
{
    [Fact]
    public void Quiesce_refuses_registration_while_a_session_exists()
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { RegistrationQuiesce = true }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
        var handler = K.Luo.FindHandler(TestFileHandler.DefaultCompatible)!;
        int dev = OpenDev();
        int s = Create(dev, "q");
        Assert.Equal(Errno.EBUSY, K.Luo.UnregisterFileHandler(handler));
        Assert.Same(handler, K.Luo.FindHandler(TestFileHandler.DefaultCompatible)); // nothing changed
        Assert.Equal(0, K.Close(P, s));
        Assert.Equal(Errno.Ok, K.Luo.UnregisterFileHandler(handler));
        Assert.Null(K.Luo.FindHandler(TestFileHandler.DefaultCompatible));
        s = Create(dev, "q2");
        Assert.Equal(Errno.EBUSY, K.Luo.RegisterFileHandler(handler));
        Assert.Null(K.Luo.FindHandler(TestFileHandler.DefaultCompatible));
        Assert.Equal(0, K.Close(P, s));
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(handler));
        Assert.Equal(Errno.EEXIST, K.Luo.RegisterFileHandler(handler));
    }

    [Fact]
    public void Mainline_registers_and_unregisters_with_sessions_open()
    {
        Assert.False(new LuoOptions().RegistrationQuiesce);
        var handler = K.Luo.FindHandler(TestFileHandler.DefaultCompatible)!;
        Create(OpenDev(), "n");
        Assert.Equal(Errno.Ok, K.Luo.UnregisterFileHandler(handler));
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(handler));
    }
}
