using System.Text;
using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Session states (luo.md §2.2).</summary>
public enum SessionState
{
    /// <summary>Outgoing (CREATE_SESSION).</summary>
    Out,
    /// <summary>Incoming, not retrieved.</summary>
    InPending,
    /// <summary>Incoming, retrieved (fd exists).</summary>
    InOpen,
    /// <summary>Incoming whose implicit finish at close failed.</summary>
    InLeaked,
    /// <summary>Freed.</summary>
    Destroyed,
}

/// <summary>struct luo_file (luo.md §2.3). The kernel embeds the file's mutex in the struct; the model does the
/// same by deriving from <see cref="KernelMutex"/> (<see cref="Mutex"/> is the object itself), so a luo_file is
/// one host object, not two (the next kernel builds one per retrieved file: bench/README.md, LUO round trip).</summary>
public sealed class LuoFile : KernelMutex
{
    internal LuoFile(LiveupdateFileHandler handler, ulong token) : base("luo_file.mutex") { Handler = handler; Token = token; }
    /// <summary>fh.</summary>
    public LiveupdateFileHandler Handler { get; }
    /// <summary>file (null in the new kernel until retrieved).</summary>
    public OpenFile? File { get; internal set; }
    /// <summary>serialized_data.</summary>
    public ulong SerializedData { get; internal set; }
    /// <summary>private_data.</summary>
    public object? PrivateData { get; internal set; }
    /// <summary>token.</summary>
    public ulong Token { get; }
    /// <summary>retrieve_status: 0 not attempted, 1 retrieved, negative errno (sticky).</summary>
    public int RetrieveStatus { get; internal set; }
    /// <summary>Registry key while registered (null otherwise).</summary>
    internal object? RegistryId { get; set; }
    /// <summary>luo_file->mutex: serialises retrieve of this file (luo.md §2.3).</summary>
    internal KernelMutex Mutex => this;

    internal LiveupdateFileOpArgs Args() => new(Handler)
    {
        File = File, SerializedData = SerializedData, PrivateData = PrivateData, RetrieveStatus = RetrieveStatus, Token = Token,
    };
}

/// <summary>struct luo_session (luo.md §2.2).</summary>
public sealed class LuoSession
{
    internal LuoSession(byte[] name, SessionState state, KhoBlockSet? fileBlocks)
    {
        NameBytes = name;
        State = state;
        FileBlocks = fileBlocks;
    }

    /// <summary>name[64]: bytes up to the NUL, zero-padded.</summary>
    public byte[] NameBytes { get; }
    /// <summary>Name as text (Latin-1, up to the NUL).</summary>
    public string Name => LuoStrings.FromField(NameBytes);
    /// <summary>State.</summary>
    public SessionState State { get; internal set; }
    /// <summary>file_set: preserved files in preservation (or deserialized) order.</summary>
    internal List<LuoFile> FileList { get; } = [];
    /// <summary>Files in order.</summary>
    public IReadOnlyList<LuoFile> Files => FileList;
    /// <summary>File block set (luo-v5).</summary>
    public KhoBlockSet? FileBlocks { get; internal set; }
    /// <summary>FDT era: physical address of the lazily allocated 2-page file area (0 = none).</summary>
    public ulong FdtFileArea { get; internal set; }
    /// <summary>retrieved.</summary>
    public bool Retrieved { get; internal set; }
    /// <summary>The session's anon-inode file while it exists.</summary>
    internal SessionFile? File { get; set; }
    /// <summary>luo_session->mutex (luo.md §2.2): held by every session ioctl, the release, and the claim of
    /// RETRIEVE_SESSION.</summary>
    internal KernelMutex Mutex { get; } = new("luo_session.mutex");

    /// <summary>Builds the 64-byte zero-padded name field from text.</summary>
    public static byte[] NameField(string name)
    {
        var f = new byte[LuoSessionSer.NameLength];
        byte[] b = Encoding.Latin1.GetBytes(name);
        b.AsSpan(0, Math.Min(b.Length, 63)).CopyTo(f);
        return f;
    }

    /// <summary>Tokens of an outgoing session's files (null while it has none): an index so PRESERVE_FD's
    /// duplicate-token check (luo.md §3.6 step 1) stays O(1) with hundreds of thousands of files.</summary>
    internal HashSet<ulong>? OutTokens { get; set; }

    /// <summary>Byte-wise compare of two names up to the NUL within 64 bytes.</summary>
    internal static bool NamesEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        for (int i = 0; i < LuoSessionSer.NameLength; i++)
        {
            if (a[i] != b[i]) return false;
            if (a[i] == 0) return true;
        }
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => $"session \"{Name}\" ({State}, {FileList.Count} files)";
}

/// <summary>The anon-inode file of a session ("[luo_session] NAME").</summary>
public sealed class SessionFile : OpenFile
{
    internal SessionFile(Kernel kernel, LuoSession session) : base(kernel, OpenFlags.O_RDWR)
    {
        Session = session;
        LuosIno = kernel.AllocSessionInode();
    }

    /// <summary>session_inode=magic_per_session: this file's own inode number (luo.md §7.7); 0 otherwise.</summary>
    public ulong LuosIno { get; }

    /// <summary>The session.</summary>
    public LuoSession Session { get; }

    /// <inheritdoc/>
    public override string PathName => Encoding.Latin1.GetString(Kernel.SessionLinkBytes(Session, Kernel.Config.Luo.SessionInode));

    internal override long Ioctl(Process p, uint cmd, ulong arg) => Kernel.Luo.SessionIoctl(p, this, cmd, arg);

    /// <inheritdoc/>
    protected override Errno Release() => Kernel.Luo.SessionRelease(Session);
}

/// <summary>The /dev/liveupdate open file description.</summary>
public sealed class DeviceFile : OpenFile
{
    internal DeviceFile(Kernel kernel, int flags) : base(kernel, flags) { }

    /// <inheritdoc/>
    public override string PathName => "/dev/liveupdate";

    internal override long Ioctl(Process p, uint cmd, ulong arg) => Kernel.Luo.DeviceIoctl(p, cmd, arg);

    /// <inheritdoc/>
    protected override Errno Release()
    {
        Kernel.Luo.DeviceRelease();
        return Errno.Ok;
    }
}
