using System.Globalization;
using LuoModel.Serve.Native;

namespace LuoModel.Serve.Selftest;

/// <summary>Settings of one <c>luo selftest</c> run.</summary>
public sealed record SelftestOptions
{
    /// <summary>The kernel source tree.</summary>
    public required string KernelSource { get; init; }
    /// <summary>SET_VARIANT settings applied before the first program.</summary>
    public IReadOnlyList<string> Variants { get; init; } = [];
    /// <summary>Only these programs (by name); empty = all.</summary>
    public IReadOnlyList<string> Programs { get; init; } = [];
    /// <summary>Where binaries go (kept); null = a temporary directory removed afterwards.</summary>
    public string? BuildDirectory { get; init; }
    /// <summary>Time limit of one program run (one stage).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Log every daemon request.</summary>
    public bool Verbose { get; init; }
    /// <summary>Where the shim is cached (null = a per-user temporary directory).</summary>
    public string? ShimCache { get; init; }
}

/// <summary>Exit codes of <see cref="SelftestRunner.Run"/>.</summary>
public static class SelftestExit
{
    /// <summary>Every case passed or was skipped.</summary>
    public const int Ok = 0;
    /// <summary>At least one case failed.</summary>
    public const int Failed = 1;
    /// <summary>Nothing could run (no tree, no gcc, no shim, no daemon).</summary>
    public const int Setup = 2;
}

/// <summary>
/// <c>luo selftest --kernel-src DIR</c> (selftest-shim.md §7, §10): discovers and builds the tree's LUO selftests,
/// starts a daemon in this process, runs every program under libluoshim.so — harness programs once, two-stage
/// programs as stage 1, model KEXEC, kill of the stage-1 holders, stage 2 — and prints one TAP report with
/// every case, then the daemon log when something failed.
/// </summary>
public static class SelftestRunner
{
    /// <summary>The text two-stage programs print when stage 2 succeeds.</summary>
    public const string PassMarker = "TEST PASSED";
    private const int KselftestSkip = 4;

    /// <summary>Runs everything; returns a <see cref="SelftestExit"/> code.</summary>
    public static int Run(SelftestOptions options, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (Tools.MissingCompiler() is { } why)
        {
            error.WriteLine($"luo selftest: {why}");
            return SelftestExit.Setup;
        }
        var tree = SelftestTree.Discover(options.KernelSource, out string derr);
        if (tree is null)
        {
            error.WriteLine($"luo selftest: {derr}");
            return SelftestExit.Setup;
        }
        string? shim = Tools.BuildShim(options.ShimCache, out string shimLog);
        if (shim is null)
        {
            error.WriteLine("luo selftest: cannot build libluoshim.so:");
            error.WriteLine(shimLog);
            return SelftestExit.Setup;
        }
        string work = options.BuildDirectory ?? Path.Combine(Path.GetTempPath(), "luo-selftest-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(work);
        try
        {
            return RunTree(options, tree, shim, work, output, error);
        }
        finally
        {
            if (options.BuildDirectory is null)
            {
                try { Directory.Delete(work, true); }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    private static int RunTree(SelftestOptions options, SelftestTree tree, string shim, string work, TextWriter output, TextWriter error)
    {
        var report = new KtapReport();
        report.Comment($"luo selftest: {tree.Directory}");
        if (tree.UapiHeader is null) report.Comment("no include/uapi/linux/liveupdate.h in the tree: the system's header is used");
        foreach (var (file, reason) in tree.Skipped) report.Comment($"not built: {Path.GetFileName(file)} ({reason})");
        var programs = tree.Programs.Where(p => options.Programs.Count == 0 || options.Programs.Contains(p.Name)).ToList();
        var filtered = tree with { Programs = programs };
        error.WriteLine($"luo selftest: building {programs.Count} program(s) in {work}");
        var built = ProgramBuild.BuildAll(filtered, work);

        // a short path: sun_path holds 107 bytes, a --build-dir may be longer
        string sock = Path.Combine(Path.GetTempPath(), "luo-" + Guid.NewGuid().ToString("N")[..12] + ".sock");
        using var daemon = new LuoDaemon(new DaemonOptions { SocketPath = sock, Verbose = options.Verbose });
        try
        {
            daemon.Start();
        }
        catch (IOException ex)
        {
            error.WriteLine($"luo selftest: cannot start the daemon: {ex.Message}");
            return SelftestExit.Setup;
        }
        using var ctl = ControlClient.Connect(daemon.ControlPath);
        foreach (string v in options.Variants)
        {
            var r = ctl.SetVariant(v);
            if (!r.Ok)
            {
                error.WriteLine($"luo selftest: --variant {v}: {r.Text.Trim()}");
                return SelftestExit.Setup;
            }
            report.Comment("variant " + v);
        }
        var env = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = shim,
            [DaemonOptions.SocketEnvironmentVariable] = sock,
        };
        var ctx = new RunContext(ctl, env, work, options.Timeout, report, error);
        var total = System.Diagnostics.Stopwatch.StartNew();
        foreach (var b in built)
        {
            if (b.Binary is null)
            {
                report.Add(CaseResult.Fail, $"{b.Program.Name}: build", diagnostics: ["gcc failed:", .. Lines(b.Log, 40)]);
                continue;
            }
            error.WriteLine($"luo selftest: running {b.Program.Name} ({(b.Program.Kind == ProgramKind.Harness ? "harness" : "two-stage")})");
            var one = System.Diagnostics.Stopwatch.StartNew();
            int before = report.Cases.Count;
            if (b.Program.Kind == ProgramKind.Harness) RunHarness(ctx, b);
            else RunTwoStage(ctx, b);
            KillLeftovers(ctx);
            error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"luo selftest: {b.Program.Name}: {report.Cases.Count - before} case(s) in {one.Elapsed.TotalSeconds:F2} s"));
        }
        report.Trailer(string.Create(CultureInfo.InvariantCulture, $"programs ran in {total.Elapsed.TotalSeconds:F2} s"));
        ctl.Shutdown();
        report.Render(output);
        if (report.Failed > 0)
        {
            error.WriteLine("luo selftest: daemon log:");
            foreach (string l in daemon.LogLines) error.WriteLine("  " + l);
        }
        return report.Failed > 0 ? SelftestExit.Failed : SelftestExit.Ok;
    }

    private sealed record RunContext(ControlClient Control, Dictionary<string, string> Env, string Work, TimeSpan Timeout, KtapReport Report, TextWriter Progress);

    private static IEnumerable<string> Lines(string text, int max) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).Take(max);

    private static IEnumerable<string> Describe(string what, ProcessResult r)
    {
        yield return string.Create(CultureInfo.InvariantCulture, $"{what}: exit {r.ExitCode}{(r.TimedOut ? " (timed out, killed)" : "")} after {r.Elapsed.TotalSeconds:F2}s");
        foreach (string l in Lines(r.Output, 60)) yield return "  " + l;
        foreach (string l in Lines(r.Error, 30)) yield return "  stderr: " + l;
    }

    private static void RunHarness(RunContext ctx, BuiltProgram b)
    {
        string name = b.Program.Name;
        ctx.Control.Reset();
        var r = Tools.Run(b.Binary!, [], ctx.Work, ctx.Env, ctx.Timeout);
        var tap = KtapReport.ParseTap(r.Output);
        foreach (var c in tap.Results)
            ctx.Report.Add(c.Result, ScenarioIds.Label($"{name}: {c.Name}", c.Name), c.SkipReason, c.Result == CaseResult.Fail ? c.Diagnostics : null);
        if (tap.Results.Count == 0 && r.ExitCode == KselftestSkip)
        {
            ctx.Report.Add(CaseResult.Skip, name, tap.SkipAll ?? "program skipped");
            return;
        }
        bool planMissed = tap.Plan is { } plan && tap.Results.Count < plan;
        bool badExit = r.TimedOut || (r.ExitCode != 0 && r.ExitCode != 1) || (r.ExitCode == 1 && tap.Results.All(c => c.Result != CaseResult.Fail));
        if (planMissed || badExit || tap.Results.Count == 0)
            ctx.Report.Add(CaseResult.Fail, $"{name}: program", diagnostics: [$"{tap.Results.Count} of {tap.Plan?.ToString(CultureInfo.InvariantCulture) ?? "?"} planned cases reported", .. Describe(name, r)]);
    }

    private static void RunTwoStage(RunContext ctx, BuiltProgram b)
    {
        string name = ScenarioIds.Label(b.Program.Name, b.Program.Name);
        ctx.Control.Reset();
        var s1 = Tools.Run(b.Binary!, ["-s", "1"], ctx.Work, ctx.Env, ctx.Timeout);
        if (s1.ExitCode == KselftestSkip)
        {
            ctx.Report.Add(CaseResult.Skip, name, "stage 1: " + SkipReason(s1));
            return;
        }
        if (s1.ExitCode != 0)
        {
            ctx.Report.Add(CaseResult.Fail, name, diagnostics: Describe("stage 1", s1));
            return;
        }
        WaitForForks(ctx.Control);
        var k = ctx.Control.Kexec();
        foreach (string pid in (k.Field("holders") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)) Kill(pid);
        if (!k.Ok || k.Field("panic") is not null)
        {
            ctx.Report.Add(CaseResult.Fail, name, diagnostics: [.. Describe("stage 1", s1), "model kexec failed:", .. Lines(k.Text, 20)]);
            return;
        }
        var s2 = Tools.Run(b.Binary!, ["-s", "2"], ctx.Work, ctx.Env, ctx.Timeout);
        if (s2.ExitCode == KselftestSkip)
        {
            ctx.Report.Add(CaseResult.Skip, name, "stage 2: " + SkipReason(s2));
            return;
        }
        bool passed = s2.ExitCode == 0 && s2.Output.Contains(PassMarker, StringComparison.Ordinal);
        ctx.Report.Add(passed ? CaseResult.Pass : CaseResult.Fail, name,
            diagnostics: passed ? null : [.. Describe("stage 1", s1), $"kexec: {k.Text.Replace('\n', ' ').Trim()}", .. Describe("stage 2", s2)]);
    }

    private static string SkipReason(ProcessResult r)
    {
        var tap = KtapReport.ParseTap(r.Output);
        return tap.SkipAll is { Length: > 0 } s ? s : "exit 4";
    }

    /// <summary>A stage-1 child registers its references with its own HELLO right after fork; the model
    /// kexec waits for it so every holder is known by pid (bounded wait).</summary>
    private static void WaitForForks(ControlClient ctl)
    {
        for (int i = 0; i < 1000; i++)
        {
            if (ctl.Status().Field("pending_forks") is "0" or null) return;
            Thread.Sleep(10);
        }
    }

    /// <summary>Kills processes still connected to the current boot (a holder, a stray child) so that the
    /// next program starts on a machine with no users.</summary>
    private static void KillLeftovers(RunContext ctx)
    {
        var status = ctx.Control.Status();
        foreach (string line in status.Text.Split('\n'))
        {
            if (!line.StartsWith("connection pid=", StringComparison.Ordinal)) continue;
            string pid = line["connection pid=".Length..].Split(' ')[0];
            ctx.Progress.WriteLine($"luo selftest: killing leftover process {pid}");
            Kill(pid);
        }
    }

    private static void Kill(string pidText)
    {
        if (!int.TryParse(pidText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int pid) || pid <= 1 || pid == Environment.ProcessId) return;
        Libc.Kill(pid, LinuxConst.SIGKILL);
    }
}
