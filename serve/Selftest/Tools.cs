using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace LuoModel.Serve.Selftest;

/// <summary>Outcome of one child process.</summary>
/// <param name="ExitCode">Exit status (128+signal when killed by a signal, -1 when it could not start).</param>
/// <param name="Output">stdout.</param>
/// <param name="Error">stderr.</param>
/// <param name="TimedOut">Killed after the timeout.</param>
/// <param name="Elapsed">Wall time until exit.</param>
public sealed record ProcessResult(int ExitCode, string Output, string Error, bool TimedOut, TimeSpan Elapsed);

/// <summary>External tools (gcc, sh) and the shim build (selftest-shim.md §10): nothing here runs at
/// <c>dotnet build</c> time; everything is optional and reported when missing.</summary>
public static class Tools
{
    /// <summary>The absolute path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (string.IsNullOrEmpty(path)) return null;
        foreach (string dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Why the C side cannot be built here (null when gcc and sh are both on PATH).</summary>
    public static string? MissingCompiler()
    {
        if (!OperatingSystem.IsLinux()) return "the selftest shim needs Linux (LD_PRELOAD, SCM_RIGHTS, memfd)";
        if (Find("gcc") is null) return "gcc not found on PATH (install gcc to build libluoshim.so and the test programs)";
        if (Find("sh") is null) return "sh not found on PATH";
        return null;
    }

    /// <summary>Runs a program to completion (or until <paramref name="timeout"/>, then kills its process group
    /// tree). stdout/stderr are drained concurrently; descendants that keep the pipes open (a daemonized
    /// holder) do not block the return.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, string? workingDirectory, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string a in args) psi.ArgumentList.Add(a);
        if (environment is not null)
            foreach (var (k, v) in environment) psi.Environment[k] = v;
        var sw = Stopwatch.StartNew();
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new InvalidOperationException("no process");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return new ProcessResult(-1, "", $"cannot start {file}: {ex.Message}", false, sw.Elapsed);
        }
        using (p)
        {
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            bool exited = p.WaitForExit(timeout);
            if (!exited)
            {
                try { p.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { }
                p.WaitForExit(5000);
            }
            var elapsed = sw.Elapsed;
            Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(2));
            string o = stdout.IsCompletedSuccessfully ? stdout.Result : "";
            string e = stderr.IsCompletedSuccessfully ? stderr.Result : "";
            return new ProcessResult(exited ? p.ExitCode : 137, o, e, !exited, elapsed);
        }
    }

    /// <summary>The shim sources embedded in this assembly (file name → bytes).</summary>
    public static IReadOnlyDictionary<string, byte[]> ShimSources()
    {
        var asm = typeof(Tools).Assembly;
        var result = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in asm.GetManifestResourceNames().Where(n => n.StartsWith("shim/", StringComparison.Ordinal)))
        {
            using var s = asm.GetManifestResourceStream(name)!;
            using var ms = new MemoryStream();
            s.CopyTo(ms);
            result[name["shim/".Length..]] = ms.ToArray();
        }
        return result;
    }

    /// <summary>Builds libluoshim.so with the shim's own build script (shim/build.sh) into a cache directory
    /// keyed by the sources' hash, reusing an earlier build. Returns the library path, or null with the
    /// compiler's output in <paramref name="log"/>.</summary>
    public static string? BuildShim(string? cacheRoot, out string log, string? extraCflags = null)
    {
        log = "";
        if (MissingCompiler() is { } why)
        {
            log = why;
            return null;
        }
        var sources = ShimSources();
        if (!sources.ContainsKey("luoshim.c") || !sources.ContainsKey("build.sh"))
        {
            log = "the shim sources are not embedded in this build";
            return null;
        }
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (n, b) in sources)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(n));
            sha.AppendData(b);
        }
        sha.AppendData(Encoding.UTF8.GetBytes(extraCflags ?? ""));
        string key = Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
        cacheRoot ??= Path.Combine(Path.GetTempPath(), "luomodel-" + Environment.UserName);
        string dir = Path.Combine(cacheRoot, "shim-" + key);
        string lib = Path.Combine(dir, "libluoshim.so");
        if (File.Exists(lib)) return lib;
        string src = Path.Combine(dir, "src-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(src);
        foreach (var (n, b) in sources) File.WriteAllBytes(Path.Combine(src, n), b);
        var env = new Dictionary<string, string> { ["CC"] = "gcc" };
        if (extraCflags is not null) env["SHIM_CFLAGS"] = extraCflags;
        var r = Run("sh", [Path.Combine(src, "build.sh"), dir], src, env, TimeSpan.FromMinutes(2));
        log = (r.Output + r.Error).Trim();
        try { Directory.Delete(src, true); }
        catch (IOException) { }
        return r.ExitCode == 0 && File.Exists(lib) ? lib : null;
    }
}
