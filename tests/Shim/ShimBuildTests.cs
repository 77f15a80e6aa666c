using System.Globalization;
using LuoModel.Serve;
using LuoModel.Serve.Selftest;

namespace LuoModel.Tests.Shim;

/// <summary>The shim's own build, the C/C# agreement on the wire layout, and the two CLI commands.</summary>
public class ShimBuildTests
{
    private static (int Code, string Out, string Err) Luo(params string[] args) => LuoModel.Tests.Cli.LuoCli.Run(args);
    [Fact]
    public void The_shim_sources_travel_inside_the_assembly()
    {
        var src = Tools.ShimSources();
        Assert.Equal(["build.sh", "luorec.c", "luorec.h", "luorec_calls.c", "luorec_ioctl.c", "luorec_sha256.c", "luoshim.c", "luoshim_fds.c", "luoshim_fork.c", "luoshim_internal.h", "luoshim_ioctl.c", "luoshim_proto.h"], src.Keys);
        Assert.Contains("process_vm_readv", System.Text.Encoding.UTF8.GetString(src["luoshim_ioctl.c"]), StringComparison.Ordinal);
    }

    [GccFact]
    public void The_shim_builds_without_a_single_warning()
    {
        string cache = ClientTests.Scratch("shimbuild");
        try
        {
            string? lib = Tools.BuildShim(cache, out string log, "-O2 -g -Wall -Wextra -Werror -Wshadow -Wformat=2");
            Assert.True(lib is not null, log);
            Assert.Equal("", log);
        }
        finally
        {
            Directory.Delete(cache, true);
        }
    }

    /// <summary>The C header and the C# encoders produce the same bytes for the same values.</summary>
    [GccFact]
    public void Wire_layouts_agree_between_c_and_csharp()
    {
        string dir = ClientTests.Scratch("proto");
        try
        {
            File.WriteAllBytes(Path.Combine(dir, "luoshim_proto.h"), Tools.ShimSources()["luoshim_proto.h"]);
            File.WriteAllText(Path.Combine(dir, "p.c"), """
                #include <stdio.h>
                #include "luoshim_proto.h"
                static void hex(const void *p, size_t n) { const unsigned char *b = p; for (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\n"); }
                int main(void)
                {
                    struct lusm_req q = { LUSM_MAGIC, LUSM_VERSION, LUSM_IOCTL, 0x11223344, -2, 0x0102030405060708ull, 0xBA00, 40 };
                    struct lusm_rep r = { LUSM_MAGIC, 0x55667788, -1, 17, 0x1122334455667788ull, 72, LUSM_REP_FD };
                    struct lusm_ioctl x = { LUSM_IOCTL_SIZE_READABLE | LUSM_IOCTL_SLOT_TRIED | LUSM_IOCTL_SLOT_FAILED, 8192, 0x123, 4096, 72,
                                            LUSM_TAIL_UNREADABLE, LUSM_PRESERVE_OWNED, 0, 0xCAFEBABEDEADBEEFull };
                    hex(&q, sizeof(q)); hex(&r, sizeof(r)); hex(&x, sizeof(x));
                    printf("%d %d %d %d %d %d %d %d %u\n", LUSM_HELLO, LUSM_OPEN, LUSM_IOCTL, LUSM_RELEASE, LUSM_DUP,
                           LUSM_FORK_PREPARE, LUSM_FORK_CANCEL, LUSM_FSTATFS, LUSM_WINDOW);
                    return 0;
                }
                """);
            var cc = Tools.Run("gcc", ["-Wall", "-Werror", "-o", "p", "p.c"], dir, null, TimeSpan.FromMinutes(1));
            Assert.True(cc.ExitCode == 0, cc.Output + cc.Error);
            var run = Tools.Run(Path.Combine(dir, "p"), [], dir, null, TimeSpan.FromSeconds(30));
            string[] lines = run.Output.Split('\n');

            var q = new byte[RequestHeader.Size];
            new RequestHeader(ShimOp.Ioctl, 0x11223344, -2, 0x0102030405060708, 0xBA00, 40).WriteTo(q);
            var r = new byte[ReplyHeader.Size];
            new ReplyHeader(0x55667788, -1, 17, 0x1122334455667788, 72, ReplyHeader.FlagFd).WriteTo(r);
            var x = new byte[IoctlRequest.FixedSize];
            new IoctlRequest(true, true, true, 8192, 0x123, 4096, 72, TailStatus.Unreadable, PreserveKind.Owned, 0xCAFEBABEDEADBEEF).WriteTo(x);
            Assert.Equal(Convert.ToHexStringLower(q), lines[0]);
            Assert.Equal(Convert.ToHexStringLower(r), lines[1]);
            Assert.Equal(Convert.ToHexStringLower(x), lines[2]);
            Assert.Equal(string.Join(' ', new[] { ShimOp.Hello, ShimOp.Open, ShimOp.Ioctl, ShimOp.Release, ShimOp.Dup, ShimOp.ForkPrepare, ShimOp.ForkCancel, ShimOp.Fstatfs }
                .Select(o => ((int)o).ToString(CultureInfo.InvariantCulture))) + " " + IoctlRequest.Window.ToString(CultureInfo.InvariantCulture), lines[3]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }


    [Fact]
    public void Cli_errors_are_explained()
    {
        var (code, _, err) = Luo("selftest", "--kernel-src", "/nonexistent-kernel-tree");
        Assert.Equal(SelftestExit.Setup, code);
        Assert.Contains(Tools.MissingCompiler() ?? "/nonexistent-kernel-tree/tools/testing/selftests/liveupdate: no such directory", err, StringComparison.Ordinal);
        Assert.NotEqual(0, Luo("selftest").Code);                                 // --kernel-src is required
        var bad = Luo("serve", "--socket", "/tmp/never-bound.sock", "--variant", "bogus=1");
        Assert.Equal(1, bad.Code);
        Assert.Contains("unknown switch \"bogus\"", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void Luo_serve_runs_until_a_shutdown_request()
    {
        string dir = Path.Combine(Path.GetTempPath(), "luo-serve-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string sock = Path.Combine(dir, "s");
        int code = -1;
        string output = "";
        var t = new Thread(() => { var r = Luo("serve", "--socket", sock, "--variant", "memfd=v1"); code = r.Code; output = r.Out; });
        t.Start();
        try
        {
            ControlClient? ctl = null;
            for (int i = 0; i < 500 && ctl is null; i++)
            {
                try { ctl = ControlClient.Connect(sock + ".ctl"); }
                catch (IOException) { Thread.Sleep(10); }
            }
            Assert.NotNull(ctl);
            using (ctl)
            {
                Assert.Equal("1", ctl.Status().Field("boot"));
                Assert.Contains("memfd_version=v1", ctl.SetVariant("retrieve_sticky=on").Text, StringComparison.Ordinal);
            }
            var kexec = Luo("serve", "ctl", "--socket", sock, "kexec");
            Assert.Equal(0, kexec.Code);
            Assert.Contains("boot 2\nsessions 0\nholders \npending_forks 0\n", kexec.Out, StringComparison.Ordinal);
            var variant = Luo("serve", "ctl", "--socket", sock, "variant", "name_check=off", "abi=fdt_v1");
            Assert.Contains("abi=fdt_v1\nname_check=off", variant.Out, StringComparison.Ordinal);
            Assert.Equal(1, Luo("serve", "ctl", "--socket", sock, "fault", "point=Nowhere", "next").Code);
            Assert.Equal(1, Luo("serve", "ctl", "--socket", sock, "frobnicate").Code);
            Assert.Equal(2, Luo("serve", "ctl", "--control", sock + ".nothing", "status").Code);
            Assert.Equal(0, Luo("serve", "ctl", "--socket", sock, "shutdown").Code);
            Assert.True(t.Join(TimeSpan.FromSeconds(20)));
            Assert.Equal(0, code);
            Assert.Contains($"LUOSHIM_SOCKET={sock}", output, StringComparison.Ordinal);
            Assert.False(File.Exists(sock));                                       // sockets removed at exit
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
