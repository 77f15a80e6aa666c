using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary><see cref="Luo.Snapshot"/> (the state §8 inv. 11 compares): contents, ordering and value
/// equality. (Written against the Stryker survivors of the `misc` chunk, property-tests/README.md.)</summary>
public class LuoStateSnapshotTests : LuoTestBase
{
    [Fact]
    public void Snapshot_holds_the_state_in_order_and_compares_by_value()
    {
        int dev = OpenDev();
        int s = Create(dev, "a");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 7, "m"));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 5), 8));
        var snap = K.Luo.Snapshot();
        Assert.Equal(snap, K.Luo.Snapshot());
        Assert.Equal(snap.GetHashCode(), K.Luo.Snapshot().GetHashCode());
        var sess = Assert.Single(snap.Outgoing);
        Assert.Empty(snap.Incoming);
        Assert.Equal([7UL, 8UL], sess.Files.Select(f => f.Token));
        Assert.All(sess.Files, f => Assert.NotEqual(0UL, f.FileId));
        Assert.All(sess.Files, f => Assert.NotNull(f.RegistryId));
        Assert.Equal(K.Luo.Outgoing.List[0].FileBlocks!.Blocks, sess.FileBlocks);
        Assert.Single(sess.FileBlocks);
        Assert.Equal(K.Luo.Outgoing.Blocks!.Blocks, snap.SessionBlocks);
        Assert.Single(snap.SessionBlocks);
        Assert.Equal(2, snap.Registry.Count);
        Assert.True(string.CompareOrdinal(snap.Registry[0], snap.Registry[1]) < 0);
        Assert.Equal(K.Kho.PreservedBlocks().Count, snap.Preserved.Count);
        for (int i = 1; i < snap.Preserved.Count; i++) Assert.True(snap.Preserved[i - 1].Phys < snap.Preserved[i].Phys);
        Assert.Equal(0UL, snap.SessionsPa);
        Assert.True(snap.DeviceInUse);
        Assert.False(snap.Frozen);

        Create(dev, "b");
        Assert.NotEqual(snap, K.Luo.Snapshot());
        Assert.False(snap.Outgoing.Equals(K.Luo.Snapshot().Outgoing));
        Assert.False(snap.Outgoing.Equals(null));
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var frozen = K.Luo.Snapshot();
        Assert.Equal(K.Luo.Outgoing.Blocks.HeadPa, frozen.SessionsPa);
        Assert.NotEqual(0UL, frozen.SessionsPa);
        Assert.True(frozen.Frozen);
        Assert.Equal("[1, 2]", new ValueList<int>([1, 2]).ToString());
    }
}
