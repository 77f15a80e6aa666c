using System.Globalization;
using LuoModel.Testkit.Fuzz;
using LuoModel.Testkit.Handover;
using SharpFuzz;

namespace LuoModel.Fuzz;

/// <summary>
/// SharpFuzz host for the fuzz targets in LuoModel.Testkit (issue 9 §1). Commands:
/// <c>run TARGET</c> (under afl-fuzz: persistent loop over stdin inputs), <c>replay TARGET FILE...</c> (runs
/// inputs once and prints the outcome), <c>seeds DIR</c> (writes generated seed inputs to DIR/TARGET/),
/// <c>regions</c> (lists the demo handover's metadata structures), <c>list</c> (target names).
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 0) return Usage();
        switch (args[0])
        {
            case "list":
                foreach (string n in FuzzTargets.All.Keys) Console.WriteLine(n);
                return 0;
            case "run" when args.Length == 2 && FuzzTargets.All.TryGetValue(args[1], out var target):
                Fuzzer.OutOfProcess.Run(stream =>
                {
                    using var ms = new MemoryStream();
                    stream.CopyTo(ms);
                    target(ms.GetBuffer().AsSpan(0, (int)ms.Length));
                });
                return 0;
            case "replay" when args.Length >= 3 && FuzzTargets.All.TryGetValue(args[1], out var t):
                return Replay(t, args[2..]);
            case "seeds" when args.Length == 2:
                Seeds.Write(args[1]);
                return 0;
            case "sweep" when args.Length >= 2:
                return Sweep(args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20261123);
            case "regions":
                foreach (var abi in new[] { LuoModel.Kernel.LuoAbi.LuoV5, LuoModel.Kernel.LuoAbi.FdtV1 })
                {
                    var h = DemoHandover.Get(abi);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{abi}: image {h.Image.Length} bytes"));
                    foreach (var r in h.Regions) Console.WriteLine("  " + r);
                }
                return 0;
            default:
                return Usage();
        }
    }

    /// <summary>Corrupted-handover sweep (issue 9 §2): "full" or a sample size; prints the table and failures.</summary>
    private static int Sweep(string what, int seed)
    {
        var sweep = new LuoModel.Testkit.Reliability.CorruptionSweep();
        var list = what == "full" ? sweep.All().ToList() : sweep.Sample(int.Parse(what, CultureInfo.InvariantCulture), seed);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var results = LuoModel.Testkit.Reliability.SweepReport.RunAll(sweep, list, Environment.ProcessorCount);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Length} corruptions in {sw.Elapsed.TotalSeconds:F1} s"));
        Console.Write(LuoModel.Testkit.Reliability.SweepReport.Table(results));
        Console.WriteLine("wild pointers: " + LuoModel.Testkit.Reliability.SweepReport.WildSummary(results));
        if (Environment.GetEnvironmentVariable("LUO_SWEEP_EXAMPLES") == "1")
            foreach (var g in results.GroupBy(r => (r.Region.Kind, r.Outcome)).OrderBy(g => g.Key))
                foreach (var r in g.Take(2)) Console.WriteLine("EXAMPLE " + r + "\n     " + r.Detail.Split('\n')[0]);
        int bad = 0;
        foreach (var r in results.Where(r => r.Failure is not null))
        {
            if (bad++ < 40) Console.WriteLine("FAIL " + r + "\n     " + r.Detail.Split('\n')[0]);
        }
        return bad == 0 ? 0 : 1;
    }

    private static int Replay(FuzzTarget target, string[] files)
    {
        int bad = 0;
        foreach (string f in files)
        {
            try
            {
                target(File.ReadAllBytes(f));
                Console.WriteLine($"ok      {f}");
            }
#pragma warning disable CA1031 // a replay reports every exception
            catch (Exception ex)
#pragma warning restore CA1031
            {
                bad++;
                Console.WriteLine($"FINDING {f}: {ex.GetType().Name}: {ex.Message}");
                Console.WriteLine(ex.StackTrace);
            }
        }
        return bad == 0 ? 0 : 1;
    }

    private static int Usage()
    {
        Console.Error.WriteLine("usage: LuoModel.Fuzz run TARGET | replay TARGET FILE... | seeds DIR | regions | list");
        Console.Error.WriteLine("targets: " + string.Join(", ", FuzzTargets.All.Keys));
        return 2;
    }
}
