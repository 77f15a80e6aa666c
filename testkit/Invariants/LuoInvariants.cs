using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit.Trace;

namespace LuoModel.Testkit.Invariants;

/// <summary>A broken invariant: its name (luo.md §8 "I&lt;n&gt;_…", kho.md §5 "K&lt;n&gt;_…") and what was seen.</summary>
public sealed record InvariantViolation(string Name, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Detail}";
}

/// <summary>
/// The structural invariants of luo.md §8 and kho.md §5 that hold after every step of any history and need no
/// abstract model: they look only at the live kernel model behind a <see cref="TraceTarget"/>. The property
/// machine adds the model-dependent ones (errno and reply prediction, rollback call order, round trips).
/// </summary>
public static partial class LuoInvariants
{
    private const int PageSize = PhysicalArena.PageSize;
    private const int SessionsPerBlock = (PageSize - 16) / 80, FilesPerBlock = (PageSize - 16) / 64;

    /// <summary>Runs every structural check; returns the violations (empty when all hold). With
    /// <paramref name="kho"/> false the KHO memory checks (a tree walk) are skipped: callers pass false only
    /// after calls that cannot touch KHO state (file offsets, fault rules, test-file flags, rlimits).</summary>
    public static List<InvariantViolation> Check(TraceTarget t, bool kho = true)
    {
        ArgumentNullException.ThrowIfNull(t);
        var v = new List<InvariantViolation>();
        if (t.Panicked) return v;
        var k = t.Kernel;
        var luo = k.Luo;
        void Fail(string name, string detail) => v.Add(new InvariantViolation(name, detail));

        // I1: at most one open description of /dev/liveupdate; in_use mirrors it
        var devices = t.Process.OpenFds.Select(fd => t.Process.FileOf(fd)).OfType<DeviceFile>().Distinct().Count();
        if (devices > 1) Fail("I1_single_device_open", $"{devices} open descriptions of /dev/liveupdate");
        if (luo.Enabled && luo.DeviceInUse != (devices == 1)) Fail("I1_single_device_open", $"in_use={luo.DeviceInUse} with {devices} open descriptions");

        // I2: names
        var outNames = luo.Outgoing.Sessions.Select(s => s.NameBytes).ToList();
        foreach (var n in outNames)
            if (n[0] == 0 || n[63] != 0 || n.AsSpan(n.AsSpan().IndexOf((byte)0)).ContainsAnyExcept((byte)0))
                Fail("I2_session_names_valid_and_distinct", $"bad outgoing name field {Convert.ToHexStringLower(n)}");
        if (outNames.Select(Convert.ToHexString).Distinct().Count() != outNames.Count) Fail("I2_session_names_valid_and_distinct", "duplicate outgoing names");
        var inNames = luo.Incoming.Sessions.Select(s => Convert.ToHexString(s.NameBytes)).ToList();
        if (inNames.Distinct().Count() != inNames.Count) Fail("I2_session_names_valid_and_distinct", "duplicate incoming names");

        // I3: tokens unique within each session
        foreach (var s in luo.Outgoing.Sessions.Concat(luo.Incoming.Sessions))
            if (s.Files.Select(f => f.Token).Distinct().Count() != s.Files.Count) Fail("I3_tokens_unique_per_session", $"duplicate token in {s}");

        // I4: registry ⇔ live files (outgoing, or incoming with retrieve_status 1)
        var live = luo.Outgoing.Sessions.SelectMany(s => s.Files)
            .Concat(luo.Incoming.Sessions.SelectMany(s => s.Files).Where(f => f.RetrieveStatus == 1)).ToHashSet(ReferenceEqualityComparer.Instance);
        var reg = luo.RegisteredFiles.ToList();
        if (reg.Count != live.Count || !reg.All(live.Contains))
            Fail("I4_registry_matches_live_files", $"registry has {reg.Count} entries, {live.Count} live files");

        // I9: block counts
        foreach (var s in luo.Outgoing.Sessions.Concat(luo.Incoming.Sessions))
            if (s.FileBlocks is { } fb && fb.BlockCount != Ceil(s.Files.Count, FilesPerBlock))
                Fail("I9_block_counts", $"{s}: {fb.BlockCount} file blocks for {s.Files.Count} files");
        if (luo.Outgoing.Blocks is { } sb)
        {
            int need = Ceil(luo.Outgoing.Count, SessionsPerBlock);
            bool quirk = sb.BlockCount == need + 1 && luo.Outgoing.Count > 0 && luo.Outgoing.Count % SessionsPerBlock == 0;
            if (sb.BlockCount != need && !quirk) Fail("I9_block_counts", $"{sb.BlockCount} session blocks for {luo.Outgoing.Count} sessions");
        }

        CheckFlb(t, Fail);
        if (luo.Enabled && luo.Outgoing.Blocks is not null)
        {
            if (k.State == KernelState.Running) CheckRunningBlocksZero(k, Fail);
            else if (k.State == KernelState.Rebooting && !t.HandoverCorrupted) CheckHandoverBytes(k, Fail);
        }
        if (kho && k.Kho.IsEnabled && !k.Kho.IsDead) CheckKho(t, Fail);
        return v;
    }

    private static int Ceil(int n, int per) => (n + per - 1) / per;

    private static void CheckFlb(TraceTarget t, Action<string, string> fail)
    {
        if (t.Flb is not { } flb) return;
        var luo = t.Kernel.Luo;
        long files = luo.Outgoing.Sessions.SelectMany(s => s.Files).Count(f => f.Handler is TestFileHandler);
        if (flb.OutgoingCount != files) fail("I10_flb_counts", $"outgoing count {flb.OutgoingCount}, {files} preserved test files");
        int held = flb.PreserveCalls - flb.UnpreserveCalls;
        if (held != (files > 0 ? 1 : 0)) fail("I10_flb_counts", $"{flb.PreserveCalls} preserve / {flb.UnpreserveCalls} unpreserve calls with {files} files");
        if (flb.FinishCalls > 1) fail("I23_flb_finish_once", $"finish ran {flb.FinishCalls} times");
        if (flb.FinishCalls == 1)
        {
            bool dependents = luo.Incoming.Sessions.Any(s => s.Files.Any(f => f.Handler is TestFileHandler));
            if (dependents || flb.RetrieveCalls != 1) fail("I23_flb_finish_once", $"finish with dependents={dependents}, retrieve calls {flb.RetrieveCalls}");
        }
    }

    /// <summary>I11 (and its steady state): while running, nothing of a serialization is visible: sessions_pa
    /// is 0, every session entry is zero and every file block holds count 0 and zero entries.</summary>
    private static void CheckRunningBlocksZero(Kernel.Kernel k, Action<string, string> fail)
    {
        var luo = k.Luo;
        if (luo.OutSessionsPa != 0) fail("I11_failed_serialize_restores_state", $"sessions_pa = 0x{luo.OutSessionsPa:x} while running");
        foreach (ulong b in luo.Outgoing.Blocks!.Blocks)
            if (k.Arena.PageForRead(b >> 12)[16..].ContainsAnyExcept((byte)0))
                fail("I11_failed_serialize_restores_state", $"session block 0x{b:x} has non-zero entry bytes while running");
        foreach (var s in luo.Outgoing.Sessions)
            foreach (ulong b in s.FileBlocks!.Blocks)
                if (k.Arena.PageForRead(b >> 12)[8..].ContainsAnyExcept((byte)0))
                    fail("I11_failed_serialize_restores_state", $"file block 0x{b:x} of {s} is not clear while running");
    }

    /// <summary>I14/I15/I16 after a successful reboot: the root, every session and file block and the FLB
    /// page are byte-exactly what the current state serializes to (zero everywhere nothing is written).</summary>
    private static void CheckHandoverBytes(Kernel.Kernel k, Action<string, string> fail)
    {
        var luo = k.Luo;
        string name = luo.SerializeAttempts > 1 ? "I14_retry_same_bytes" : "I16_block_chains";
        var root = new byte[PageSize];
        "luo-v5"u8.CopyTo(root);
        BinaryPrimitives.WriteUInt64LittleEndian(root.AsSpan(8), luo.LiveupdateNum + 1);
        BinaryPrimitives.WriteUInt64LittleEndian(root.AsSpan(16), luo.Outgoing.Count > 0 ? luo.Outgoing.Blocks!.HeadPa : 0);
        BinaryPrimitives.WriteUInt64LittleEndian(root.AsSpan(24), luo.OutFlbPhys);
        Compare(k, luo.OutRootPhys, root, "I15_liveupdate_num_and_root", fail);

        var sessions = luo.Outgoing.Sessions;
        var sblocks = luo.Outgoing.Blocks!.Blocks;
        for (int b = 0; b < sblocks.Count; b++)
        {
            var page = new byte[PageSize];
            int first = b * SessionsPerBlock, count = Math.Clamp(sessions.Count - first, 0, SessionsPerBlock);
            BinaryPrimitives.WriteUInt64LittleEndian(page, b + 1 < sblocks.Count ? sblocks[b + 1] : 0);
            BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8), (ulong)count);
            for (int i = 0; i < count; i++)
            {
                var s = sessions[first + i];
                var e = page.AsSpan(16 + (i * 80), 80);
                s.NameBytes.CopyTo(e);
                if (s.Files.Count > 0)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(e[64..], s.FileBlocks!.HeadPa);
                    BinaryPrimitives.WriteUInt64LittleEndian(e[72..], (ulong)s.Files.Count);
                }
                FileBlocks(k, s, name, fail);
            }
            Compare(k, sblocks[b], page, name, fail);
        }

        var flbPage = new byte[PageSize];
        BinaryPrimitives.WriteUInt64LittleEndian(flbPage, 1);
        int n = 0;
        foreach (var flb in luo.Flbs.Where(f => f.OutgoingCount > 0))
        {
            var e = flbPage.AsSpan(16 + (n++ * 64), 64);
            Encoding.ASCII.GetBytes(flb.Compatible).CopyTo(e);
            BinaryPrimitives.WriteUInt64LittleEndian(e[48..], flb.OutgoingData);
            BinaryPrimitives.WriteUInt64LittleEndian(e[56..], (ulong)flb.OutgoingCount);
        }
        BinaryPrimitives.WriteUInt64LittleEndian(flbPage.AsSpan(8), (ulong)n);
        // slots beyond count are not cleared (luo.md §5.5): compare the header and the written entries only
        var actual = k.Arena.PageForRead(luo.OutFlbPhys >> 12);
        if (!actual[..(16 + (n * 64))].SequenceEqual(flbPage.AsSpan(0, 16 + (n * 64))))
            fail("I10_flb_counts", $"FLB page differs: {Convert.ToHexStringLower(actual[..Math.Min(96, 16 + (n * 64))])}");
    }

    private static void FileBlocks(Kernel.Kernel k, LuoSession s, string name, Action<string, string> fail)
    {
        var fblocks = s.FileBlocks!.Blocks;
        for (int b = 0; b < fblocks.Count; b++)
        {
            var page = new byte[PageSize];
            int first = b * FilesPerBlock, count = Math.Clamp(s.Files.Count - first, 0, FilesPerBlock);
            BinaryPrimitives.WriteUInt64LittleEndian(page, b + 1 < fblocks.Count ? fblocks[b + 1] : 0);
            BinaryPrimitives.WriteUInt64LittleEndian(page.AsSpan(8), (ulong)count);
            for (int i = 0; i < count; i++)
            {
                var f = s.Files[first + i];
                var e = page.AsSpan(16 + (i * 64), 64);
                Encoding.ASCII.GetBytes(f.Handler.Compatible).CopyTo(e);
                BinaryPrimitives.WriteUInt64LittleEndian(e[48..], f.SerializedData);
                BinaryPrimitives.WriteUInt64LittleEndian(e[56..], f.Token);
            }
            Compare(k, fblocks[b], page, name, fail);
        }
    }

    private static void Compare(Kernel.Kernel k, ulong phys, byte[] expected, string name, Action<string, string> fail)
    {
        var actual = k.Arena.PageForRead(phys >> 12);
        if (actual.SequenceEqual(expected)) return;
        int at = 0;
        while (at < expected.Length && actual[at] == expected[at]) at++;
        fail(name, $"page 0x{phys:x} differs at offset {at}: 0x{actual[at]:x2}, expected 0x{expected[at]:x2}");
    }
}
