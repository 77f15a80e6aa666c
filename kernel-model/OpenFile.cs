using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>open(2) flag bits used by the model (asm-generic/fcntl.h).</summary>
public static class OpenFlags
{
    /// <summary>O_RDONLY.</summary>
    public const int O_RDONLY = 0;
    /// <summary>O_WRONLY.</summary>
    public const int O_WRONLY = 1;
    /// <summary>O_RDWR.</summary>
    public const int O_RDWR = 2;
    /// <summary>O_ACCMODE.</summary>
    public const int O_ACCMODE = 3;
    /// <summary>O_NONBLOCK.</summary>
    public const int O_NONBLOCK = 0x800;
    /// <summary>O_LARGEFILE (x86-64 value).</summary>
    public const int O_LARGEFILE = 0x8000;
    /// <summary>O_CLOEXEC.</summary>
    public const int O_CLOEXEC = 0x80000;
    /// <summary>O_PATH.</summary>
    public const int O_PATH = 0x200000;
}

/// <summary>
/// An open file description (struct file): shared by dup, fork and fd passing; <see cref="Release"/> runs when
/// the last reference is dropped (luo.md §2.2, §3.10). Subclasses model the device, session, memfd,
/// /dev/null and test files.
/// </summary>
public abstract class OpenFile
{
    private static long s_nextId;
    private int _refs = 1;

    /// <summary>Creates a description with one reference.</summary>
    protected OpenFile(Kernel kernel, int flags)
    {
        Kernel = kernel;
        Flags = flags;
        Id = (ulong)Interlocked.Increment(ref s_nextId);
    }

    /// <summary>The kernel that owns the description.</summary>
    public Kernel Kernel { get; }
    /// <summary>Model-wide unique identity (file object identity).</summary>
    public ulong Id { get; }
    /// <summary>f_flags.</summary>
    public int Flags { get; internal set; }
    /// <summary>f_pos.</summary>
    public long Position { get; internal set; }
    /// <summary>Current reference count (fds, mappings, LUO references).</summary>
    public int RefCount => Volatile.Read(ref _refs);
    /// <summary>True once released.</summary>
    public bool Released => Volatile.Read(ref _released);
    private bool _released;
    /// <summary>O_PATH description: most syscalls treat the fd as invalid.</summary>
    public bool IsPath => (Flags & OpenFlags.O_PATH) != 0;
    /// <summary>FMODE_READ.</summary>
    public bool CanRead => !IsPath && (Flags & OpenFlags.O_ACCMODE) is OpenFlags.O_RDONLY or OpenFlags.O_RDWR;
    /// <summary>FMODE_WRITE.</summary>
    public bool CanWrite => !IsPath && (Flags & OpenFlags.O_ACCMODE) is OpenFlags.O_WRONLY or OpenFlags.O_RDWR;
    /// <summary>What /proc/PID/fd would show (d_path).</summary>
    public abstract string PathName { get; }

    /// <summary>get_file() (f_count is an atomic: safe from any thread that holds a reference).</summary>
    public void Get()
    {
        if (Released) throw new InvalidOperationException($"get_file on released {this}");
        Interlocked.Increment(ref _refs);
    }

    /// <summary>fput(): drops one reference; the last one runs <see cref="Release"/>. Returns the release
    /// result (Frozen when the release would block forever).</summary>
    public Errno Put()
    {
        if (Released) throw new InvalidOperationException($"fput on released {this}");
        int left = Interlocked.Decrement(ref _refs);
        if (left < 0) throw new InvalidOperationException($"fput on released {this}");
        if (left > 0) return Errno.Ok;
        Errno rc = Release();
        if (rc == Errno.Frozen) { Volatile.Write(ref _refs, 1); return rc; } // the releasing task blocks; the file stays
        Volatile.Write(ref _released, true);
        return Errno.Ok;
    }

    /// <summary>The file's release op.</summary>
    protected virtual Errno Release() => Errno.Ok;

    /// <summary>unlocked_ioctl; files without one give ENOTTY.</summary>
    internal virtual long Ioctl(Process p, uint cmd, ulong arg) => -(long)Errno.ENOTTY;

    /// <inheritdoc/>
    public override string ToString() => $"{PathName} (file #{Id})";
}

/// <summary>/dev/null: a character device no LUO handler accepts.</summary>
public sealed class DevNullFile : OpenFile
{
    internal DevNullFile(Kernel kernel, int flags) : base(kernel, flags) { }
    /// <inheritdoc/>
    public override string PathName => "/dev/null";
}

/// <summary>An O_PATH description of any path (luo.md §3.6 step 3: such fds count as invalid).</summary>
public sealed class PathFile : OpenFile
{
    private readonly string _path;
    internal PathFile(Kernel kernel, string path, int flags) : base(kernel, flags) => _path = path;
    /// <inheritdoc/>
    public override string PathName => _path;
}

/// <summary>A file accepted by <see cref="TestFileHandler"/> (model-only syscall
/// <see cref="Kernel.CreateTestFile"/>). <see cref="Payload"/> becomes the serialized data.</summary>
public sealed class TestFile : OpenFile
{
    internal TestFile(Kernel kernel, ulong payload, string tag) : base(kernel, OpenFlags.O_RDWR)
    {
        Payload = payload;
        Tag = tag;
    }

    /// <summary>Value handed to the next kernel (serialized_data at preserve).</summary>
    public ulong Payload { get; set; }
    /// <summary>Label used in the handler's op log.</summary>
    public string Tag { get; }
    /// <summary>Per-file freeze failure (Ok = succeed).</summary>
    public Errno FailFreeze { get; set; }
    /// <summary>Per-file can_finish refusal.</summary>
    public bool RefuseFinish { get; set; }
    /// <summary>Per-file can_preserve refusal (then no handler takes it: ENOENT).</summary>
    public bool RefusePreserve { get; set; }
    /// <inheritdoc/>
    public override string PathName => $"anon_inode:[luo_test] {Tag}";
}
