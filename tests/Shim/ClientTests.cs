using System.Diagnostics;
using System.Globalization;
using LuoModel.Serve.Selftest;
using Xunit.Abstractions;

namespace LuoModel.Tests.Shim;

/// <summary>A fact that needs gcc (and Linux): skipped with the reason where they are missing.</summary>
public sealed class GccFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the C side cannot be built here.</summary>
    public GccFactAttribute()
    {
        if (Tools.MissingCompiler() is { } why) Skip = why;
    }
}

/// <summary>Builds fake kernel trees in temporary directories.</summary>
internal sealed class FakeTree : IDisposable
{
    public FakeTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "luo-tree-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(SelftestDir);
    }

    public string Root { get; }
    public string SelftestDir => Path.Combine(Root, SelftestTree.RelativeDirectory);

    public void Write(string relative, string text)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    /// <summary>The project's shim clients (tests/shim, copied next to the test assembly) laid out as a tree.</summary>
    public static FakeTree FromClients()
    {
        var t = new FakeTree();
        string src = Path.Combine(AppContext.BaseDirectory, "shim");
        foreach (string f in Directory.GetFiles(src, "*.c")) File.Copy(f, Path.Combine(t.SelftestDir, Path.GetFileName(f)));
        CopyDir(Path.Combine(src, "lib"), Path.Combine(t.SelftestDir, "lib"));
        File.Copy(Path.Combine(src, "kselftest_harness.h"), Path.Combine(t.Root, "tools/testing/selftests/kselftest_harness.h"));
        Directory.CreateDirectory(Path.Combine(t.Root, "include/uapi/linux"));
        File.Copy(Path.Combine(src, "uapi/linux/liveupdate.h"), Path.Combine(t.Root, "include/uapi/linux/liveupdate.h"));
        return t;
    }

    private static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (string d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, true); }
        catch (IOException) { }
    }
}

/// <summary>The project's own C clients (tests/shim) through the same runner as <c>luo selftest</c>:
/// shim + daemon + runner end to end, with one TAP report.</summary>
public class ClientTests(ITestOutputHelper log)
{
    /// <summary>A scratch directory next to the test assembly: /tmp may be mounted noexec on CI machines,
    /// and the binaries built here must run.</summary>
    internal static string Scratch(string what)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "shim-scratch", what + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    internal static string ShimCache => Path.Combine(AppContext.BaseDirectory, "shim-scratch", "cache");

    internal static (int Code, string Out, string Err, TimeSpan Elapsed) RunSelftest(SelftestOptions o)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        string work = Scratch("build");
        var sw = Stopwatch.StartNew();
        try
        {
            int code = SelftestRunner.Run(o with { BuildDirectory = o.BuildDirectory ?? work, ShimCache = o.ShimCache ?? ShimCache }, output, error);
            return (code, output.ToString(), error.ToString(), sw.Elapsed);
        }
        finally
        {
            Directory.Delete(work, true);
        }
    }

    [GccFact]
    public void Every_client_case_passes_against_the_model()
    {
        using var tree = FakeTree.FromClients();
        var (code, o, e, elapsed) = RunSelftest(new SelftestOptions { KernelSource = tree.Root });
        log.WriteLine(o);
        log.WriteLine(e);
        var lines = o.Split('\n');
        Assert.Equal("TAP version 13", lines[0]);
        var cases = lines.Where(l => l.StartsWith("ok ", StringComparison.Ordinal) || l.StartsWith("not ok ", StringComparison.Ordinal)).ToList();
        Assert.DoesNotContain(cases, c => c.StartsWith("not ok", StringComparison.Ordinal));
        Assert.Equal(0, code);
        Assert.Contains(lines, l => l == string.Create(CultureInfo.InvariantCulture, $"1..{cases.Count}"));
        Assert.Equal(15 + 10 + 3, cases.Count);
        Assert.Contains("ok 1 shim_kexec_simple", cases);
        Assert.Contains(cases, c => c.EndsWith(" shim_lifetimes: shim.fork_holds_session", StringComparison.Ordinal));
        Assert.Contains(cases, c => c.EndsWith(" shim_single: luo.many_sessions", StringComparison.Ordinal));
        Assert.Contains(cases, c => c.EndsWith(" shim_stress", StringComparison.Ordinal));
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"# Totals: pass:{cases.Count} fail:0 xfail:0 xpass:0 skip:0 error:0"), lines);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"whole run (build + daemon + programs): {elapsed.TotalSeconds:F2} s"));
    }
}
