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
        var gcs = new string[4];
        var pauses = new double[4];
        var totals = new List<double>(n);
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
            totals.Add(Last[0] + Last[1] + Last[2]);
            pauses[3] = pauses[0] + pauses[1] + pauses[2];
        }
        string[] names = ["serialize", "kexec+boot", "open+retrieve+finish", "round trip"];
        o.WriteLine($"{s} x {f}, best of {n} (ms; allocated bytes, collections and GC pause time of the last repeat)");
        for (int i = 0; i < 4; i++)
            o.WriteLine($"{names[i],-22} {best[i],10:F2} ms {(i < 3 ? bytes[i] : bytes[0] + bytes[1] + bytes[2]),14:N0} B  "
                + $"{(i < 3 ? gcs[i] : ""),-26} pause {pauses[i],7:F2} ms");
        string inOrder = string.Join(", ", totals.Select(t => t.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)));
        totals.Sort();
        double median = totals.Count % 2 == 1 ? totals[totals.Count / 2] : (totals[(totals.Count / 2) - 1] + totals[totals.Count / 2]) / 2;
        o.WriteLine($"round trip of each repeat: median {median:F2} ms, worst {totals[^1]:F2} ms (in run order: {inOrder})");
        sampler?.Print(o);
        return 0;

        void Phase(int i, Action a)
        {
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            int c0 = GC.CollectionCount(0), c1 = GC.CollectionCount(1), c2 = GC.CollectionCount(2);
            TimeSpan p0 = GC.GetTotalPauseDuration();
            long t0 = Stopwatch.GetTimestamp();
            a();
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            Last[i] = ms;
            best[i] = Math.Min(best[i], ms);
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - b0;
            pauses[i] = (GC.GetTotalPauseDuration() - p0).TotalMilliseconds;
            int n0 = GC.CollectionCount(0) - c0, n1 = GC.CollectionCount(1) - c1, n2 = GC.CollectionCount(2) - c2;
            gcs[i] = $"gc {n0} (gen1+ {n1}, gen2 {n2})";
            if (Environment.GetEnvironmentVariable("LUO_GC_INFO") == "1" && n0 > 0)
                foreach (var kind in new[] { GCKind.Ephemeral, GCKind.FullBlocking, GCKind.Background })
                {
                    var gi = GC.GetGCMemoryInfo(kind);
                    if (gi.Index == 0) continue;
                    Console.Error.WriteLine($"  {kind} #{gi.Index} gen{gi.Generation} compacted={gi.Compacted} concurrent={gi.Concurrent} "
                        + $"pause={gi.PauseDurations[0].TotalMilliseconds:F1}ms promoted={gi.PromotedBytes:N0} heap={gi.HeapSizeBytes:N0} "
                        + $"gen0 before={gi.GenerationInfo[0].SizeBeforeBytes:N0} gen0size={gi.GenerationInfo[0].SizeAfterBytes:N0} gen1={gi.GenerationInfo[1].SizeAfterBytes:N0} gen2={gi.GenerationInfo[2].SizeAfterBytes:N0} loh={gi.GenerationInfo[3].SizeAfterBytes:N0}");
                }
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
