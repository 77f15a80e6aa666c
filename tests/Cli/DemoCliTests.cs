
namespace LuoModel.Tests.Cli;

/// <summary><c>luo demo</c> (issue 5 §6) and its saved image read back by <c>luo image dump</c>.</summary>
public class DemoCliTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);

    private static string[] LuoPart(string text)
    {
        string[] lines = text.Split('\n');
        int from = Array.FindIndex(lines, l => l.StartsWith("LUO subtree:", StringComparison.Ordinal));
        int to = Array.FindIndex(lines, l => l.StartsWith("LUO verdict:", StringComparison.Ordinal));
        Assert.True(from >= 0 && to > from, text);
        return lines[from..(to + 1)];
    }

    /// <summary>The LUO side of the handover of <c>luo demo --sessions 1 --files 1 --size 5000</c>: one session
    /// block, one file block holding a memfd record (5000 bytes = 2 folios) and the test file.</summary>
    private static readonly string[] SmallHandover =
    [
        "LUO subtree: preserved-data 0x108000, blob-size 32, format luo-v5",
        "luo_ser @ 0x108000: compatible \"luo-v5\", liveupdate_num 1, sessions_pa 0x10a000, flbs_pa 0x109000",
        "session blocks: 1",
        "  block @ 0x10a000: next 0x0, count 1/51",
        "sessions: 1",
        "  [0] \"demo-0\" @ 0x10a010: files 0x10d000, count 2",
        "      file blocks: 1",
        "        block @ 0x10d000: next 0x0, count 2/63",
        "      [0] token 0x1000 \"memfd-v2\" data 0x10e000",
        "          memfd_luo_ser @ 0x10e000 (memfd-v2): pos 5000, size 5000, seals 0x1, flags 0x0, nr_folios 2",
        "          folios: first 0x110000, total_pages 1, flags 0x1, order 0",
        "          vmalloc chunks: 0x110000",
        "          array pages: 0x10f000",
        "          folio [0] pfn 0x10b flags DIRTY|UPTODATE index 0",
        "          folio [1] pfn 0x10c flags DIRTY|UPTODATE index 1",
        "      [1] token 0xf000 \"test-file-v1\" data 0x6775617264000000",
        "FLB page @ 0x109000: pgcnt 1, count 0",
        "LUO verdict: accepted: the next kernel boots and its first open of /dev/liveupdate succeeds",
    ];

    [Fact]
    public void Demo_tells_the_whole_story_and_verifies_every_byte()
    {
        var (code, o, e) = Luo("demo");
        Assert.Equal(0, code);
        Assert.Equal("", e);
        string[] sections = [.. o.Split('\n').Where(l => l.StartsWith("== ", StringComparison.Ordinal))];
        Assert.Equal(
        [
            "== 1. Boot 1 (cold boot) ==", "== 2. Preserve memfds holding known data ==", "== 3. An injected freeze failure is rolled back ==",
            "== 4. Reboot (kexec) ==", "== 5. The handover as the next kernel finds it ==", "== 6. Boot 2 ==", "== 7. Result ==",
        ], sections);
        Assert.Contains("reboot(LINUX_REBOOT_CMD_KEXEC) = -EIO; kernel state: Running\n", o, StringComparison.Ordinal);
        Assert.Contains("freeze order:   guard-0, guard-1, canary.a, canary.b, canary.c (EIO)\n", o, StringComparison.Ordinal);
        Assert.Contains("unfreeze order: canary.a, canary.b, guard-1, guard-0\n", o, StringComparison.Ordinal);
        Assert.Contains("preserved pages): yes\n", o, StringComparison.Ordinal);
        Assert.Contains("memfd contents read back through read(): unchanged\n", o, StringComparison.Ordinal);
        Assert.Contains("close(canary session) = 0: unpreserved canary.c, canary.b, canary.a\n", o, StringComparison.Ordinal);
        Assert.Contains("reboot(LINUX_REBOOT_CMD_KEXEC) = 0: 2 session(s) and 6 file(s) serialized", o, StringComparison.Ordinal);
        Assert.Contains("\n  / {\n    compatible = \"kho-v4\";\n", o, StringComparison.Ordinal); // KHO root DTS
        Assert.Contains("\n    LUO {\n      blob-size = <0x20000000 0x00>;\n      preserved-data = <0x801000 0x00>;\n    };\n", o, StringComparison.Ordinal);
        Assert.Equal(4, o.Split('\n').Count(l => l.EndsWith("every byte equal, the very same arena pages", StringComparison.Ordinal)));
        Assert.EndsWith("verified 40000 of 40000 bytes in 4 of 4 memfd(s); incoming sessions left: 0\nlive update complete: every byte verified\n", o, StringComparison.Ordinal);
        Assert.Equal(o, Luo("demo").Out); // deterministic
    }

    [Fact]
    public void Demo_saved_image_round_trips_through_image_dump()
    {
        string path = Path.Combine(Path.GetTempPath(), $"luo-demo-{Guid.NewGuid():N}.img");
        try
        {
            var (code, o, e) = Luo("demo", "--sessions", "1", "--files", "1", "--size", "5000", "--save", path);
            Assert.Equal(0, code);
            Assert.Equal("", e);
            Assert.Contains("arena image saved to " + path, o, StringComparison.Ordinal);
            Assert.Equal(SmallHandover, LuoPart(o));
            var (dc, dump, de) = Luo("image", "dump", path);
            Assert.Equal(0, dc);
            Assert.Equal("", de);
            Assert.Equal(SmallHandover, LuoPart(dump));
            Assert.Contains("  LUO: phys 0x108000 (1081344), size 0x20 (32)\n", dump, StringComparison.Ordinal);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Demo_scales_to_several_blocks_and_empty_memfds()
    {
        var (code, o, _) = Luo("demo", "--sessions", "52", "--files", "0", "--size", "0");
        Assert.Equal(0, code);
        Assert.Contains("session blocks: 2\n  block @ ", o, StringComparison.Ordinal);
        Assert.Contains(", count 51/51\n", o, StringComparison.Ordinal);
        Assert.Contains(", count 1/51\nsessions: 52\n", o, StringComparison.Ordinal);
        var (code2, o2, _) = Luo("demo", "--sessions", "1", "--files", "2", "--size", "0");
        Assert.Equal(0, code2);
        Assert.Contains("nr_folios 0\n          folios: first 0x0, total_pages 0, flags 0x0, order 0\n", o2, StringComparison.Ordinal);
        Assert.Contains("verified 0 of 0 bytes in 2 of 2 memfd(s)", o2, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--sessions", "0", "luo demo: --sessions must be 1..4096\n")]
    [InlineData("--files", "65", "luo demo: --files must be 0..64\n")]
    [InlineData("--size", "-1", "luo demo: --size must be 0..16777216\n")]
    public void Demo_rejects_out_of_range_options(string option, string value, string message)
    {
        var (code, o, e) = Luo("demo", option, value);
        Assert.Equal(1, code);
        Assert.Equal("", o);
        Assert.Equal(message, e);
    }
}
