using System.Text;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Catalog rows A (device open) and B (sessions), scenarios.md §2, mainline N.</summary>
public class DeviceSessionScenarioTests
{
    /// <summary>Hex of a 72-byte session struct: size 72, fd, name zero-padded to 64 bytes.</summary>
    internal static string SessionHex(int fd, string name) =>
        "48000000" + Convert.ToHexStringLower(BitConverter.GetBytes(fd)) + Convert.ToHexStringLower(Encoding.ASCII.GetBytes(name.PadRight(64, '\0')));

    [Fact]
    public void A1_basic_open_close()
    {
        var r = ScenarioResults.Passed("A1");
        // the whole trace: init with its console fds, harness parent, child (+ leaked pidfd), grandchild
        Assert.Equal(
        [
            "m1.b1.p1 spawn(\"init\") = 1",
            "m1.b1.p1 open(\"/dev/null\", 0x2) = 0",
            "m1.b1.p1 open(\"/dev/null\", 0x2) = 1",
            "m1.b1.p1 open(\"/dev/null\", 0x2) = 2",
            "m1.b1.p1 fork() = 2",
            "m1.b1.p2 fork() = 3",
            "m1.b1.p2 pidfd_open(3, 0) = 3",
            "m1.b1.p3 fork() = 4",
            "m1.b1.p4 open(\"/dev/liveupdate\", 0x2) = 3",
            "m1.b1.p4 close(3</dev/liveupdate>) = 0",
            "m1.b1.p4 exit_group(0) = ?",
            "m1.b1.p3 exit_group(0) = ?",
        ], r.Trace.Lines());
        Assert.Equal(
        [
            "#  RUN           liveupdate_device.basic_open_close ...",
            "#            OK  liveupdate_device.basic_open_close",
            "ok 1 liveupdate_device.basic_open_close",
        ], r.Output);
    }

    [Fact]
    public void A2_exclusive_open()
    {
        var r = ScenarioResults.Passed("A2");
        Assert.Equal(["3", "-EBUSY"], r.Calls("open").Where(x => x.Args.StartsWith("\"/dev/liveupdate\"", StringComparison.Ordinal)).Results());
        Assert.Equal("16", r.Step("exclusive_open: errno after the second open").Actual);
        Assert.Contains("m1.b1.p4 close(3</dev/liveupdate>) = 0", r.Trace.Lines()); // teardown closes fd1 only
        Assert.Contains("ok 2 liveupdate_device.exclusive_open", r.Output);
    }

    [Fact]
    public void A3_missing_device_skips_all()
    {
        var r = ScenarioResults.Passed("A3");
        Assert.Equal(15, r.Calls("open").Count(x => x.Line.Contains("open(\"/dev/liveupdate\", 0x2) = -ENOENT", StringComparison.Ordinal)));
        Assert.Contains("ok 1 liveupdate_device.basic_open_close # SKIP /dev/liveupdate does not exist.", r.Output);
        Assert.Contains("ok 3 liveupdate_device.create_duplicate_session # SKIP /dev/liveupdate does not exist", r.Output);
        Assert.Contains("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:15 error:0", r.Output);
        Assert.Equal([new ProgramExit("liveupdate", 0)], r.Exits);
    }

    [Fact]
    public void A4_open_failure_skips_program()
    {
        var r = ScenarioResults.Passed("A4");
        Assert.Equal(["-ENOENT", "3", "-EBUSY", "3", "-EIO"],
            r.Calls("open").Where(x => x.Args.StartsWith("\"/dev/liveupdate\"", StringComparison.Ordinal)).Results());
        Assert.Equal(
        [
            "1..0 # SKIP Failed to open /dev/liveupdate (ENOENT)",
            "1..0 # SKIP Failed to open /dev/liveupdate (EBUSY)",
            "1..0 # SKIP Failed to open /dev/liveupdate (EIO)",
        ], r.Output.Where(l => l.StartsWith("1..0", StringComparison.Ordinal)));
        Assert.Equal([4, 4, 0, 4], r.Exits.Select(e => e.Status));
    }

    [Fact]
    public void B1_create_duplicate_session()
    {
        var r = ScenarioResults.Passed("B1");
        var creates = r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION");
        Assert.Equal(["0", "-EEXIST"], creates.Results());
        Assert.Equal(SessionHex(4, "duplicate-session-test"), creates[0].Data);   // fd 4 written back
        Assert.Equal(SessionHex(0, "duplicate-session-test"), creates[1].Data);   // nothing written on failure
        Assert.Equal("17", r.Step("create_duplicate_session: -session_fd2").Actual);
        Assert.Contains("m1.b1.p4 close(4<anon_inode:[luo_session] duplicate-session-test>) = 0", r.Trace.Lines());
    }

    [Fact]
    public void B2_create_distinct_sessions()
    {
        var r = ScenarioResults.Passed("B2");
        var creates = r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION");
        Assert.Equal(["0", "0"], creates.Results());
        Assert.Equal(SessionHex(4, "distinct-session-1"), creates[0].Data);
        Assert.Equal(SessionHex(5, "distinct-session-2"), creates[1].Data);
        Assert.Equal(["0", "0", "0"], r.Calls("close").Results());
    }

    [Fact]
    public void B3_create_session_no_null_termination()
    {
        var r = ScenarioResults.Passed("B3");
        var create = Assert.Single(r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION"));
        Assert.Equal("-EINVAL", create.ResultText);
        Assert.EndsWith(", 4800000000000000" + string.Concat(Enumerable.Repeat("58", 64)), create.Args);
        Assert.Equal("22", r.Step("create_session_no_null_termination: errno after the ioctl").Actual);
        Assert.Equal(["0"], r.Calls("close").Results()); // only fd1: no session fd was installed
    }

    [Fact]
    public void B4_create_session_empty_name()
    {
        var r = ScenarioResults.Passed("B4");
        var create = Assert.Single(r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION"));
        Assert.Equal("-EINVAL", create.ResultText);
        Assert.EndsWith(", " + SessionHex(0, ""), create.Args);
    }

    [Fact]
    public void B5_get_session_name()
    {
        var r = ScenarioResults.Passed("B5");
        var get = Assert.Single(r.Ioctls("LIVEUPDATE_SESSION_GET_NAME"));
        Assert.Equal("0", get.ResultText);
        Assert.EndsWith(", " + SessionHex(0, ""), get.Args);                 // zeroed, size 72
        Assert.Equal(SessionHex(0, "get-name-test-session"), get.Data);    // name at offset 8, NUL, zeros
        Assert.Equal("\"get-name-test-session\"", r.Step("get_session_name: name_buf").Actual);
    }

    [Fact]
    public void B6_get_session_name_max_length()
    {
        var r = ScenarioResults.Passed("B6");
        string name = new('A', 63);
        Assert.Equal(SessionHex(4, name), r.Ioctls("LIVEUPDATE_IOCTL_CREATE_SESSION")[0].Data);
        Assert.Equal(SessionHex(0, name), Assert.Single(r.Ioctls("LIVEUPDATE_SESSION_GET_NAME")).Data);
    }

    [Fact]
    public void B7_stage_detection()
    {
        var r = ScenarioResults.Passed("B7");
        var detections = r.Steps.Where(s => s.Name.EndsWith("stage detection: luo_retrieve_session(\"kexec_simple_state\")", StringComparison.Ordinal)).ToList();
        Assert.Equal(["-ENOENT", "-ENOENT"], detections.Select(s => s.Actual)); // fresh boot; incoming data of another program
        Assert.Single(r.Calls("kexec"));
        Assert.Contains("Bail out! Stage mismatch Requested stage 2, but system is in stage 1.", r.Output);
        Assert.Contains("(State session kexec_simple_state: MISSING)", r.Output);
    }

    [Fact]
    public void B8_stage2_retrieval()
    {
        var r = ScenarioResults.Passed("B8");
        var retrieves = r.Ioctls("LIVEUPDATE_IOCTL_RETRIEVE_SESSION").Where(x => x.Boot == 2 && x.Machine == 1).ToList();
        // then luo_stress_sessions (machine 2: 2001 names) and luo_stress_files (machine 3: 2 names), each once
        Assert.Equal(2001, r.Ioctls("LIVEUPDATE_IOCTL_RETRIEVE_SESSION").Count(x => x.Boot == 2 && x.Machine == 2 && x.ResultText == "0"));
        Assert.Equal(2, r.Ioctls("LIVEUPDATE_IOCTL_RETRIEVE_SESSION").Count(x => x.Boot == 2 && x.Machine == 3 && x.ResultText == "0"));
        // G1 stage 1's state check happened in boot 1; in boot 2 five names, then the same five again
        Assert.Equal(["0", "0", "0", "0", "0", "-EINVAL", "-EINVAL", "-EINVAL", "-EINVAL", "-EINVAL"], retrieves.Results());
        Assert.Equal(SessionHex(4, "kexec_multi_state"), retrieves[0].Data);
        Assert.Equal(SessionHex(8, "multi-test-files-2"), retrieves[4].Data);
    }
}
