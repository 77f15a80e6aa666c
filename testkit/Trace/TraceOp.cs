using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Trace;

/// <summary>Where an ioctl argument buffer sits in the process's trace region (docs/trace-format.md §4).
/// The region is three pages: two read-write, one read-only, followed by an unmapped page.</summary>
public enum BufPlace
{
    /// <summary>Start of the read-write pages (12 KiB readable before the hole).</summary>
    Rw,
    /// <summary>Start of the read-only page: copy-in works, every reply faults.</summary>
    Ro,
    /// <summary><see cref="TraceOp"/> bytes start <c>Split</c> bytes before the read-only page: a reply
    /// writes those bytes and then faults.</summary>
    RwRo,
    /// <summary>Starts <c>Split</c> bytes before the unmapped page (read-only bytes, then a hole).</summary>
    RoHole,
    /// <summary>Points into the unmapped page: even the size field faults.</summary>
    Hole,
}

/// <summary>One call of a trace: a syscall, a model-only action, or a boot stage (docs/trace-format.md).</summary>
public abstract record TraceOp
{
    /// <summary>Process id as written in the trace (1 = the first process of the current boot).</summary>
    public int Pid { get; init; } = 1;
    /// <summary>Version 2: when the call ran (<c>[PID @START+DUR]</c>), null when the trace does not say.</summary>
    public CallTime? Time { get; init; }
}

/// <summary>open(path, flags).</summary>
public sealed record OpenOp(string Path, int Flags) : TraceOp;
/// <summary>close(fd).</summary>
public sealed record CloseOp(int Fd) : TraceOp;
/// <summary>dup(fd).</summary>
public sealed record DupOp(int Fd) : TraceOp;

/// <summary>ioctl(fd, cmd, arg) with <see cref="Input"/> written at the <see cref="Place"/> of the region.</summary>
public sealed record IoctlOp(int Fd, uint Cmd, BufPlace Place, int Split, byte[] Input) : TraceOp
{
    /// <inheritdoc/>
    public bool Equals(IoctlOp? other) => other is not null && Fd == other.Fd && Cmd == other.Cmd && Place == other.Place
        && Split == other.Split && Input.AsSpan().SequenceEqual(other.Input) && Pid == other.Pid;
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Fd, Cmd, Place, Split, Input.Length);
}

/// <summary>memfd_create(name, flags).</summary>
public sealed record MemfdCreateOp(string Name, uint Flags) : TraceOp;

/// <summary>write(fd, data, len).</summary>
public sealed record WriteOp(int Fd, byte[] Data) : TraceOp
{
    /// <inheritdoc/>
    public bool Equals(WriteOp? other) => other is not null && Fd == other.Fd && Data.AsSpan().SequenceEqual(other.Data) && Pid == other.Pid;
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Fd, Data.Length);
}

/// <summary>pread(fd, count, offset): the bytes read are the call's output.</summary>
public sealed record PreadOp(int Fd, int Count, long Offset) : TraceOp;
/// <summary>ftruncate(fd, length).</summary>
public sealed record FtruncateOp(int Fd, long Length) : TraceOp;
/// <summary>fcntl(fd, F_ADD_SEALS, seals).</summary>
public sealed record AddSealsOp(int Fd, uint Seals) : TraceOp;
/// <summary>lseek(fd, offset, whence).</summary>
public sealed record LseekOp(int Fd, long Offset, int Whence) : TraceOp;
/// <summary>setrlimit(RLIMIT_NOFILE, {soft, current hard}).</summary>
public sealed record SetrlimitOp(ulong Soft) : TraceOp;
/// <summary>reboot(cmd).</summary>
public sealed record RebootOp(uint Cmd) : TraceOp;
/// <summary>Stage: jump into the next kernel after a successful reboot(KEXEC); result 0 = booted, PANIC.</summary>
public sealed record KexecOp : TraceOp;
/// <summary>Stage: power cycle: a fresh machine (fresh arena, fault injector and handler state).</summary>
public sealed record ColdBootOp : TraceOp;
/// <summary>Model only: a <see cref="TestFile"/> with <see cref="Payload"/> (Kernel.CreateTestFile) → fd.</summary>
public sealed record TestFileOp(ulong Payload) : TraceOp;
/// <summary>Model only: per-file behaviour of the test handler for the TestFile behind <see cref="Fd"/>.</summary>
public sealed record TestFileFlagsOp(int Fd, Errno FailFreeze, bool RefusePreserve, bool RefuseFinish) : TraceOp;
/// <summary>Model only: the <see cref="Nth"/> next check of <see cref="Point"/> (counted from now) fails with
/// <see cref="Error"/> (FaultInjector.FailNth).</summary>
public sealed record FailNthOp(FaultPoint Point, int Nth, Errno Error) : TraceOp;
/// <summary>Model only: kho_preserve_folio / kho_unpreserve_folio of page <see cref="Index"/> of the boot's
/// 16-page KHO test region.</summary>
public sealed record KhoFolioOp(int Index, int Order, bool Unpreserve) : TraceOp;
/// <summary>Model only: kho_restore_folio of page <see cref="Index"/> of the previous boot's region; result =
/// order or -1 (NULL).</summary>
public sealed record KhoRestoreOp(int Index) : TraceOp;
/// <summary>Model only: liveupdate_flb_get_incoming (<see cref="Put"/> false) or _put_incoming of the test FLB.</summary>
public sealed record FlbIncomingOp(bool Put) : TraceOp;
/// <summary>Model only: corrupts the outgoing handover after a successful reboot (hostile-input checks).</summary>
public sealed record CorruptOp(CorruptKind Kind) : TraceOp;

/// <summary>What <see cref="CorruptOp"/> breaks.</summary>
public enum CorruptKind
{
    /// <summary>First byte of the luo_ser compatible ("luo-v5" → "Xuo-v5"): the next boot panics.</summary>
    RootCompatible,
    /// <summary>file_set_ser.count + 1 of the first session entry with files: first open fails EIO.</summary>
    FileCount,
}

/// <summary>A call's result: the return value (≥ 0, or −errno; <see cref="Frozen"/>, <see cref="Panic"/>)
/// and, for ioctl and pread, the observed bytes.</summary>
public sealed record TraceResult(long Value, byte[]? Data = null)
{
    /// <summary>Version 2: the memfd facts of a <c>memfd_state</c> / <c>content</c> line (not part of equality).</summary>
    public MemfdFacts? Facts { get; init; }

    /// <summary>The call blocks forever (serialize_lock held after a successful reboot).</summary>
    public const long Frozen = -(long)Errno.Frozen;
    /// <summary>kexec: the next kernel panicked at boot.</summary>
    public const long Panic = -0x20000;

    /// <inheritdoc/>
    public bool Equals(TraceResult? other) => other is not null && Value == other.Value
        && (Data ?? []).AsSpan().SequenceEqual(other.Data ?? []);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Value, Data?.Length ?? 0);
}

/// <summary>One trace entry: a call and the result it had (or must have), optionally the test-handler calls
/// it makes (<c>calls</c> line) and state probes that must hold after it (<c>expect</c> lines).</summary>
public sealed record TraceEntry(TraceOp Op, TraceResult Result, int Line = 0)
{
    /// <summary>Expected test-handler calls, formatted by <see cref="TraceProbes.Call"/> (null = not checked).</summary>
    public IReadOnlyList<string>? Calls { get; init; }
    /// <summary>State probes (key, value) that must hold after the call.</summary>
    public IReadOnlyList<(string Key, string Value)> Expects { get; init; } = [];
}

/// <summary>A parsed trace: header settings and entries.</summary>
public sealed record TraceFile(int Version, ulong? Seed, LuoMutant Mutants, IReadOnlyList<TraceEntry> Entries);
