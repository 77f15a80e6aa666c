using LuoModel.Cli;
using LuoModel.Kernel;
using LuoModel.Testkit.Histories;
using LuoModel.Testkit.Trace;

namespace LuoModel.Tests.Cli;

/// <summary><c>luo diff</c> over seeded random histories (issue 7 §3) and the LUOS presets.</summary>
public class DiffHistoriesCliTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);

    [Fact]
    public void Histories_where_double_preservation_diverges_name_the_first_step()
    {
        var (code, output, err) = Luo("diff", "--variant", "mainline", "--variant", "no-double-preserve", "B1", "--histories", "3");
        Assert.Equal((1, ""), (code, err));
        Assert.Equal(
            "# luo diff: mainline (<) vs no-double-preserve (>)\n\n# 0 of 1 scenarios differ\n\n"
            + "# random histories: 3 of 60 ops (property-test generator, seeds from 0x100520260007)\n\n"
            + "== history 1 (seed 0x5b9bf66128587861): first divergent step 31 of 60\n"
            + "< ioctl(2, PRESERVE_FD, {size=16, fd=8, token=0x4}) = -1 EBUSY\n"
            + "> ioctl(2, PRESERVE_FD, {size=16, fd=8, token=0x4}) = 0\n\n"
            + "== history 3 (seed 0xe2484fa11c9aec63): first divergent step 32 of 60\n"
            + "< ioctl(7, PRESERVE_FD, {size=5000, fd=5, token=0x4}) = -1 EBUSY\n"
            + "> ioctl(7, PRESERVE_FD, {size=5000, fd=5, token=0x4}) = 0\n\n"
            + "# 2 of 3 histories differ\n", output);
    }

    [Fact]
    public void Histories_under_a_session_inode_variant_do_not_diverge()
    {
        var (code, output, _) = Luo("diff", "--variant", "mainline", "--variant", "luos-per-session", "A1", "--histories", "5");
        Assert.Equal(0, code);
        Assert.Equal(
            "# luo diff: mainline (<) vs luos-per-session (>)\n\n# 0 of 1 scenarios differ\n\n"
            + "# random histories: 5 of 60 ops (property-test generator, seeds from 0x100520260007)\n\n"
            + "# 0 of 5 histories differ\n", output);
    }

    [Fact]
    public void A_renamed_session_link_is_a_difference_but_the_same_call()
    {
        var (code, output, _) = Luo("diff", "--variant", "luos-singleton", "--variant", "luos-per-session", "B1");
        Assert.Equal(1, code);
        Assert.Equal(
            "# luo diff: luos-singleton (<) vs luos-per-session (>)\n\n== B1 create_duplicate_session: pass < > pass\ncall 12:\n"
            + "< m1.b1.p4 close(4<luo_session:duplicate-session-test>) = 0\n"
            + "> m1.b1.p4 close(4<luo_session:[duplicate-session-test]>) = 0\n\n# 1 of 1 scenarios differ\n", output);
    }

    [Fact]
    public void History_usage_errors_exit_2()
    {
        Assert.Equal(2, Luo("diff", "--variant", "mainline", "A1", "--histories", "-1").Code);
        Assert.Equal(2, Luo("diff", "--variant", "mainline", "A1", "--histories", "1", "--history-length", "0").Code);
    }

    [Fact]
    public void Generation_is_deterministic_and_exactly_the_requested_length()
    {
        var a = RandomHistories.Generate(RandomHistories.SeedOf(RandomHistories.DefaultSeed, 1));
        var b = RandomHistories.Generate(RandomHistories.SeedOf(RandomHistories.DefaultSeed, 1));
        Assert.Equal(RandomHistories.DefaultLength, a.Count);
        Assert.Equal(a.Select(TraceFormat.Call), b.Select(TraceFormat.Call));
        Assert.NotEqual(a.Select(TraceFormat.Call), RandomHistories.Generate(RandomHistories.SeedOf(RandomHistories.DefaultSeed, 2)).Select(TraceFormat.Call));
        Assert.Equal(17, RandomHistories.Generate(5, 17).Count);
        var same = new KernelConfig();
        Assert.Null(RandomHistories.FirstDivergence(a, same, same));
    }

    [Fact]
    public void LUOS_presets_set_the_session_inode_switch()
    {
        Assert.Equal(SessionInodeKind.MagicSingleton, VariantPresets.Build(["luos-singleton"], out _)!.Luo.SessionInode);
        Assert.Equal(SessionInodeKind.MagicPerSession, VariantPresets.Build(["luos-per-session"], out _)!.Luo.SessionInode);
        Assert.Equal(SessionInodeKind.MagicPerSession, VariantPresets.Build(["session_inode=magic_per_session"], out _)!.Luo.SessionInode);
        Assert.Null(VariantPresets.Build(["luos-singleton", "luos-per-session"], out string? error));
        Assert.Contains("conflict", error, StringComparison.Ordinal);
    }
}
