using System.Buffers;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using LuoModel.Fdt;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.PropertyTests.Fdt;

/// <summary>
/// Properties of the FDT writers over random trees (<see cref="FdtGenerators"/>): the sequential writer with
/// and without name de-duplication, the read-write API, growable buffers, NOSPACE and BADSTATE handling, and
/// the look-ups on the result. The shared checks are in <see cref="FdtWriterChecks"/>; BrokenWriterTests
/// shows each of them failing against a deliberately broken build path.
/// </summary>
public class FdtWriterProperties
{
    private const int Tests = 200;

    /// <summary>(a) sequential writer (dedup): check_full, tree text, header layout.</summary>
    [Property(MaxTest = Tests)]
    public Property Sequential_writer_round_trips() =>
        FdtWriterChecks.RoundTrip(t => FdtBuilders.Sequential(t, FdtCreateFlags.None));

    /// <summary>(b) dedup vs NO_NAME_DEDUP.</summary>
    [Property(MaxTest = Tests)]
    public Property Dedup_and_nodedup_blobs_differ_only_in_strings() =>
        FdtWriterChecks.DedupMatchesNoDedup(FdtBuilders.Sequential);

    /// <summary>(b, byte-exact) strings blocks and nameoffs follow libfdt's placement and reuse rules.</summary>
    [Property(MaxTest = Tests)]
    public Property Strings_blocks_follow_libfdt_rules() =>
        FdtWriterChecks.StringsFollowLibfdtRules(FdtBuilders.Sequential, t => FdtBuilders.ReadWrite(t));

    /// <summary>(c) read-write API builds the same logical tree.</summary>
    [Property(MaxTest = Tests)]
    public Property Read_write_api_builds_the_same_tree() =>
        FdtWriterChecks.ReadWriteMatchesSequential(t => FdtBuilders.ReadWrite(t), t => FdtBuilders.Sequential(t, FdtCreateFlags.None));

    /// <summary>(f) path, subnode and property look-ups on the writer's output.</summary>
    [Property(MaxTest = Tests)]
    public Property Lookups_find_every_node_and_property() =>
        FdtWriterChecks.Lookups(t => FdtBuilders.Sequential(t, FdtCreateFlags.None));

    /// <summary>(d) a growable writer starting tiny gives the same bytes as fixed buffers that are big enough.</summary>
    [Property(MaxTest = Tests)]
    public Property Growable_writer_matches_fixed_buffer() =>
        Prop.ForAll(FdtGenerators.Trees(), FdtGenerators.Flags.ToArbitrary(), Gen.Choose(0, 256).ToArbitrary(), (t, flags, initial) =>
        {
            var ops = t.Ops();
            byte[] tight = FdtBuilders.SequentialOps(ops, flags, FdtBuilders.FixedBufferSize(t));
            byte[] roomy = FdtBuilders.SequentialOps(ops, flags, (2 * FdtBuilders.FixedBufferSize(t)) + 4096);
            PoisonSharedPool();
            byte[] grown = FdtBuilders.Growable(t, flags, initial);
            return tight.AsSpan().SequenceEqual(roomy).Label("fixed buffers of different sizes differ")
                .And(grown.AsSpan().SequenceEqual(tight).Label($"growable ({initial}) {grown.Length} bytes vs fixed {tight.Length} bytes"));
        });

    /// <summary>
    /// Leaves non-zero garbage in the shared array pool the growable writer rents from, so bytes it fails to
    /// write explicitly would show up in the blob.
    /// </summary>
    private static void PoisonSharedPool()
    {
        for (int size = 64; size <= 1 << 16; size *= 2)
        {
            byte[] a = ArrayPool<byte>.Shared.Rent(size);
            a.AsSpan().Fill(0xa5);
            ArrayPool<byte>.Shared.Return(a);
        }
    }

    /// <summary>
    /// (d) a writer reused for another tree (plain re-create, growable, and through <see cref="FdtWriter.Pool"/>)
    /// gives the same bytes as a fresh one: nothing of the previous tree (strings index, buffer) leaks.
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property Reused_writer_matches_fresh_writer() =>
        Prop.ForAll(FdtGenerators.Trees(), FdtGenerators.Trees(), FdtGenerators.Flags.ToArbitrary(), (first, second, flags) =>
        {
            byte[] fresh = FdtBuilders.Sequential(second, flags);
            var ops1 = first.Ops();
            var ops2 = second.Ops();
            FdtWriter w = FdtWriter.Pool.Get();
            try
            {
                int size1 = FdtBuilders.FixedBufferSize(first), size2 = FdtBuilders.FixedBufferSize(second);
                int e1 = w.CreateWithFlags(new byte[size1], size1, flags);
                if (e1 == 0) (e1, _) = FdtBuilders.Run(w, ops1);
                int e2 = w.CreateWithFlags(new byte[size2], size2, flags);
                if (e2 == 0) (e2, _) = FdtBuilders.Run(w, ops2);
                byte[] again = w.ToArray();
                int e3 = w.CreateGrowable(64, flags);
                if (e3 == 0) (e3, _) = FdtBuilders.Run(w, ops2);
                byte[] grown = w.ToArray();
                FdtWriter.Pool.Return(w);
                w = FdtWriter.Pool.Get();
                int e4 = w.CreateGrowable(64, flags);
                if (e4 == 0) (e4, _) = FdtBuilders.Run(w, ops2);
                byte[] pooled = w.ToArray();
                return (e1 == 0 && e2 == 0 && e3 == 0 && e4 == 0).Label($"errors {e1} {e2} {e3} {e4}")
                    .And(again.AsSpan().SequenceEqual(fresh).Label("re-created writer differs"))
                    .And(grown.AsSpan().SequenceEqual(fresh).Label("re-created growable writer differs"))
                    .And(pooled.AsSpan().SequenceEqual(fresh).Label("writer from the pool differs"));
            }
            finally
            {
                FdtWriter.Pool.Return(w);
            }
        });

    /// <summary>How many bytes a too-small buffer lacks: mostly just a few, sometimes anything.</summary>
    private static readonly Gen<int> Deficit = Gen.Frequency((3, Gen.Choose(0, 15)), (5, Gen.Choose(0, int.MaxValue)));

    /// <summary>
    /// (e) any buffer smaller than the finished blob gives NOSPACE from some call, leaves no finished (or
    /// reader-acceptable) blob, and the tree continues byte-exactly after fdt_resize into a big buffer — so the
    /// failed call changed nothing. A buffer of exactly the blob's size succeeds.
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property Too_small_buffer_gives_NOSPACE_and_nothing_corrupt() =>
        Prop.ForAll(FdtGenerators.Trees(), FdtGenerators.Flags.ToArbitrary(), Deficit.ToArbitrary(), (t, flags, raw) =>
        {
            var ops = t.Ops();
            byte[] full = FdtBuilders.SequentialOps(ops, flags, FdtBuilders.FixedBufferSize(t));
            int size = full.Length - 1 - (raw % full.Length);
            byte[] buf = new byte[size];
            using var w = new FdtWriter();
            int err = w.CreateWithFlags(buf, size, flags);
            int failedAt = -1;
            if (err == 0) (err, failedAt) = FdtBuilders.Run(w, ops);
            bool refused = !w.IsFinished && w.Blob.IsEmpty && FdtRo.CheckFull(buf) < 0;

            bool resumed = true;
            if (failedAt >= 0)
            {
                byte[] big = new byte[FdtBuilders.FixedBufferSize(t)];
                int r = w.Resize(big, big.Length);
                (int err2, _) = r == 0 ? FdtBuilders.Run(w, ops, failedAt) : (r, -1);
                resumed = err2 == 0 && w.Blob.SequenceEqual(full);
            }
            int exactErr = FdtBuilders.TrySequential(ops, flags, full.Length, out byte[] exact, out string exactFailed);
            string at = failedAt >= 0 ? ops[failedAt].ToString() : "fdt_create";
            return (err == FdtError.NoSpace.Neg()).Label($"buffer {size} of {full.Length}: {FdtErrors.Name(err)} at {at}")
                .And(refused.Label("an unfinished blob is visible or accepted by readers"))
                .And(resumed.Label($"resuming after fdt_resize from {at} gives other bytes"))
                .And((exactErr == 0 && exact.AsSpan().SequenceEqual(full)).Label($"exact-size buffer: {FdtErrors.Name(exactErr)} at {exactFailed}"));
        });

    /// <summary>
    /// (e) calls out of order give BADSTATE and change nothing: structure calls before fdt_finish_reservemap,
    /// reservation calls after it (tried before every call of the build), and every call after fdt_finish.
    /// </summary>
    [Property(MaxTest = Tests)]
    public Property Out_of_order_calls_give_BADSTATE() =>
        Prop.ForAll(FdtGenerators.Trees(), FdtGenerators.Flags.ToArbitrary(), (t, flags) =>
        {
            var ops = t.Ops();
            int size = FdtBuilders.FixedBufferSize(t);
            byte[] expected = FdtBuilders.SequentialOps(ops, flags, size);
            using var w = new FdtWriter();
            var wrong = new List<string>();
            int err = w.CreateWithFlags(new byte[size], size, flags);
            bool structState = false;
            for (int i = 0; i < ops.Length && err == 0; i++)
            {
                Misuse(w, structState, $"before {ops[i]}", wrong);
                err = ops[i].Apply(w);
                structState |= ops[i].Kind == WriterOpKind.FinishRsv;
            }
            byte[] done = w.ToArray();
            var after = new (string Call, int Result)[]
            {
                ("add_reservemap_entry", w.AddReservemapEntry(1, 1)),
                ("finish_reservemap", w.FinishReservemap()),
                ("begin_node", w.BeginNode("x")),
                ("property", w.Property("p", [1])),
                ("end_node", w.EndNode()),
                ("finish", w.Finish()),
                ("resize", w.Resize(new byte[2 * size], 2 * size)),
            };
            foreach (var (call, result) in after)
                if (result != FdtError.BadState.Neg()) wrong.Add($"{call} after finish: {FdtErrors.Name(result)}");
            return (err == 0).Label($"build failed: {FdtErrors.Name(err)}")
                .And((wrong.Count == 0).Label(string.Join("; ", wrong.Take(4))))
                .And(done.AsSpan().SequenceEqual(expected).Label("rejected calls changed the blob"))
                .And(w.Blob.SequenceEqual(done).Label("calls after finish changed the blob"));
        });

    private static void Misuse(FdtWriter w, bool structState, string where, List<string> wrong)
    {
        void Expect(string call, int result)
        {
            if (result != FdtError.BadState.Neg()) wrong.Add($"{call} {where}: {FdtErrors.Name(result)}");
        }
        if (!structState)
        {
            Expect("begin_node", w.BeginNode("x"));
            Expect("property", w.Property("p", [1, 2, 3]));
            Expect("end_node", w.EndNode());
            Expect("finish", w.Finish());
        }
        else
        {
            Expect("add_reservemap_entry", w.AddReservemapEntry(0x1000, 0x1000));
            Expect("finish_reservemap", w.FinishReservemap());
        }
    }
}
