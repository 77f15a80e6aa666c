using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Handover;
using LuoModel.Testkit.Reliability;
using Xunit.Abstractions;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// Issue 9 §2: the demo handover corrupted one byte at a time (flip, 0, 0xff, +1) over every LUO/KHO metadata
/// structure; the next kernel boots, userspace retrieves and reads everything, and the outcome must be one
/// the kernel allows (KHO revival disabled with a reason, panic, EIO forever, or what the bytes say), never
/// an exception or a hang. CI runs a seeded sample of about 2,000 corruptions; LUO_CORRUPTION_FULL=1 runs
/// every corruption (LUO_CORRUPTION_SEED picks another sample, LUO_CORRUPTION_REPORT=FILE writes the table).
/// </summary>
public class CorruptedHandoverTests(ITestOutputHelper output)
{
    private const int SampleSize = 2000;
    private const int DefaultSeed = 20261123;
    private static readonly Lazy<CorruptionSweep> s_sweep = new(() => new CorruptionSweep());
    private static CorruptionSweep Sweep => s_sweep.Value;

    private static long E(Errno e) => -(long)e;

    [Fact]
    public void Baseline_shows_what_the_demo_preserved()
    {
        var b = Sweep.Baseline;
        Assert.Equal(BootKind.Opened, b.Boot);
        Assert.Null(b.Anomaly);
        Assert.Equal(1UL, b.LiveupdateNum);
        Assert.Equal(DemoHandover.SessionNames, b.Sessions.Select(s => System.Text.Encoding.ASCII.GetString(s.Name)));
        foreach (var m in DemoHandover.Contents)
        {
            var s = b.Sessions.Single(x => System.Text.Encoding.ASCII.GetString(x.Name) == m.Session);
            Assert.Equal(0, s.RetrieveRc);
            Assert.Equal(0, s.FinishRc);
            var f = s.Files.Single(x => x.Token == m.Token);
            Assert.Equal(0, f.RetrieveRc);
            Assert.Equal(m.Content.Length, f.Size);
            Assert.Equal(m.Pos, f.Pos);
            Assert.Equal(m.Seals, (uint)f.Seals);
            Assert.Equal(m.Content, f.Content);
        }
        Assert.Empty(b.Sessions.Single(s => s.Name.AsSpan().SequenceEqual("idle"u8)).Files);
        // the predictor reads the unmodified bytes exactly as the model does
        Assert.True(HandoverPredictor.Predict(Sweep.Handover, Sweep.Handover.LoadArena()).SameAs(b));
    }

    [Fact]
    public void Every_metadata_structure_is_mapped()
    {
        var kinds = Sweep.Handover.Regions.Select(r => r.Kind).ToHashSet();
        MetaKind[] v5 = [MetaKind.KhoFdt, MetaKind.RadixPage, MetaKind.ScratchArray, MetaKind.LuoRoot, MetaKind.SessionBlock, MetaKind.FileBlock,
            MetaKind.MemfdRecord, MetaKind.FolioArray, MetaKind.VmallocChunk, MetaKind.FlbPage, MemfdDataKind];
        Assert.Equal(v5.Order(), kinds.Order());
        Assert.Equal(6, Sweep.Handover.Regions.Count(r => r.Kind == MetaKind.RadixPage));
        Assert.Contains(Sweep.Handover.Regions, r => r.Label == "radix leaf");
    }

    private const MetaKind MemfdDataKind = MetaKind.MemfdData;

    private CorruptionResult RunAt(MetaKind kind, string labelPart, string field, int within, CorruptOp op)
    {
        var regions = Sweep.Handover.Regions;
        int r = Enumerable.Range(0, regions.Count).First(i => regions[i].Kind == kind && regions[i].Label.Contains(labelPart, StringComparison.Ordinal));
        int off = Enumerable.Range(0, regions[r].Length).First(o => FieldMap.Classify(regions[r], o).Name == field) + within;
        var res = Sweep.Run(new Corruption(r, off, op));
        output.WriteLine(res + "\n  " + res.Detail);
        Assert.Null(res.Failure);
        return res;
    }

    private static FileView File(Observation o, string session, ulong token) =>
        o.Sessions.Single(s => s.Name.AsSpan().SequenceEqual(System.Text.Encoding.ASCII.GetBytes(session))).Files.Single(f => f.Token == token);

    [Fact]
    public void A_flipped_token_byte_gives_a_file_with_that_token()
    {
        var r = RunAt(MetaKind.FileBlock, "vm-2", "token", 1, CorruptOp.Inc);
        Assert.Equal(CorruptionOutcome.ValueFollowed, r.Outcome);
        Assert.Contains("0x107:", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flipped_data_byte_gives_that_byte()
    {
        var r = RunAt(MetaKind.MemfdData, "0x1 data page 0", "data byte", 0, CorruptOp.Flip);
        Assert.Equal(CorruptionOutcome.ValueFollowed, r.Outcome);
        var arena = Sweep.Handover.LoadArena();
        var reg = Sweep.Handover.Regions[r.Corruption.Region];
        arena.Write(reg.Phys, [(byte)('h' ^ 0xFF)]);
        var obs = HandoverObserver.Observe(Sweep.Handover.Boot(arena));
        Assert.Equal((byte)('h' ^ 0xFF), File(obs, "vm-1", 1).Content[0]);
        Assert.Equal(DemoHandover.Contents[0].Content.AsSpan(1).ToArray(), File(obs, "vm-1", 1).Content.AsSpan(1).ToArray());
    }

    [Fact]
    public void A_corrupted_root_compatible_panics_and_the_byte_after_the_nul_is_ignored()
    {
        Assert.Equal(CorruptionOutcome.Panic, RunAt(MetaKind.LuoRoot, "luo_ser", "compatible", 0, CorruptOp.Inc).Outcome);
        Assert.Equal(CorruptionOutcome.Unchanged, RunAt(MetaKind.LuoRoot, "luo_ser", "compatible", 7, CorruptOp.Ones).Outcome);
    }

    [Fact]
    public void A_session_renamed_onto_another_gives_EIO_forever()
    {
        // "vm-1" + 1 on the last character = "vm-2", a duplicate incoming name (luo.md §5.7)
        var r = RunAt(MetaKind.SessionBlock, "session block 0", "name", 3, CorruptOp.Inc);
        Assert.Equal(CorruptionOutcome.DeviceEio, r.Outcome);
    }

    [Fact]
    public void Seals_outside_the_known_set_make_retrieve_fail_EOPNOTSUPP_sticky()
    {
        var r = RunAt(MetaKind.MemfdRecord, "vm-2 memfd 0x7", "seals", 0, CorruptOp.Ones);
        Assert.Equal(CorruptionOutcome.RetrieveError, r.Outcome);
        Assert.Contains($"rc {E(Errno.EOPNOTSUPP)}/{E(Errno.EOPNOTSUPP)}", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_wild_radix_pointer_disables_KHO_revival_with_a_reason()
    {
        var r = RunAt(MetaKind.RadixPage, "radix table L5", "table slot", 0, CorruptOp.Ones);
        Assert.Equal(CorruptionOutcome.KhoRevivalDisabled, r.Outcome);
        Assert.True(r.WildPointer);
        Assert.Contains("disabling KHO revival", r.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Seeded_sample_over_every_structure_gives_only_allowed_outcomes()
    {
        bool full = Environment.GetEnvironmentVariable("LUO_CORRUPTION_FULL") == "1";
        int seed = int.TryParse(Environment.GetEnvironmentVariable("LUO_CORRUPTION_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : DefaultSeed;
        var list = full ? Sweep.All().ToList() : Sweep.Sample(SampleSize, seed);
        if (!full) Assert.InRange(list.Count, SampleSize - 20, SampleSize);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var run = Task.Run(() => SweepReport.RunAll(Sweep, list, full ? Environment.ProcessorCount : 1));
        // a hang fails with TimeoutException
        var results = await run.WaitAsync(TimeSpan.FromMinutes(full ? 60 : 5));
        string table = SweepReport.Table(results);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{results.Length} corruptions (seed {seed}, full {full}) in {sw.Elapsed.TotalSeconds:F1} s"));
        output.WriteLine(table);
        output.WriteLine("wild pointers: " + SweepReport.WildSummary(results));
        if (Environment.GetEnvironmentVariable("LUO_CORRUPTION_REPORT") is { Length: > 0 } path)
            System.IO.File.WriteAllText(path, table + "\nwild pointers: " + SweepReport.WildSummary(results) + "\n");
        var failures = results.Where(r => r.Failure is not null).Take(20).Select(r => r.ToString()).ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(Sweep.Handover.Regions.Select(r => r.Kind).ToHashSet(), SweepReport.Kinds(results));
        foreach (var o in Enum.GetValues<CorruptionOutcome>().Where(o => o != CorruptionOutcome.StructureFollowed))
            Assert.Contains(results, r => r.Outcome == o);
        // every wild pointer stops with a defined outcome; none is silently taken as a valid handover of other data
        Assert.All(results.Where(r => r.WildPointer), r => Assert.NotEqual(CorruptionOutcome.ValueFollowed, r.Outcome));
    }
}
