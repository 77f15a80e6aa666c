using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>The get_name switch (luo.md §7.6, §7.9): absent, seed (68 bytes, name at 4, no reserved), merged (N).</summary>
public class GetNameVariantTests : LuoTestBase
{
    private void Boot(GetNameVariant v)
    {
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { GetName = v }, DramBytes = 1UL << 30 });
        P = K.CreateProcess();
    }

    private byte[] Call(int s, byte[] input, out long rc)
    {
        ulong a = UserBuf(input);
        rc = K.Ioctl(P, s, LiveupdateUapi.GetName, a);
        return P.Memory.Peek(a, input.Length);
    }

    [Fact]
    public void Absent_makes_nr_0x43_out_of_range_before_any_copy()
    {
        Boot(GetNameVariant.Absent);
        int s = Create(OpenDev(), "n");
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, LiveupdateUapi.GetName, 0)); // EINVAL, not EFAULT: step 1
        var b = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 72);
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.GetName(K, P, s, out string name));
        Assert.Equal("", name);
        Assert.Equal(E(Errno.EINVAL), K.Ioctl(P, s, 0xBA44, 0));
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, s, LiveupdateUapi.Finish, 0)); // the other three commands stay
    }

    [Fact]
    public void Seed_writes_the_name_at_offset_4_with_no_reserved_check()
    {
        Boot(GetNameVariant.Seed);
        int s = Create(OpenDev(), "seed-name");
        var b = new byte[68];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 68);
        b[60] = 0xAA; // past the name's NUL: kept (copied in and written back)
        var got = Call(s, b, out long rc);
        Assert.Equal(0, rc);
        Assert.Equal(68u, BinaryPrimitives.ReadUInt32LittleEndian(got));
        Assert.Equal("seed-name\0"u8.ToArray(), got.AsSpan(4, 10).ToArray());
        Assert.Equal(0xAA, got[60]);
        BinaryPrimitives.WriteUInt32LittleEndian(b, 67);
        Call(s, b, out rc);
        Assert.Equal(E(Errno.EINVAL), rc); // min size 68
        var big = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(big, 72);
        big[70] = 1;
        Call(s, big, out rc);
        Assert.Equal(E(Errno.E2BIG), rc); // tail past 68 must be zero
        // a merged-layout caller (the N selftest) gets 0 but finds its name at 8 shifted: B5/B6 disagree
        Assert.Equal(0, LuoSyscalls.GetName(K, P, s, out string name));
        Assert.Equal("-name", name);
    }

    [Fact]
    public void Merged_is_the_default_and_checks_reserved()
    {
        Assert.Equal(GetNameVariant.Merged, new LuoOptions().GetName);
        int s = Create(OpenDev(), "merged");
        var b = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 72);
        b[4] = 1;
        Call(s, b, out long rc);
        Assert.Equal(E(Errno.EINVAL), rc);
        Assert.Equal(0, LuoSyscalls.GetName(K, P, s, out string name));
        Assert.Equal("merged", name);
    }
}
