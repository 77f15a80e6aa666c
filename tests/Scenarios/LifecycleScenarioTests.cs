using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Catalog rows D (finish) and E (close semantics), scenarios.md §2, mainline N.</summary>
public class LifecycleScenarioTests
{
    private static List<string> Finishes(ScenarioResult r) =>
        [.. r.Ioctls("LIVEUPDATE_SESSION_FINISH").Select(x => x.Args[..x.Args.IndexOf('>', StringComparison.Ordinal)] + " = " + x.ResultText)];

    [Fact]
    public void D1_finish_after_retrieving_every_file()
    {
        var r = ScenarioResults.Passed("D1");
        Assert.Equal(3, r.Steps.Count(s => s.Name.EndsWith("retrieve every file, then finish", StringComparison.Ordinal) && s.Passed)); // + luo_stress_files
        Assert.Equal(["0800000000000000"], r.Ioctls("LIVEUPDATE_SESSION_FINISH").Select(x => x.Data).Distinct()); // size 8, reserved 0
    }

    [Fact]
    public void D2_finish_empty_incoming_session()
    {
        var r = ScenarioResults.Passed("D2");
        Assert.Equal(["5<anon_inode:[luo_session] multi-test-empty-1 = 0", "6<anon_inode:[luo_session] multi-test-empty-2 = 0"], Finishes(r).Take(2));
        Assert.DoesNotContain(r.Ioctls("LIVEUPDATE_SESSION_RETRIEVE_FD"), x => x.Args.Contains("multi-test-empty", StringComparison.Ordinal));
        Assert.Equal(2, r.Steps.Count(s => s.Name.StartsWith("empty session", StringComparison.Ordinal) && s.Passed));
    }

    [Fact]
    public void D3_finish_state_session()
    {
        var r = ScenarioResults.Passed("D3");
        var f = Finishes(r);
        Assert.Equal(["5<anon_inode:[luo_session] test-session = 0", "4<anon_inode:[luo_session] kexec_simple_state = 0"], f.Take(2));
        Assert.Contains("4<anon_inode:[luo_session] kexec_multi_state = 0", f);
        Assert.EndsWith("<anon_inode:[luo_session] kexec_many_files_state = 0", f[^1], StringComparison.Ordinal); // all four programs
        Assert.Equal(4, r.Steps.Count(s => s.Name.EndsWith(": last FINISH", StringComparison.Ordinal) && s.Passed));
    }

    [Fact]
    public void D4_finish_ordering()
    {
        var r = ScenarioResults.Passed("D4");
        Assert.Equal(
        [
            "5<anon_inode:[luo_session] multi-test-empty-1 = 0",
            "6<anon_inode:[luo_session] multi-test-empty-2 = 0",
            "7<anon_inode:[luo_session] multi-test-files-1 = 0",
            "8<anon_inode:[luo_session] multi-test-files-2 = 0",
            "4<anon_inode:[luo_session] kexec_multi_state = 0",
        ], Finishes(r));
    }

    [Fact]
    public void E1_close_returns_zero()
    {
        var r = ScenarioResults.Passed("E1");
        var step = r.Step("close() of device and session fds");
        Assert.Matches("^[0-9]+ closes, all 0$", step.Actual);
        Assert.True(int.Parse(step.Actual.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) > 2000 + 16);
    }

    [Fact]
    public void E2_close_outgoing_session_unpreserves()
    {
        var r = ScenarioResults.Passed("E2");
        Assert.Equal(["0", "0"], r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD").Results()); // again in a new session after the close
        Assert.Equal("\"hello liveupdate\"", r.Step("memfd content").Actual);
    }

    [Fact]
    public void E3_close_preserved_memfd()
    {
        var r = ScenarioResults.Passed("E3");
        Assert.Equal(["0", "-EEXIST"], r.Ioctls("LIVEUPDATE_SESSION_PRESERVE_FD").Results());
        Assert.Equal("1", r.Step("model state: files preserved in the session").Actual);
    }

    [Fact]
    public void E4_device_reopen_after_release()
    {
        var r = ScenarioResults.Passed("E4");
        var opens = r.Calls("open").Where(x => x.Args.StartsWith("\"/dev/liveupdate\"", StringComparison.Ordinal)).ToList();
        Assert.Equal(16, opens.Count);
        Assert.Equal(["-EBUSY"], opens.Where(x => x.Result < 0).Results()); // only exclusive_open's second open
        Assert.Contains("# Totals: pass:15 fail:0 xfail:0 xpass:0 skip:0 error:0", r.Output);
        // each grandchild inherits the pidfds the harness parent leaked for the earlier tests
        Assert.Equal(Enumerable.Range(3, 15).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), r.Calls("pidfd_open").Results());
        Assert.Equal("17", opens[^1].ResultText);
    }

    [Fact]
    public void E5_sessions_survive_device_close()
    {
        var r = ScenarioResults.Passed("E5");
        Assert.Equal(["-EEXIST", "-EEXIST"], r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION").Where(x => x.Pid == 4).Results());
        Assert.Contains("--- SIMPLE KEXEC TEST PASSED ---", r.Output);
    }

    [Fact]
    public void E6_daemonize_parent_exit_keeps_sessions()
    {
        var r = ScenarioResults.Passed("E6");
        Assert.Equal("\"anon_inode:[luo_session] kexec_simple_state,anon_inode:[luo_session] test-session\"",
            r.Step("/proc/<holder>/fd session descriptors").Actual);
        Assert.Contains("m1.b1.p2 exit_group(0) = ?", r.Trace.Lines());
        Assert.Contains("--- SIMPLE KEXEC TEST PASSED ---", r.Output);
    }

    [Fact]
    public void E7_state_session_kept_open()
    {
        var r = ScenarioResults.Passed("E7");
        Assert.Equal("-ENOENT", r.Step("luo_retrieve_session(\"kexec_simple_state\") after the close").Actual);
        Assert.Contains("m2.b1.p2 close(4<anon_inode:[luo_session] kexec_simple_state>) = 0", r.Trace.Lines());
    }

    [Fact]
    public void E8_retrieved_memfd_closed_before_finish()
    {
        var r = ScenarioResults.Passed("E8");
        var b2 = r.Trace.Records.Where(x => x.Boot == 2).Select(x => x.Line).ToList();
        int close = b2.IndexOf("m1.b2.p2 close(6</memfd: (deleted)>) = 0");
        int finish = b2.FindIndex(l => l.StartsWith("m1.b2.p2 ioctl(5<anon_inode:[luo_session] test-session>, LIVEUPDATE_SESSION_FINISH", StringComparison.Ordinal));
        Assert.True(close >= 0 && finish > close, $"close {close}, finish {finish}");
        Assert.EndsWith(") = 0 <- 0800000000000000", b2[finish]);
    }

    [Fact]
    public void E9_failed_create_installs_no_fd()
    {
        var r = ScenarioResults.Passed("E9");
        Assert.Equal(["0", "-EINVAL", "-EINVAL", "-EEXIST"], r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION").Results());
        Assert.Equal("\"0,1,2,3,4\"", r.Step("fd table after the duplicate").Actual);
        Assert.Equal("5", r.Step("next fd is the lowest free number").Actual);
    }
}
