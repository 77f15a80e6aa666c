using LuoModel.Serve.Selftest;
using Xunit.Abstractions;

namespace LuoModel.Tests.Shim;

/// <summary>
/// <c>luo selftest</c> on tiny fake kernel trees written here (this project's own minimal C files shaped like
/// the upstream layout: a harness program, a two-stage program, a top-level helper, a lib/ helper, an init.c
/// that must never be built): discovery, building, running, and the report of failures.
/// </summary>
public class DiscoveryTests(ITestOutputHelper log)
{
    private const string HarnessProg = """
        // a harness program of the fake tree
        #include <errno.h>
        #include <fcntl.h>
        #include <unistd.h>
        #include <sys/ioctl.h>
        #include <linux/liveupdate.h>
        #include "helper.h"
        #include "../kselftest_harness.h"

        TEST(opens)
        {
            int fd = open("/dev/liveupdate", O_RDWR);
            ASSERT_GE(fd, 0);
            ASSERT_EQ(helper_value(), 42);
            close(fd);
        }

        TEST(empty_name)
        {
            struct liveupdate_ioctl_create_session a = { .size = sizeof(a) };
            int fd = open("/dev/liveupdate", O_RDWR);
            ASSERT_GE(fd, 0);
            EXPECT_EQ(ioctl(fd, LIVEUPDATE_IOCTL_CREATE_SESSION, &a), -1);
            EXPECT_EQ(errno, EINVAL);
        }

        TEST(skips)
        {
            SKIP(return, "nothing to do here");
        }

        TEST_HARNESS_MAIN
        """;

    private const string StageProg = """
        /* a two-stage program of the fake tree: int main( in a comment must not confuse discovery */
        #include <stdio.h>
        #include <string.h>
        #include <fcntl.h>
        #include <unistd.h>
        #include <libfake.h>

        int main(int argc, char **argv)
        {
            int stage = argc > 2 ? argv[2][0] - '0' : 1;
            int dev = open("/dev/liveupdate", O_RDWR);
            if (dev < 0) { printf("1..0 # SKIP no device\n"); return 4; }
            return fake_stage(dev, stage);
        }
        """;

    private const string LibFake = """
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        #include <sys/ioctl.h>
        #include <sys/mman.h>
        #include <linux/liveupdate.h>
        #include <libfake.h>

        int fake_stage(int dev, int stage)
        {
            struct liveupdate_ioctl_create_session s = { .size = sizeof(s) };
            strcpy((char *)s.name, "fake-state");
            if (stage == 1) {
                struct liveupdate_session_preserve_fd p = { .size = sizeof(p), .token = 7 };
                if (ioctl(dev, LIVEUPDATE_IOCTL_CREATE_SESSION, &s) < 0) return 1;
                p.fd = memfd_create("fake", 0);
                if (ftruncate(p.fd, 4096) < 0 || pwrite(p.fd, "FAKE DATA", 10, 0) != 10) return 1;
                if (ioctl(s.fd, LIVEUPDATE_SESSION_PRESERVE_FD, &p) < 0) return 1;
                close(p.fd);
                close(dev);
                fflush(stdout);
                if (fork() == 0) { setsid(); close(0); close(1); close(2); for (;;) pause(); }
                return 0;
            }
            struct liveupdate_session_retrieve_fd r = { .size = sizeof(r), .token = 7 };
            struct liveupdate_session_finish f = { .size = sizeof(f) };
            char buf[16] = { 0 };
            if (ioctl(dev, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, &s) < 0) { printf("# retrieve failed\n"); return 1; }
            if (ioctl(s.fd, LIVEUPDATE_SESSION_RETRIEVE_FD, &r) < 0 || read(r.fd, buf, 10) != 10) return 1;
            if (strcmp(buf, FAKE_EXPECT) != 0) { printf("# got %s\n", buf); return 1; }
            close(r.fd);
            if (ioctl(s.fd, LIVEUPDATE_SESSION_FINISH, &f) < 0) return 1;
            printf("--- FAKE TEST PASSED ---\n");
            return 0;
        }
        """;

    private static FakeTree Tree(string expect = "FAKE DATA")
    {
        var t = new FakeTree();
        string shim = Path.Combine(AppContext.BaseDirectory, "shim");
        t.Write("tools/testing/selftests/kselftest_harness.h", File.ReadAllText(Path.Combine(shim, "kselftest_harness.h")));
        t.Write("include/uapi/linux/liveupdate.h", File.ReadAllText(Path.Combine(shim, "uapi/linux/liveupdate.h")));
        string d = SelftestTree.RelativeDirectory;
        t.Write($"{d}/harness_prog.c", HarnessProg);
        t.Write($"{d}/helper.h", "int helper_value(void);\n");
        t.Write($"{d}/helper.c", "#include \"helper.h\"\nint helper_value(void) { return 42; }\n");
        t.Write($"{d}/commented.c", "/* int main(void) { return 0; } is only a comment */\nint commented_helper(void);\nint commented_helper(void) { return 1; }\n");
        t.Write($"{d}/stage_prog.c", StageProg);
        t.Write($"{d}/lib/fake.c", LibFake);
        t.Write($"{d}/lib/include/libfake.h", $"#define FAKE_EXPECT \"{expect}\"\nint fake_stage(int dev, int stage);\n");
        t.Write($"{d}/init.c", "#error init.c kexecs a real machine and must never be built\nint main(void) { return 0; }\n");
        return t;
    }

    [Fact]
    public void Discovery_finds_programs_helpers_and_skips_init()
    {
        using var t = Tree();
        var tree = SelftestTree.Discover(t.Root, out string err);
        Assert.NotNull(tree);
        Assert.Equal("", err);
        Assert.Equal(["harness_prog", "stage_prog"], tree.Programs.Select(p => p.Name));
        var h = tree.Programs[0];
        Assert.Equal(ProgramKind.Harness, h.Kind);
        Assert.Equal(["commented.c", "helper.c"], h.Helpers.Select(Path.GetFileName));
        var s = tree.Programs[1];
        Assert.Equal(ProgramKind.TwoStage, s.Kind);
        Assert.Equal(["fake.c"], s.Helpers.Select(Path.GetFileName));
        Assert.Equal("init.c", Path.GetFileName(Assert.Single(tree.Skipped).File));
        Assert.NotNull(tree.UapiHeader);
        Assert.EndsWith("lib/include", tree.LibInclude, StringComparison.Ordinal);
        var args = ProgramBuild.Arguments(tree, s, "/u", "/o");
        Assert.Equal(["-D_GNU_SOURCE", "-Wall", "-O2", "-Wno-unused-function", "-isystem", "/u"], args.Take(6));
        Assert.Equal(["-o", "/o/stage_prog"], args.TakeLast(2));
    }

    [Fact]
    public void Upstream_case_names_carry_their_scenario_ids()
    {
        Assert.Equal("liveupdate: liveupdate_device.prevent_double_preservation [C5]",
            ScenarioIds.Label("liveupdate: liveupdate_device.prevent_double_preservation", "liveupdate_device.prevent_double_preservation"));
        Assert.Equal("H4", ScenarioIds.Of("luo_stress_files"));
        Assert.Null(ScenarioIds.Of("stage_prog"));
        Assert.Equal("stage_prog", ScenarioIds.Label("stage_prog", "stage_prog"));
    }

    [Fact]
    public void A_tree_without_selftests_is_reported()
    {
        using var t = new FakeTree();
        Directory.Delete(t.SelftestDir);
        Assert.Null(SelftestTree.Discover(t.Root, out string err));
        Assert.Contains("tools/testing/selftests/liveupdate", err, StringComparison.Ordinal);
    }

    [GccFact]
    public void The_fake_tree_builds_and_runs_with_one_report()
    {
        using var t = Tree();
        var (code, o, e, _) = ClientTests.RunSelftest(new SelftestOptions { KernelSource = t.Root });
        log.WriteLine(o + e);
        Assert.Equal(0, code);
        Assert.Equal(
            """
            TAP version 13
            # luo selftest: TREE
            # not built: init.c (kexecs and reboots a real machine; the runner replaces it)
            1..4
            ok 1 harness_prog: opens
            ok 2 harness_prog: empty_name
            ok 3 harness_prog: skips # SKIP nothing to do here
            ok 4 stage_prog
            # Totals: pass:3 fail:0 xfail:0 xpass:0 skip:1 error:0
            """.Replace("TREE", Path.Combine(t.Root, SelftestTree.RelativeDirectory), StringComparison.Ordinal),
            string.Join('\n', o.Split('\n').Where(l => !l.StartsWith("# programs ran", StringComparison.Ordinal)).Select(l => l.TrimEnd())).Trim());
    }

    [GccFact]
    public void Failures_are_reported_with_diagnostics_and_the_daemon_log()
    {
        using var t = Tree(expect: "OTHER DATA");                                   // stage 2 finds other bytes
        t.Write($"{SelftestTree.RelativeDirectory}/broken.c", "int main(void) { return undeclared; }\n");
        var (code, o, e, _) = ClientTests.RunSelftest(new SelftestOptions { KernelSource = t.Root, Variants = ["name_check=off"] });
        log.WriteLine(o + e);
        Assert.Equal(SelftestExit.Failed, code);
        Assert.Contains("not ok 1 broken: build", o, StringComparison.Ordinal);
        Assert.Contains("undeclared", o, StringComparison.Ordinal);                  // gcc's message as a diagnostic
        Assert.Contains("not ok 3 harness_prog: empty_name", o, StringComparison.Ordinal);   // B4 flips with the variant
        Assert.Contains("# variant name_check=off", o, StringComparison.Ordinal);
        Assert.Contains("not ok 5 stage_prog", o, StringComparison.Ordinal);
        Assert.Contains("# got FAKE DATA", o, StringComparison.Ordinal);
        Assert.Contains("# Totals: pass:1 fail:3 xfail:0 xpass:0 skip:1 error:0", o, StringComparison.Ordinal);
        Assert.Contains("luo selftest: daemon log:", e, StringComparison.Ordinal);
        Assert.Contains("kexec: 1 outgoing session(s) handed over", e, StringComparison.Ordinal);
    }

    [GccFact]
    public void Crashes_skips_and_timeouts_of_whole_programs_are_cases()
    {
        using var t = new FakeTree();
        string d = SelftestTree.RelativeDirectory;
        t.Write("tools/testing/selftests/kselftest_harness.h", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "shim", "kselftest_harness.h")));
        t.Write($"{d}/crashes.c", "#include <stdio.h>\n#include <stdlib.h>\n#include \"../kselftest_harness.h\"\nint main(void) { printf(\"TAP version 13\\n1..3\\nok 1 first\\n\"); fflush(stdout); abort(); }\n");
        t.Write($"{d}/skipper.c", "#include <stdio.h>\nint main(void) { printf(\"1..0 # SKIP no hardware\\n\"); return 4; }\n");
        t.Write($"{d}/hangs.c", "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n");
        var (code, o, e, _) = ClientTests.RunSelftest(new SelftestOptions { KernelSource = t.Root, Timeout = TimeSpan.FromSeconds(3) });
        log.WriteLine(o + e);
        Assert.Equal(SelftestExit.Failed, code);
        Assert.Contains("no include/uapi/linux/liveupdate.h in the tree", o, StringComparison.Ordinal);
        Assert.Contains("ok 1 crashes: first", o, StringComparison.Ordinal);
        Assert.Contains("not ok 2 crashes: program", o, StringComparison.Ordinal);     // 1 of 3 planned, killed by SIGABRT
        Assert.Contains("# 1 of 3 planned cases reported", o, StringComparison.Ordinal);
        Assert.Contains("not ok 3 hangs", o, StringComparison.Ordinal);                 // a two-stage program whose stage 1 never ends
        Assert.Contains("timed out", o, StringComparison.Ordinal);
        Assert.Contains("ok 4 skipper # SKIP stage 1: no hardware", o, StringComparison.Ordinal);
    }
}
