using System.CommandLine;
using LuoModel.Serve.Selftest;

namespace LuoModel.Cli;

/// <summary><c>luo selftest --kernel-src DIR</c>: a kernel tree's own LUO selftests against the model
/// (selftest-shim.md §7, §10; docs/selftests.md).</summary>
internal static class SelftestCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var src = new Option<DirectoryInfo>("--kernel-src") { Description = "kernel source tree holding tools/testing/selftests/liveupdate", Required = true };
        var variant = new Option<string[]>("--variant") { Description = "model switch name=value (repeatable), e.g. name_check=off, double_preserve=none, memfd=v1" };
        var program = new Option<string[]>("--program") { Description = "run only this program (repeatable)" };
        var buildDir = new Option<DirectoryInfo?>("--build-dir") { Description = "keep the binaries here (default: a temporary directory)" };
        var timeout = new Option<int>("--timeout") { Description = "seconds one program stage may take", DefaultValueFactory = _ => 300 };
        var verbose = new Option<bool>("--verbose") { Description = "log every daemon request" };
        var cmd = new Command("selftest", "Build and run a kernel tree's LUO selftests under libluoshim.so against the model; one TAP report")
        {
            src, variant, program, buildDir, timeout, verbose,
        };
        cmd.SetAction(r => SelftestRunner.Run(
            new SelftestOptions
            {
                KernelSource = r.GetValue(src)!.FullName,
                Variants = r.GetValue(variant) ?? [],
                Programs = r.GetValue(program) ?? [],
                BuildDirectory = r.GetValue(buildDir)?.FullName,
                Timeout = TimeSpan.FromSeconds(Math.Max(1, r.GetValue(timeout))),
                Verbose = r.GetValue(verbose),
            },
            CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }
}
