using System.Text.RegularExpressions;

namespace LuoModel.Serve.Selftest;

/// <summary>How a selftest program is run (selftest-shim.md §7).</summary>
public enum ProgramKind
{
    /// <summary>kselftest harness: one run, TAP output, every test in a fresh process.</summary>
    Harness,
    /// <summary>Two-stage program: <c>-s 1</c>, model kexec, kill of the stage-1 holder, <c>-s 2</c>.</summary>
    TwoStage,
}

/// <summary>One program to build: its source, the helpers linked into it and its kind.</summary>
public sealed record SelftestProgram(string Name, string Source, ProgramKind Kind, IReadOnlyList<string> Helpers);

/// <summary>
/// The LUO selftests of a kernel tree, found without its Makefile (selftest-shim.md §10): every .c in
/// tools/testing/selftests/liveupdate that defines main or uses the kselftest harness is a program; the other
/// .c files there, and those in lib/, are helpers. A program links the helpers of the layout whose headers it
/// includes (lib/include → lib/*.c; a header next to the sources → the top-level helpers). init.c (it kexecs
/// and reboots a real machine) is never built.
/// </summary>
public sealed partial record SelftestTree(
    string KernelSource,
    string Directory,
    IReadOnlyList<SelftestProgram> Programs,
    IReadOnlyList<(string File, string Reason)> Skipped,
    string? UapiHeader,
    string? LibInclude)
{
    /// <summary>Path of the selftests below the kernel tree.</summary>
    public const string RelativeDirectory = "tools/testing/selftests/liveupdate";

    [GeneratedRegex("""#\s*include\s*[<"][^>"]*kselftest_harness\.h[>"]""")]
    private static partial Regex HarnessInclude();

    [GeneratedRegex(@"(^|[\s;}])(int|void)\s+main\s*\(")]
    private static partial Regex MainDefinition();

    [GeneratedRegex("""#\s*include\s*[<"]([^>"]+)[>"]""")]
    private static partial Regex AnyInclude();

    [GeneratedRegex(@"/\*.*?\*/|//[^\n]*", RegexOptions.Singleline)]
    private static partial Regex Comments();

    /// <summary>Scans <paramref name="kernelSource"/>; null with <paramref name="error"/> when the selftest
    /// directory is missing.</summary>
    public static SelftestTree? Discover(string kernelSource, out string error)
    {
        ArgumentNullException.ThrowIfNull(kernelSource);
        error = "";
        string root = Path.GetFullPath(kernelSource);
        string dir = Path.Combine(root, RelativeDirectory);
        if (!System.IO.Directory.Exists(dir))
        {
            error = $"{dir}: no such directory (is {kernelSource} a kernel tree with the LUO selftests?)";
            return null;
        }
        var skipped = new List<(string, string)>();
        var programs = new List<(string Path, bool Harness, string[] Includes)>();
        var topHelpers = new List<string>();
        foreach (string file in System.IO.Directory.GetFiles(dir, "*.c").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(file);
            if (name == "init.c")
            {
                skipped.Add((file, "kexecs and reboots a real machine; the runner replaces it"));
                continue;
            }
            string text = Comments().Replace(File.ReadAllText(file), " ");
            bool harness = HarnessInclude().IsMatch(text);
            if (harness || MainDefinition().IsMatch(text))
                programs.Add((file, harness, [.. AnyInclude().Matches(text).Select(m => m.Groups[1].Value)]));
            else topHelpers.Add(file);
        }
        string libDir = Path.Combine(dir, "lib");
        var libHelpers = System.IO.Directory.Exists(libDir)
            ? System.IO.Directory.GetFiles(libDir, "*.c").Order(StringComparer.Ordinal).ToList()
            : [];
        string? libInclude = System.IO.Directory.Exists(Path.Combine(libDir, "include")) ? Path.Combine(libDir, "include") : null;
        var libHeaders = libInclude is null ? [] : System.IO.Directory.GetFiles(libInclude, "*.h", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(libInclude, f).Replace('\\', '/')).ToHashSet(StringComparer.Ordinal);
        var topHeaders = System.IO.Directory.GetFiles(dir, "*.h").Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);

        var result = new List<SelftestProgram>();
        foreach (var (path, harness, includes) in programs)
        {
            var helpers = new List<string>();
            if (includes.Any(i => libHeaders.Contains(i) || libHeaders.Contains(Path.GetFileName(i)))) helpers.AddRange(libHelpers);
            if (includes.Any(i => !i.Contains('/', StringComparison.Ordinal) && topHeaders.Contains(i))) helpers.AddRange(topHelpers);
            result.Add(new SelftestProgram(Path.GetFileNameWithoutExtension(path), path, harness ? ProgramKind.Harness : ProgramKind.TwoStage, helpers));
        }
        string uapi = Path.Combine(root, "include/uapi/linux/liveupdate.h");
        return new SelftestTree(root, dir, result, skipped, File.Exists(uapi) ? uapi : null, libInclude);
    }
}
