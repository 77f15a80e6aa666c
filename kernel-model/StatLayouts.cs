using System.Buffers.Binary;

namespace LuoModel.Kernel;

/// <summary>Which inode backs a session file (luo.md §7.7, §7.9 session_inode; seed 002).</summary>
public enum SessionInodeKind
{
    /// <summary>N: anon_inode_getfile() — every session shares the anon_inodefs inode, link text
    /// <c>anon_inode:[luo_session] NAME</c>, f_type ANON_INODE_FS_MAGIC.</summary>
    Anon,
    /// <summary>Seed 002 (LUOS v8): one inode of the <c>luo_session</c> pseudo-fs shared by every session,
    /// f_type 0x4c554f53, fchmod EOPNOTSUPP, link text <c>luo_session:NAME</c>.</summary>
    MagicSingleton,
    /// <summary>LUOS v9 with the reviewer's fold (seed 002 review): a fresh inode per session file with a
    /// boot-wide monotonic 64-bit number, mode 0700, S_IMMUTABLE, link text <c>luo_session:[NAME]</c> (guess).</summary>
    MagicPerSession,
}

/// <summary>Filesystem magics and mode bits (include/uapi/linux/magic.h, include/uapi/linux/stat.h).</summary>
public static class VfsConsts
{
    /// <summary>ANON_INODE_FS_MAGIC.</summary>
    public const long AnonInodeFsMagic = 0x09041934;
    /// <summary>LUO_SESSION_MAGIC ("LUOS", seed 002).</summary>
    public const long LuoSessionMagic = 0x4c554f53;
    /// <summary>TMPFS_MAGIC (shmem: memfds, devtmpfs).</summary>
    public const long TmpfsMagic = 0x01021994;
    /// <summary>HUGETLBFS_MAGIC (hugetlb memfds).</summary>
    public const long HugetlbfsMagic = 0x958458f6;
    /// <summary>S_IFMT.</summary>
    public const uint S_IFMT = 0xF000;
    /// <summary>S_IFREG.</summary>
    public const uint S_IFREG = 0x8000;
    /// <summary>S_IFCHR.</summary>
    public const uint S_IFCHR = 0x2000;
    /// <summary>S_IALLUGO: the bits chmod may change (07777).</summary>
    public const uint S_IALLUGO = 0xFFF;
    /// <summary>S_IXUGO (0111).</summary>
    public const uint S_IXUGO = 0x49;
    /// <summary>NAME_MAX (f_namelen of every filesystem the model has).</summary>
    public const int NameMax = 255;
    /// <summary>ST_VALID (f_flags is meaningful).</summary>
    public const long ST_VALID = 0x20;
    /// <summary>ST_RELATIME.</summary>
    public const long ST_RELATIME = 0x1000;
    /// <summary>Size of the temporary buffer of dynamic_dname() (fs/d_path.c): d_dname link texts of 64 bytes
    /// or more (with the NUL) give ENAMETOOLONG.</summary>
    public const int DynamicDnameMax = 64;

    /// <summary>new_encode_dev(): the dev_t encoding of struct stat on x86-64.</summary>
    public static ulong EncodeDev(uint major, uint minor) => (minor & 0xFF) | (major << 8) | ((ulong)(minor & ~0xFFu) << 12);
}

/// <summary>What fstat reports (struct kstat as the model fills it).</summary>
/// <param name="Dev">st_dev (already encoded, <see cref="VfsConsts.EncodeDev"/>).</param>
/// <param name="Ino">st_ino.</param>
/// <param name="Nlink">st_nlink.</param>
/// <param name="Mode">st_mode (type and permission bits).</param>
/// <param name="Rdev">st_rdev (encoded).</param>
/// <param name="Size">st_size.</param>
/// <param name="Blksize">st_blksize.</param>
/// <param name="Blocks">st_blocks (512-byte units).</param>
public readonly record struct KernelStat(ulong Dev, ulong Ino, ulong Nlink, uint Mode, ulong Rdev, long Size, long Blksize, long Blocks)
{
    /// <summary>sizeof(struct stat) on x86-64.</summary>
    public const int Size64 = 144;
    /// <summary>st_dev u64.</summary>
    public const int DevOffset = 0;
    /// <summary>st_ino u64.</summary>
    public const int InoOffset = 8;
    /// <summary>st_nlink u64 (x86-64 puts nlink before mode).</summary>
    public const int NlinkOffset = 16;
    /// <summary>st_mode u32.</summary>
    public const int ModeOffset = 24;
    /// <summary>st_uid u32.</summary>
    public const int UidOffset = 28;
    /// <summary>st_gid u32.</summary>
    public const int GidOffset = 32;
    /// <summary>__pad0 u32 (zero).</summary>
    public const int Pad0Offset = 36;
    /// <summary>st_rdev u64.</summary>
    public const int RdevOffset = 40;
    /// <summary>st_size s64.</summary>
    public const int SizeOffset = 48;
    /// <summary>st_blksize s64.</summary>
    public const int BlksizeOffset = 56;
    /// <summary>st_blocks s64.</summary>
    public const int BlocksOffset = 64;
    /// <summary>st_atime, st_atime_nsec (u64 each).</summary>
    public const int AtimeOffset = 72;
    /// <summary>st_mtime, st_mtime_nsec.</summary>
    public const int MtimeOffset = 88;
    /// <summary>st_ctime, st_ctime_nsec.</summary>
    public const int CtimeOffset = 104;
    /// <summary>__unused[3] (zero).</summary>
    public const int UnusedOffset = 120;

    /// <summary>Writes the 144-byte x86-64 struct stat (uid, gid, padding and the three timestamps are zero:
    /// the model runs as root and has no clock).</summary>
    public void WriteTo(Span<byte> b)
    {
        if (b.Length < Size64) throw new ArgumentException("struct stat needs 144 bytes", nameof(b));
        b[..Size64].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(b[DevOffset..], Dev);
        BinaryPrimitives.WriteUInt64LittleEndian(b[InoOffset..], Ino);
        BinaryPrimitives.WriteUInt64LittleEndian(b[NlinkOffset..], Nlink);
        BinaryPrimitives.WriteUInt32LittleEndian(b[ModeOffset..], Mode);
        BinaryPrimitives.WriteUInt64LittleEndian(b[RdevOffset..], Rdev);
        BinaryPrimitives.WriteInt64LittleEndian(b[SizeOffset..], Size);
        BinaryPrimitives.WriteInt64LittleEndian(b[BlksizeOffset..], Blksize);
        BinaryPrimitives.WriteInt64LittleEndian(b[BlocksOffset..], Blocks);
    }

    /// <summary>Parses the fields the model fills from a 144-byte struct stat.</summary>
    public static KernelStat ReadFrom(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(b[DevOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(b[InoOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[NlinkOffset..]), BinaryPrimitives.ReadUInt32LittleEndian(b[ModeOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[RdevOffset..]), BinaryPrimitives.ReadInt64LittleEndian(b[SizeOffset..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[BlksizeOffset..]), BinaryPrimitives.ReadInt64LittleEndian(b[BlocksOffset..]));
}

/// <summary>What fstatfs reports (struct kstatfs as the model fills it).</summary>
/// <param name="Type">f_type (filesystem magic).</param>
/// <param name="Bsize">f_bsize.</param>
/// <param name="Blocks">f_blocks.</param>
/// <param name="Bfree">f_bfree.</param>
/// <param name="Bavail">f_bavail.</param>
/// <param name="Files">f_files.</param>
/// <param name="Ffree">f_ffree.</param>
/// <param name="Fsid">f_fsid (two s32 words as one u64, low word first).</param>
/// <param name="Namelen">f_namelen.</param>
/// <param name="Frsize">f_frsize.</param>
/// <param name="Flags">f_flags (ST_*).</param>
public readonly record struct KernelStatfs(long Type, long Bsize, ulong Blocks, ulong Bfree, ulong Bavail, ulong Files, ulong Ffree,
    ulong Fsid, long Namelen, long Frsize, long Flags)
{
    /// <summary>sizeof(struct statfs) on x86-64.</summary>
    public const int Size64 = 120;
    /// <summary>f_type s64.</summary>
    public const int TypeOffset = 0;
    /// <summary>f_bsize s64.</summary>
    public const int BsizeOffset = 8;
    /// <summary>f_blocks u64.</summary>
    public const int BlocksOffset = 16;
    /// <summary>f_bfree u64.</summary>
    public const int BfreeOffset = 24;
    /// <summary>f_bavail u64.</summary>
    public const int BavailOffset = 32;
    /// <summary>f_files u64.</summary>
    public const int FilesOffset = 40;
    /// <summary>f_ffree u64.</summary>
    public const int FfreeOffset = 48;
    /// <summary>f_fsid int[2].</summary>
    public const int FsidOffset = 56;
    /// <summary>f_namelen s64.</summary>
    public const int NamelenOffset = 64;
    /// <summary>f_frsize s64.</summary>
    public const int FrsizeOffset = 72;
    /// <summary>f_flags s64.</summary>
    public const int FlagsOffset = 80;
    /// <summary>f_spare[4] (zero).</summary>
    public const int SpareOffset = 88;

    /// <summary>Writes the 120-byte x86-64 struct statfs.</summary>
    public void WriteTo(Span<byte> b)
    {
        if (b.Length < Size64) throw new ArgumentException("struct statfs needs 120 bytes", nameof(b));
        b[..Size64].Clear();
        BinaryPrimitives.WriteInt64LittleEndian(b[TypeOffset..], Type);
        BinaryPrimitives.WriteInt64LittleEndian(b[BsizeOffset..], Bsize);
        BinaryPrimitives.WriteUInt64LittleEndian(b[BlocksOffset..], Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(b[BfreeOffset..], Bfree);
        BinaryPrimitives.WriteUInt64LittleEndian(b[BavailOffset..], Bavail);
        BinaryPrimitives.WriteUInt64LittleEndian(b[FilesOffset..], Files);
        BinaryPrimitives.WriteUInt64LittleEndian(b[FfreeOffset..], Ffree);
        BinaryPrimitives.WriteUInt64LittleEndian(b[FsidOffset..], Fsid);
        BinaryPrimitives.WriteInt64LittleEndian(b[NamelenOffset..], Namelen);
        BinaryPrimitives.WriteInt64LittleEndian(b[FrsizeOffset..], Frsize);
        BinaryPrimitives.WriteInt64LittleEndian(b[FlagsOffset..], Flags);
    }

    /// <summary>Parses a 120-byte struct statfs.</summary>
    public static KernelStatfs ReadFrom(ReadOnlySpan<byte> b) => new(
        BinaryPrimitives.ReadInt64LittleEndian(b[TypeOffset..]), BinaryPrimitives.ReadInt64LittleEndian(b[BsizeOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[BlocksOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(b[BfreeOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[BavailOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(b[FilesOffset..]),
        BinaryPrimitives.ReadUInt64LittleEndian(b[FfreeOffset..]), BinaryPrimitives.ReadUInt64LittleEndian(b[FsidOffset..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[NamelenOffset..]), BinaryPrimitives.ReadInt64LittleEndian(b[FrsizeOffset..]),
        BinaryPrimitives.ReadInt64LittleEndian(b[FlagsOffset..]));
}
