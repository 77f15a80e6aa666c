using System.Buffers.Binary;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Handover;

/// <summary>How the next kernel came up.</summary>
public enum BootKind
{
    /// <summary>KHO accepted the handover and /dev/liveupdate opened.</summary>
    Opened,
    /// <summary>KHO revival disabled (kho.md §1.7): a normal boot; LUO has nothing incoming.</summary>
    KhoRejected,
    /// <summary>luo_restore_fail: the modelled panic (luo.md §5.7).</summary>
    Panic,
    /// <summary>Deserialization failed: every open of /dev/liveupdate fails EIO (luo.md §5.7, §8 inv. 17).</summary>
    DeviceEio,
}

/// <summary>What userspace saw of one preserved file: RETRIEVE_FD result (and the retry's, sticky), then for a
/// memfd its offset, size, seals and contents (pread from 0, capped).</summary>
public sealed record FileView(ulong Token, long RetrieveRc, long RetryRc, long Pos, long Size, long Seals, byte[] Content)
{
    /// <summary>Value equality including the contents.</summary>
    public bool SameAs(FileView o) => o is not null && Token == o.Token && RetrieveRc == o.RetrieveRc && RetryRc == o.RetryRc
        && Pos == o.Pos && Size == o.Size && Seals == o.Seals && Content.AsSpan().SequenceEqual(o.Content);
    /// <inheritdoc/>
    public override string ToString() => $"0x{Token:x}: rc {RetrieveRc}/{RetryRc} pos {Pos} size {Size} seals {Seals} {Content.Length} bytes";
}

/// <summary>One incoming session: name bytes (up to the NUL), RETRIEVE_SESSION result, files, FINISH result.</summary>
public sealed record SessionView(byte[] Name, long RetrieveRc, IReadOnlyList<FileView> Files, long FinishRc)
{
    /// <summary>Value equality.</summary>
    public bool SameAs(SessionView o) => o is not null && Name.AsSpan().SequenceEqual(o.Name) && RetrieveRc == o.RetrieveRc
        && FinishRc == o.FinishRc && Files.Count == o.Files.Count && Files.Zip(o.Files).All(z => z.First.SameAs(z.Second));
    /// <inheritdoc/>
    public override string ToString() => $"\"{System.Text.Encoding.Latin1.GetString(Name)}\" rc {RetrieveRc} finish {FinishRc} [{string.Join("; ", Files)}]";
}

/// <summary>Everything observable about a boot over a handover.</summary>
public sealed record Observation(BootKind Boot, string Reason, ulong LiveupdateNum, IReadOnlyList<SessionView> Sessions, string? Anomaly)
{
    /// <summary>Value equality (reason text excluded).</summary>
    public bool SameAs(Observation o) => o is not null && Boot == o.Boot && LiveupdateNum == o.LiveupdateNum && Anomaly == o.Anomaly
        && Sessions.Count == o.Sessions.Count && Sessions.Zip(o.Sessions).All(z => z.First.SameAs(z.Second));
    /// <summary>True when some RETRIEVE_FD failed.</summary>
    public bool AnyRetrieveFailed => Sessions.Any(s => s.RetrieveRc < 0 || s.Files.Any(f => f.RetrieveRc < 0));
    /// <inheritdoc/>
    public override string ToString() => $"{Boot} ({Reason}) num {LiveupdateNum}{(Anomaly is null ? "" : " ANOMALY " + Anomaly)}: {string.Join(" | ", Sessions)}";
}

/// <summary>
/// Boots nothing itself: takes a freshly booted next kernel and, as userspace would, opens /dev/liveupdate,
/// retrieves every incoming session and file, reads every memfd, finishes and closes (luo.md §3.5–§3.8, §6.5).
/// Every syscall result must be a success or a kernel errno; anything else is recorded as an anomaly.
/// </summary>
public static class HandoverObserver
{
    /// <summary>Largest number of content bytes read per file.</summary>
    public const int ContentCap = 64 << 10;

    private static readonly HashSet<long> KernelErrnos = [.. Enum.GetValues<Errno>().Where(e => e != Errno.Ok && e != Errno.Frozen).Select(e => -(long)e)];

    /// <summary>True when <paramref name="rc"/> is a success or a kernel errno (not the model's frozen marker).</summary>
    public static bool IsKernelResult(long rc) => rc >= 0 || KernelErrnos.Contains(rc);

    /// <summary>Observes <paramref name="k"/> (a kernel that has just booted).</summary>
    public static Observation Observe(LuoModel.Kernel.Kernel k)
    {
        ArgumentNullException.ThrowIfNull(k);
        if (k.Panicked) return new(BootKind.Panic, k.Outcome.PanicReason ?? "", 0, [], null);
        string? anomaly = null;
        void Note(string what, long rc)
        {
            if (!IsKernelResult(rc)) anomaly ??= $"{what} returned {rc}";
        }
        var p = k.CreateProcess();
        var inc = k.Kho.Incoming;
        long dev = LuoSyscalls.OpenDevice(k, p);
        Note("open", dev);
        if (!inc.IsKhoBoot)
        {
            if (dev < 0) anomaly ??= $"KHO rejected but open = {dev}";
            else if (k.Luo.Incoming.Count != 0) anomaly ??= "KHO rejected but LUO has incoming sessions";
            if (!inc.Reason.StartsWith("disabling KHO revival", StringComparison.Ordinal)) anomaly ??= "rejection without a reason";
            return new(BootKind.KhoRejected, inc.Reason, k.Luo.LiveupdateNum, [], anomaly);
        }
        if (dev < 0)
        {
            long again = LuoSyscalls.OpenDevice(k, p);
            if (dev != -(long)Errno.EIO || again != dev) anomaly ??= $"open = {dev}, then {again}";
            return new(BootKind.DeviceEio, $"open = {dev}", k.Luo.LiveupdateNum, [], anomaly);
        }
        var sessions = new List<SessionView>();
        foreach (var s in k.Luo.Incoming.Sessions.ToList())
        {
            byte[] name = s.NameBytes.AsSpan(0, NameLength(s.NameBytes)).ToArray();
            var tokens = s.Files.Select(f => f.Token).Distinct().ToList();
            long rc = RetrieveSession(k, p, (int)dev, s.NameBytes, out int sfd);
            Note("retrieve session", rc);
            var files = new List<FileView>();
            long finish = 0;
            if (rc == 0)
            {
                foreach (ulong t in tokens) files.Add(ObserveFile(k, p, sfd, t, Note));
                finish = LuoSyscalls.Finish(k, p, sfd);
                Note("finish", finish);
                Note("close session", k.Close(p, sfd));
            }
            sessions.Add(new SessionView(name, rc, files, finish));
        }
        Note("close device", k.Close(p, (int)dev));
        return new(BootKind.Opened, "", k.Luo.LiveupdateNum, sessions, anomaly);
    }

    private static int NameLength(byte[] field)
    {
        int n = Array.IndexOf(field, (byte)0);
        return n < 0 ? field.Length : n;
    }

    private static long RetrieveSession(LuoModel.Kernel.Kernel k, Process p, int dev, byte[] nameField, out int fd)
    {
        var b = new byte[LiveupdateUapi.SessionStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, LiveupdateUapi.SessionStructSize);
        nameField.AsSpan(0, Math.Min(nameField.Length, LiveupdateUapi.NameLength)).CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        long rc = LuoSyscalls.RawIoctl(k, p, dev, LiveupdateUapi.RetrieveSession, b);
        fd = rc == 0 ? BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)) : -1;
        return rc;
    }

    private static FileView ObserveFile(LuoModel.Kernel.Kernel k, Process p, int sfd, ulong token, Action<string, long> note)
    {
        long rc = LuoSyscalls.RetrieveFd(k, p, sfd, token, out int fd);
        note("retrieve fd", rc);
        if (rc < 0)
        {
            long retry = LuoSyscalls.RetrieveFd(k, p, sfd, token, out int fd2);
            note("retrieve fd again", retry);
            if (retry >= 0) k.Close(p, fd2);
            return new FileView(token, rc, retry, 0, 0, 0, []);
        }
        long pos = k.Lseek(p, fd, 0, MemfdConsts.SEEK_CUR);
        long size = k.Lseek(p, fd, 0, MemfdConsts.SEEK_END);
        long seals = k.Fcntl(p, fd, FcntlCmd.F_GET_SEALS);
        note("lseek", pos);
        note("lseek end", size);
        note("get seals", seals);
        var content = new List<byte>();
        if (size > 0)
        {
            ulong buf = LuoSyscalls.Scratch(p);
            long want = Math.Min(size, ContentCap);
            while (content.Count < want)
            {
                int n = (int)Math.Min(want - content.Count, 8192);
                long got = k.Pread(p, fd, buf, (ulong)n, content.Count);
                note("pread", got);
                if (got <= 0) break;
                content.AddRange(p.Memory.Peek(buf, (int)got));
            }
        }
        note("close", k.Close(p, fd));
        return new FileView(token, rc, rc, pos, size, seals, [.. content]);
    }
}
