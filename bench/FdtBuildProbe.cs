using System.Diagnostics;
using System.Runtime.InteropServices;
using LuoModel.Fdt;

namespace LuoModel.Bench;

/// <summary>
/// `dotnet run -c Release --project bench -- fdt-build-probe [S] [F] [rounds]`: the managed and the native libfdt
/// build of the same tree alternated in one process, best time of each over many rounds. A cross-check of the
/// BenchmarkDotNet build table that is insensitive to load spikes (a best-of time only needs one quiet slice).
/// </summary>
internal static unsafe class FdtBuildProbe
{
    public static int Run(string[] args, TextWriter o)
    {
        int s = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 256;
        int f = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 16;
        int rounds = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 200;
        var tree = new LuoShapedTree(s, f);
        int size = tree.BlobSize(FdtCreateFlags.None);
        var buf = new byte[size];
        using var w = new FdtWriter();
        byte* native = (byte*)NativeMemory.AlignedAlloc((nuint)size, 8);
        try
        {
            int reps = Math.Max(1, 2_000_000 / size);
            double bestManaged = double.MaxValue, bestNative = double.MaxValue;
            var ratios = new List<double>(rounds);
            for (int r = 0; r < rounds; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++) tree.Build(w, buf, FdtCreateFlags.None);
                double m = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / reps;
                bestManaged = Math.Min(bestManaged, m);
                if (!NativeLibfdt.IsAvailable) continue;
                t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++) NativeLibfdt.Build(tree, native, size, 0);
                double n = Stopwatch.GetElapsedTime(t0).TotalMicroseconds / reps;
                bestNative = Math.Min(bestNative, n);
                ratios.Add(n / m);
            }
            ratios.Sort();
            double median = ratios.Count > 0 ? ratios[ratios.Count / 2] : double.NaN;
            if (NativeLibfdt.IsAvailable && !new ReadOnlySpan<byte>(native, size).SequenceEqual(buf))
                throw new InvalidOperationException("managed and native builds differ");
            o.WriteLine($"{s} x {f} ({size} B), best of {rounds} rounds x {reps}: managed {bestManaged:F2} us, libfdt {bestNative:F2} us, best-time speed-up {bestNative / bestManaged:F2}x, median per-round speed-up {median:F2}x");
            return 0;
        }
        finally
        {
            NativeMemory.AlignedFree(native);
        }
    }
}
