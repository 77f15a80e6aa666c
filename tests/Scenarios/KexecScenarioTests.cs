using System.Text;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Catalog rows F, G, H and I, scenarios.md §2, mainline N.</summary>
public class KexecScenarioTests
{
    private static string Hex(string s) => Convert.ToHexStringLower(Encoding.ASCII.GetBytes(s));

    [Fact]
    public void F1_luo_kexec_simple()
    {
        var r = ScenarioResults.Passed("F1");
        Assert.Equal(
        [
            "# [STAGE 1] Starting pre-kexec setup...",
            "# [STAGE 1] forking a child that keeps the sessions open",
            "# [STAGE 1] child pid 3 holds the sessions; ready for the kexec reboot",
            "# [STAGE 2] Starting post-kexec verification...",
            "# [STAGE 2] Test data verified successfully.",
            "# ",
            "--- SIMPLE KEXEC TEST PASSED ---",
        ], r.Output);
        Assert.Equal([new ProgramExit("luo_kexec_simple -s 1", 0), new ProgramExit("luo_kexec_simple -s 2", 0)], r.Exits);
        var lines = r.Trace.Lines().ToList();
        // stage 1 writes the state text "2" and the data text through a shared mapping, NUL included
        Assert.Contains("m1.b1.p2 store(0x7f0000003000, 3200) = 0", lines);
        Assert.Contains("m1.b1.p2 store(0x7f0000005000, " + Hex("hello kexec world") + "00) = 0", lines);
        // the holder: setsid, fds 0-2 closed, sessions kept; then init reboots and the next kernel boots
        int reboot = lines.IndexOf("m1.b1.p1 reboot(LINUX_REBOOT_CMD_KEXEC) = 0");
        Assert.Equal(["m1.b1.p3 setsid() = 3", "m1.b1.p3 close(0</dev/null>) = 0", "m1.b1.p3 close(1</dev/null>) = 0", "m1.b1.p3 close(2</dev/null>) = 0"],
            lines.GetRange(reboot - 4, 4));
        Assert.Equal("m1.b2.p0 kexec() = 2", lines[reboot + 1]);
        // stage 2 reads "2" from the state memfd and finds the text in the retrieved page
        Assert.Contains("m1.b2.p2 read(5</memfd: (deleted)>, 31) = 31 <- 32" + new string('0', 60), lines);
        Assert.StartsWith(Hex("hello kexec world") + "00", Assert.Single(r.Calls("load")).Data);
    }

    [Fact]
    public void G1_luo_multi_session()
    {
        var r = ScenarioResults.Passed("G1");
        Assert.Equal("--- MULTI-SESSION KEXEC TEST PASSED ---", r.Output[^1]);
        var b2 = r.Ioctls("LIVEUPDATE_IOCTL_RETRIEVE_SESSION").Where(x => x.Boot == 2).ToList();
        Assert.Equal(5, b2.Count);
        Assert.All(b2, x => Assert.Equal("0", x.ResultText));
        Assert.Equal(
        [
            Hex("Data for session files 1") + "00",
            Hex("First file for session files 2") + "00",
            Hex("Second file for session files 2") + "00",
        ], r.Calls("load").Select(x => x.Data![..(x.Data!.IndexOf("0000", StringComparison.Ordinal) + 2)]));
        // tokens are looked up per session: 0x2002 and 0x3003 in files-2 (fd 8)
        Assert.Equal(2, r.Ioctls("LIVEUPDATE_SESSION_RETRIEVE_FD").Count(x => x.Boot == 2 && x.Args.StartsWith("8<anon_inode:[luo_session] multi-test-files-2>", StringComparison.Ordinal)));
    }

    [Fact]
    public void H1_preserve_many_sessions()
    {
        var r = ScenarioResults.Passed("H1");
        Assert.Contains("m1.b1.p4 setrlimit(RLIMIT_NOFILE, {cur=2032, max=524288}) = 0", r.Trace.Lines());
        var creates = r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION");
        Assert.Equal(2000, creates.Count);
        Assert.All(creates, x => Assert.Equal("0", x.ResultText));
        Assert.Equal(DeviceSessionScenarioTests.SessionHex(2003, "many-session-1999"), creates[^1].Data);
        Assert.Equal(2000, r.Calls("close").Count(x => x.Args.Contains("many-session-", StringComparison.Ordinal) && x.Result == 0));
    }

    [Fact]
    public void H2_preserve_many_files()
    {
        var r = ScenarioResults.Passed("H2");
        Assert.Empty(r.Calls("setrlimit")); // 1024 >= 510 + 32
        var preserves = r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD");
        Assert.Equal(500, preserves.Count);
        Assert.All(preserves, x => Assert.Equal("0", x.ResultText));
        Assert.EndsWith(", 10000000f8010000f301000000000000", preserves[^1].Args); // fd 504, token 499
        Assert.Equal("m1.b1.p4 close(4<anon_inode:[luo_session] many-files-test>) = 0", r.Calls("close")[^2].Line);
    }

    [Fact]
    public void H3_luo_stress_sessions()
    {
        var r = ScenarioResults.Passed("H3");
        Assert.Equal("--- MANY-SESSIONS KEXEC TEST PASSED (2000 sessions) ---", r.Output[^1]);
        Assert.Contains("m1.b1.p2 setrlimit(RLIMIT_NOFILE, {cur=2032, max=524288}) = 0", r.Trace.Lines());
        Assert.Equal(2001, r.Ioctls("LIVEUPDATE_IOCTL_RETRIEVE_SESSION").Count(x => x.Boot == 2 && x.Result == 0));
        Assert.Equal(2001, r.Ioctls("LIVEUPDATE_SESSION_FINISH").Count(x => x.Result == 0));
        Assert.DoesNotContain(r.Calls("setrlimit"), x => x.Boot == 2);
    }

    [Fact]
    public void H4_luo_stress_files()
    {
        var r = ScenarioResults.Passed("H4");
        Assert.Equal("--- MANY-FILES KEXEC TEST PASSED (500 files) ---", r.Output[^1]);
        var loads = r.Calls("load");
        Assert.Equal(500, loads.Count);
        Assert.StartsWith(Hex("file-data-499") + "00", loads[^1].Data);
        Assert.Equal(501, r.Ioctls("LIVEUPDATE_SESSION_RETRIEVE_FD").Count(x => x.Result == 0));
    }

    [Fact]
    public void I1_I2_test_kho_save_restore()
    {
        var r = ScenarioResults.Passed("I1+I2");
        Assert.Equal(["test_kho: KHO restore succeeded"], r.Output);
        var b1 = r.Trace.Records.Where(x => x.Boot == 1).ToList();
        Assert.Equal("m1.b1.p0 kho_retrieve_subtree(\"kho_test\") = -ENOENT", b1.First(x => x.Pid == 0).Line);
        var allocs = b1.Where(x => x.Call == "folio_alloc").ToList();
        var preserves = b1.Where(x => x.Call == "kho_preserve_folio").ToList();
        Assert.Equal(allocs.Count, preserves.Count);      // the data folios and the FDT folio
        Assert.All(preserves, x => Assert.Equal("0", x.ResultText));
        long bytes = allocs.SkipLast(1).Sum(x => 4096L << int.Parse(x.Args, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(KhoTestModule.DefaultMaxMem, bytes); // exactly max_mem of data
        var add = Assert.Single(b1, x => x.Call == "kho_add_subtree");
        Assert.StartsWith("\"kho_test\", " + allocs[^1].ResultText + ", ", add.Args);
        Assert.Equal("0", add.ResultText);
        var b2 = r.Trace.Records.Where(x => x.Boot == 2 && x.Pid == 0 && x.Call != "kexec").ToList();
        Assert.Equal("kho_retrieve_subtree", b2[0].Call);
        Assert.Equal(allocs[^1].ResultText, b2[0].Data);
        var restores = b2.Where(x => x.Call == "kho_restore_folio").ToList();
        Assert.Equal(allocs.Count - 1, restores.Count);   // every data folio, same address and order
        for (int i = 0; i < restores.Count; i++)
        {
            Assert.Equal(allocs[i].ResultText, restores[i].Args);
            Assert.Equal("folio order " + allocs[i].Args, restores[i].ResultText);
        }
    }

    [Fact]
    public void I1_I2_checksum_is_internet_checksum_partial_sum()
    {
        // csum_partial of 0x0001 0xf203 0xf4f5 0xf6f7 (RFC 1071 example, little-endian words) folds to 0xddf2
        byte[] words = [0x01, 0x00, 0x03, 0xf2, 0xf5, 0xf4, 0xf7, 0xf6];
        Assert.Equal(0xddf2u, KhoTestModule.CsumPartial(words, 0));
        Assert.Equal(0xddf3u, KhoTestModule.CsumPartial(words, 1));
        Assert.Equal(0x0000ddf2u, KhoTestModule.CsumPartial(words, 0xffffffff)); // end-around carry
    }
}

/// <summary>Row I under the KHO variants: the module's save/restore works with every KHO generation.</summary>
public class KhoModuleVariantTests
{
    [Theory]
    [InlineData(LuoModel.Kho.KhoVariant.N)]
    [InlineData(LuoModel.Kho.KhoVariant.M)]
    [InlineData(LuoModel.Kho.KhoVariant.KhoV1)]
    public void I1_I2_test_kho_under_kho_variant(LuoModel.Kho.KhoVariant variant)
    {
        var config = new LuoModel.Kernel.KernelConfig { Kho = new LuoModel.Kho.KhoOptions { Variant = variant } };
        var r = new KhoModuleScenario("variant run") { MaxMem = 1 << 20, Seed = 3 }.Run(config);
        Assert.True(r.Outcome == ScenarioOutcome.Pass, r.Summary);
        Assert.Equal(["test_kho: KHO restore succeeded"], r.Output);
        Assert.Equal(variant == LuoModel.Kho.KhoVariant.KhoV1 ? 1 : 0, r.Calls("kho_finalize").Count);
    }

    [Fact]
    public void I2_a_changed_byte_in_a_folio_is_a_checksum_mismatch()
    {
        var module = new KhoTestModule(1 << 20, 5);
        int boot2 = 1;
        var probe = new EmbeddedScenario("Z2", "test_kho_corrupt", "lib/test_kho.c", "one folio byte changed across the kexec", run =>
        {
            var m = run.NewMachine(KhoTestModule.RunnerConfig(run.Config));
            Assert.Equal(0, module.Init(run, m));
            Assert.Equal(0, m.RebootKexec());
            m.Kexec(null, arena =>
            {
                ulong at = module.Folios[^1].Phys + 100;
                var b = new byte[1];
                arena.Read(at, b);
                arena.Write(at, [(byte)(b[0] ^ 0x40)]);
            });
            boot2 = module.Init(run, m);
        });
        var r = probe.Run();
        Assert.Equal(-22, boot2);
        Assert.Equal(["test_kho: KHO restore failed"], r.Output);
        Assert.Equal(module.Folios.Count, r.Calls("kho_restore_folio").Count); // every folio restored, then the sums differ
    }
}
