using System.Text;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Catalog rows C (file preserve / retrieve), scenarios.md §2, mainline N.</summary>
public class FileScenarioTests
{
    private static string Hex(string s) => Convert.ToHexStringLower(Encoding.ASCII.GetBytes(s));

    /// <summary>Hex of a 16-byte preserve/retrieve-fd struct.</summary>
    private static string FdHex(int fd, ulong token) =>
        "10000000" + Convert.ToHexStringLower(BitConverter.GetBytes(fd)) + Convert.ToHexStringLower(BitConverter.GetBytes(token));

    [Fact]
    public void C1_preserve_memfd()
    {
        var r = ScenarioResults.Passed("C1");
        var preserve = Assert.Single(r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD"));
        Assert.Equal("0", preserve.ResultText);
        Assert.EndsWith(", " + FdHex(5, 0x1234), preserve.Args);
        Assert.Contains("m1.b1.p4 close(4<anon_inode:[luo_session] preserve-memfd-test>) = 0", r.Trace.Lines());
        var read = Assert.Single(r.Calls("read"));
        Assert.Equal("m1.b1.p4 read(5</memfd:test-memfd (deleted)>, 64) = 16 <- " + Hex("hello liveupdate"), read.Line);
        Assert.Contains("m1.b1.p4 close(5</memfd:test-memfd (deleted)>) = 0", r.Trace.Lines());
    }

    [Fact]
    public void C2_preserve_multiple_memfds()
    {
        var r = ScenarioResults.Passed("C2");
        Assert.Equal(["0", "0"], r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD").Results());
        Assert.Equal([Hex("data for memfd one"), Hex("data for memfd two")], r.Calls("read").Select(x => x.Data));
        Assert.Equal(["18", "18"], r.Calls("read").Results());
        // the preserved memfds are closed while the session is still open, then the session
        Assert.Equal(
        [
            "close(5</memfd:test-memfd-1 (deleted)>) = 0",
            "close(6</memfd:test-memfd-2 (deleted)>) = 0",
            "close(4<anon_inode:[luo_session] preserve-multi-memfd-test>) = 0",
            "close(3</dev/liveupdate>) = 0",
        ], r.Calls("close").Select(x => x.Line["m1.b1.p4 ".Length..]));
    }

    [Fact]
    public void C3_preserve_complex_scenario()
    {
        var r = ScenarioResults.Passed("C3");
        var preserves = r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD");
        Assert.Equal(["0", "0", "0", "0"], preserves.Results());
        Assert.EndsWith(", " + FdHex(7, 0x2222), preserves[1].Args);     // empty1 into complex-session-1 (fd 4)
        Assert.StartsWith("4<anon_inode:[luo_session] complex-session-1>", preserves[1].Args);
        Assert.StartsWith("5<anon_inode:[luo_session] complex-session-2>", preserves[3].Args);
        Assert.Equal(["18", "18", "0", "0"], r.Calls("read").Results());
        Assert.Equal([Hex("data for session 1"), Hex("data for session 2"), null, null], r.Calls("read").Select(x => x.Data));
    }

    [Fact]
    public void C4_preserve_unsupported_fd()
    {
        var r = ScenarioResults.Passed("C4");
        var preserve = Assert.Single(r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD"));
        Assert.Equal("m1.b1.p4 ioctl(4<anon_inode:[luo_session] unsupported-fd-test>, LIVEUPDATE_SESSION_PRESERVE_FD, "
            + FdHex(5, 0xDEAD) + ") = -ENOENT <- " + FdHex(5, 0xDEAD), preserve.Line);
    }

    [Fact]
    public void C5_prevent_double_preservation()
    {
        var r = ScenarioResults.Passed("C5");
        var preserves = r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD");
        Assert.Equal(["0", "-EBUSY", "-EBUSY"], preserves.Results());
        Assert.StartsWith("5<anon_inode:[luo_session] double-preserve-session-2>", preserves[1].Args);
        Assert.EndsWith(FdHex(6, 0x3333), preserves[2].Args);
    }

    [Fact]
    public void C6_stage1_preserve_closed_memfd()
    {
        var r = ScenarioResults.Passed("C6");
        Assert.Equal("0", r.Step("/proc/<holder>/fd: memfd descriptors").Actual);
        Assert.Equal("\"1,0,0,1,2\"", r.Step("model state: preserved files per outgoing session").Actual);
        // every "create and preserve memfd" closes its memfd right after PRESERVE_FD returned 0
        var lines = r.Trace.Records.Where(x => x.Boot == 1 && x.Machine == 1).ToList();
        var preserves = lines.Select((x, i) => (x, i)).Where(t => t.x.Args.Contains("LIVEUPDATE_SESSION_PRESERVE_FD", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, preserves.Count);
        // luo_stress_files (machine 2): the state memfd and 500 files, every preserve 0
        var stress = r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD").Where(x => x.Machine == 2).ToList();
        Assert.Equal(501, stress.Count);
        Assert.All(stress, x => Assert.Equal("0", x.ResultText));
        Assert.All(preserves, t => Assert.Equal("0", t.x.ResultText));
        Assert.All(preserves, t => Assert.Equal("close", lines[t.i + 1].Call));
        Assert.Contains("--- MULTI-SESSION KEXEC TEST PASSED ---", r.Output);
    }

    [Fact]
    public void C7_stage2_retrieved_memfd()
    {
        var r = ScenarioResults.Passed("C7");
        Assert.Equal("1", r.Step("fcntl(fd, F_GETFD)").Actual);
        Assert.Equal("0", r.Step("lseek(fd, 0, SEEK_CUR)").Actual);
        Assert.Equal("4096", r.Step("lseek(fd, 0, SEEK_END)").Actual);
        var load = Assert.Single(r.Calls("load"), x => x.Machine == 1);
        Assert.Equal(Hex("hello kexec world") + "00" + new string('0', 2 * (4096 - 18)), load.Data);
        var retrieve = r.Ioctls("LIVEUPDATE_SESSION_RETRIEVE_FD").Last(x => x.Machine == 1);
        Assert.Equal(501, r.Ioctls("LIVEUPDATE_SESSION_RETRIEVE_FD").Count(x => x.Machine == 2 && x.Boot == 2 && x.ResultText == "0"));
        Assert.Equal(FdHex(5, 0x1A), retrieve.Data); // the new fd written back at offset 4
    }
}
