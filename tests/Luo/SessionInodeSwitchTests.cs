using LuoModel.Kernel;
using LuoModel.Serve;

namespace LuoModel.Tests.Luo;

/// <summary>The session_inode switch as the selftest daemon's SET_VARIANT spells it (selftest-shim.md §7).</summary>
public class SessionInodeSwitchTests
{
    [Theory]
    [InlineData("session_inode=anon", SessionInodeKind.Anon, SessionInodeVariant.Anon)]
    [InlineData("session_inode=magic_singleton", SessionInodeKind.MagicSingleton, SessionInodeVariant.MagicSingleton)]
    [InlineData("SessionInode=MagicPerSession", SessionInodeKind.MagicPerSession, SessionInodeVariant.MagicPerSession)]
    public void Serve_settings_set_the_LuoOptions_switch(string setting, SessionInodeKind kind, SessionInodeVariant daemon)
    {
        var v = new VariantSettings(new KernelConfig());
        Assert.Null(v.Apply(setting));
        Assert.Equal(kind, v.Build().Luo.SessionInode);
        Assert.Equal(daemon, v.SessionInode);
        Assert.Single(v.Describe().Split('\n'), l => l.StartsWith("session_inode=", StringComparison.Ordinal));
        Assert.Null(v.Apply("defaults"));
        Assert.Equal(SessionInodeKind.Anon, v.Build().Luo.SessionInode);
    }

    [Fact]
    public void Unknown_session_inode_value_is_rejected()
    {
        var v = new VariantSettings(new KernelConfig());
        Assert.NotNull(v.Apply("session_inode=bogus"));
        Assert.Contains("session_inode", VariantSettings.SwitchNames);
        Assert.Single(VariantSettings.SwitchNames, n => n == "session_inode");
    }
}
