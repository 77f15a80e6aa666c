namespace LuoModel.Serve.Selftest;

/// <summary>A compiled program, or the reason it is not.</summary>
public sealed record BuiltProgram(SelftestProgram Program, string? Binary, string Log);

/// <summary>
/// Compiles the programs of a <see cref="SelftestTree"/> with gcc directly (selftest-shim.md §10): no kernel
/// build and no <c>make headers</c>. The tree's include/uapi/linux/liveupdate.h is copied alone into a private
/// system-include directory (the rest of &lt;linux/…&gt; comes from the distribution's headers); the kselftest
/// headers are found by the sources' own relative includes; lib/include is on the include path.
/// </summary>
public static class ProgramBuild
{
    /// <summary>The kselftest flags the selftests are built with (lib.mk and the liveupdate Makefile).</summary>
    public static readonly IReadOnlyList<string> Flags = ["-D_GNU_SOURCE", "-Wall", "-O2", "-Wno-unused-function"];

    /// <summary>The gcc argument list for <paramref name="p"/> (output into <paramref name="outDir"/>).</summary>
    public static List<string> Arguments(SelftestTree tree, SelftestProgram p, string uapiDir, string outDir)
    {
        ArgumentNullException.ThrowIfNull(tree);
        ArgumentNullException.ThrowIfNull(p);
        var args = new List<string>(Flags);
        if (tree.UapiHeader is not null) args.AddRange(["-isystem", uapiDir]);
        if (tree.LibInclude is not null) args.Add("-I" + tree.LibInclude);
        args.Add("-I" + tree.Directory);
        args.Add("-I" + Path.GetDirectoryName(tree.Directory)!);
        args.Add(p.Source);
        args.AddRange(p.Helpers);
        args.AddRange(["-o", Path.Combine(outDir, p.Name)]);
        return args;
    }

    /// <summary>Builds every program (two at a time) into <paramref name="outDir"/>.</summary>
    public static IReadOnlyList<BuiltProgram> BuildAll(SelftestTree tree, string outDir)
    {
        ArgumentNullException.ThrowIfNull(tree);
        Directory.CreateDirectory(outDir);
        string uapiDir = Path.Combine(outDir, "uapi");
        if (tree.UapiHeader is not null)
        {
            Directory.CreateDirectory(Path.Combine(uapiDir, "linux"));
            File.Copy(tree.UapiHeader, Path.Combine(uapiDir, "linux", "liveupdate.h"), overwrite: true);
        }
        var results = new BuiltProgram[tree.Programs.Count];
        Parallel.For(0, tree.Programs.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            var p = tree.Programs[i];
            var r = Tools.Run("gcc", Arguments(tree, p, uapiDir, outDir), tree.Directory, null, TimeSpan.FromMinutes(2));
            string bin = Path.Combine(outDir, p.Name);
            string log = (r.Output + r.Error).Trim();
            results[i] = new BuiltProgram(p, r.ExitCode == 0 && File.Exists(bin) ? bin : null, log);
        });
        return results;
    }
}
