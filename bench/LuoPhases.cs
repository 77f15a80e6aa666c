using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace LuoModel.Bench;

/// <summary>
/// `dotnet run -c Release --project bench -- phases [S] [F] [repeats]`: one S×F round trip split into its phases
/// (serialize, kexec + boot, first open + retrieve + finish), timed with a stopwatch and counted in allocated
/// bytes and collections, best of <c>repeats</c>. A diagnostic companion of <see cref="LuoRoundTripBenchmarks"/>
/// for finding where the round trip spends its time; the tables in bench/README.md come from BenchmarkDotNet.
/// </summary>
internal static class LuoPhases
{
    public static int Run(string[] args, TextWriter o)
    {
        int s = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4096;
        int f = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 16;
        int n = args.Length > 3 ? int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 5;
        using var sampler = args.Contains("--types") ? new AllocationSampler() : null;
        var best = new double[4];
        Array.Fill(best, double.MaxValue);
        var bytes = new long[4];
        var gcs = new int[4];
        for (int r = 0; r < n; r++)
        {
            var m = LuoBenchMachine.Create(s, f);
            m.PreserveAll();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            Phase(0, () => { if (m.Reboot() != 0) throw new InvalidOperationException("reboot"); });
            if (sampler != null) sampler.Active = true;
            Phase(1, m.KexecOnly);
            PerfControl("enable");
            Phase(2, m.RetrieveFinish);
            PerfControl("disable");
            if (sampler != null) sampler.Active = false;
            best[3] = Math.Min(best[3], Last[0] + Last[1] + Last[2]);
        }
        string[] names = ["serialize", "kexec+boot", "open+retrieve+finish", "round trip"];
        o.WriteLine($"{s} x {f}, best of {n} (ms, allocated bytes and gen0/1/2 collections of the last repeat)");
        for (int i = 0; i < 4; i++)
            o.WriteLine($"{names[i],-22} {best[i],10:F2} ms {(i < 3 ? bytes[i] : bytes[0] + bytes[1] + bytes[2]),14:N0} B  gc {(i < 3 ? gcs[i] : 0)}");
        sampler?.Print(o);
        return 0;

        void Phase(int i, Action a)
        {
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            int g0 = GC.CollectionCount(0) + (100 * GC.CollectionCount(1)) + (10000 * GC.CollectionCount(2));
            long t0 = Stopwatch.GetTimestamp();
            a();
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            Last[i] = ms;
            best[i] = Math.Min(best[i], ms);
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - b0;
            gcs[i] = GC.CollectionCount(0) + (100 * GC.CollectionCount(1)) + (10000 * GC.CollectionCount(2)) - g0;
        }
    }

    private static readonly double[] Last = new double[3];

    /// <summary>With LUO_PERF_CTL=FIFO (perf record -D -1 --control fifo:FIFO), profiles only the retrieve phase.</summary>
    private static void PerfControl(string cmd)
    {
        string? fifo = Environment.GetEnvironmentVariable("LUO_PERF_CTL");
        if (string.IsNullOrEmpty(fifo)) return;
        File.AppendAllText(fifo, cmd + "\n");
    }

    /// <summary>Counts the runtime's GC AllocationTick samples (one per ~100 KB allocated) by type name.</summary>
    private sealed class AllocationSampler : EventListener
    {
        private readonly Dictionary<string, long> _bytes = [];

        /// <summary>Samples are counted only while set (kexec, boot and retrieve phases).</summary>
        public volatile bool Active;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!Active || e.EventName is not "GCAllocationTick_V4" and not "GCAllocationTick_V3" || e.Payload is null) return;
            int ti = e.PayloadNames!.IndexOf("TypeName");
            int ai = e.PayloadNames.IndexOf("AllocationAmount64");
            string t = ti >= 0 ? e.Payload[ti]?.ToString() ?? "?" : "?";
            long a = ai >= 0 ? Convert.ToInt64(e.Payload[ai], System.Globalization.CultureInfo.InvariantCulture) : 0;
            lock (_bytes) _bytes[t] = _bytes.GetValueOrDefault(t) + a;
        }

        public void Print(TextWriter o)
        {
            lock (_bytes)
                foreach (var (t, b) in _bytes.OrderByDescending(kv => kv.Value).Take(25)) o.WriteLine($"{b,14:N0} B  {t}");
        }
    }
}
