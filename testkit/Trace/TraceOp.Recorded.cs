namespace LuoModel.Testkit.Trace;

/// <summary>When a recorded call ran (docs/trace-format.md §7.1): CLOCK_MONOTONIC nanoseconds at entry and the
/// call's duration. Two calls of different processes whose intervals overlap may have been serialized by the
/// kernel in either order.</summary>
public readonly record struct CallTime(ulong Start, ulong Duration)
{
    /// <summary>Nanoseconds at return.</summary>
    public ulong End => Start + Duration;

    /// <summary>True when the two intervals share an instant.</summary>
    public bool Overlaps(CallTime other) => Start <= other.End && other.Start <= End;
}

/// <summary>Version 2: a recorded process begins (the recorder's constructor ran): the boot it ran on, its
/// RLIMIT_NOFILE and the fds it already had open. A boot id that differs from the previous start line's means
/// a kexec happened in between.</summary>
public sealed record StartOp(string Boot, ulong NofileSoft, ulong NofileHard, IReadOnlyList<int> Fds) : TraceOp
{
    /// <inheritdoc/>
    public bool Equals(StartOp? other) => other is not null && Boot == other.Boot && NofileSoft == other.NofileSoft
        && NofileHard == other.NofileHard && Fds.SequenceEqual(other.Fds) && Pid == other.Pid;
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Boot, NofileSoft, NofileHard, Fds.Count);
}

/// <summary>Version 2: fork(); the result is the child's pid (written by the child before its own lines).</summary>
public sealed record ForkOp : TraceOp;
/// <summary>Version 2: waitpid/wait/wait4 reaped the child whose pid is the result (it is gone, even when a
/// signal ended it without an exit line).</summary>
public sealed record WaitOp(int Arg) : TraceOp;
/// <summary>Version 2: the process ended through exit(), _exit() or a return from main.</summary>
public sealed record ExitOp : TraceOp;
/// <summary>Version 2: openat(dirfd, path, flags).</summary>
public sealed record OpenAtOp(int DirFd, string Path, int Flags) : TraceOp;
/// <summary>Version 2: dup2(fd, to) (<see cref="Three"/> false) or dup3(fd, to, flags).</summary>
public sealed record Dup2Op(int Fd, int To, int Flags, bool Three) : TraceOp;
/// <summary>Version 2: fcntl(fd, F_DUPFD or F_DUPFD_CLOEXEC, min).</summary>
public sealed record DupFdOp(int Fd, int Min, bool CloseOnExec) : TraceOp;
/// <summary>Version 2: close_range(first, last, flags) (closefrom(n) is recorded as close_range(n, ~0U, 0)).</summary>
public sealed record CloseRangeOp(uint First, uint Last, uint Flags) : TraceOp;
/// <summary>Version 2: setrlimit(RLIMIT_NOFILE, {soft, hard}).</summary>
public sealed record SetrlimitBothOp(ulong Soft, ulong Hard) : TraceOp;

/// <summary>Version 2, recorder fact: size (the result) and file position (output <c>pos=P</c>) of a memfd
/// right before PRESERVE_FD names it or before it is closed; the checker brings the model's memfd to this state
/// (writes through mmap/write are not recorded, only their effect on size and position).</summary>
public sealed record MemfdStateOp(int Fd) : TraceOp;

/// <summary>Version 2, recorder fact: the content of a memfd. With <see cref="Session"/> null, the file just
/// retrieved at <see cref="Fd"/> (after RETRIEVE_FD); otherwise the file preserved under (<see cref="Session"/>,
/// <see cref="Token"/>) at a stage-end marker. Result = size; output <c>pos=P sha256:HEX</c>.</summary>
public sealed record ContentOp(int Fd, string? Session, ulong Token) : TraceOp;

/// <summary>Version 2: the workload's stage-end marker (LUOREC_STAGE_END=exit or luorec_stage_end()); the
/// content lines of the preserved memfds follow it.</summary>
public sealed record StageEndOp(string Why) : TraceOp;

/// <summary>Output of <see cref="MemfdStateOp"/> / <see cref="ContentOp"/>: file position and SHA-256 of the
/// bytes [0, size) (null for a state line).</summary>
public sealed record MemfdFacts(long Pos, byte[]? Sha256)
{
    /// <inheritdoc/>
    public bool Equals(MemfdFacts? other) => other is not null && Pos == other.Pos && (Sha256 ?? []).AsSpan().SequenceEqual(other.Sha256 ?? []);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Pos, Sha256?.Length ?? 0);

    /// <summary>The output text: <c>pos=P</c> and, with a hash, <c> sha256:HEX</c>.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"pos={Pos}") + (Sha256 is null ? "" : " sha256:" + Convert.ToHexStringLower(Sha256));
}
