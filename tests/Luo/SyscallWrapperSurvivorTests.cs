using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>
/// The typed wrappers of kernel-model/LuoSyscalls.cs (the selftest helpers of scenarios.md §1.2): argument checks,
/// the scratch buffer, replies on failure, chunked read/write results and the create/restore memfd helpers'
/// cleanup. Written against the Stryker survivors of the `process` chunk (property-tests/README.md).
/// </summary>
public sealed class SyscallWrapperSurvivorTests : LuoTestBase
{
    private const int Scratch = 2 * UserMemory.PageSize;

    [Fact]
    public void Null_kernel_process_or_name_is_a_usage_error()
    {
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.Scratch(null!));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.RawIoctl(null!, P, 0, 0, new byte[8]));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.RawIoctl(K, null!, 0, 0, new byte[8]));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.OpenDevice(null!, P));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.CreateSession(K, P, 0, null!, out _));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.WriteBytes(null!, P, 0, [1]));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.ReadBytes(null!, P, 0, 1, out _));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.CreateAndPreserveMemfd(null!, P, 0, 1, "x"));
        Assert.Throws<ArgumentNullException>(() => LuoSyscalls.RestoreAndVerifyMemfd(null!, P, 0, 1, "x"));
    }

    [Fact]
    public void The_scratch_buffer_is_two_mapped_pages_per_process_and_bounds_the_struct_size()
    {
        ulong a = LuoSyscalls.Scratch(P);
        Assert.Equal(a, LuoSyscalls.Scratch(P));
        Assert.True(P.Memory.IsReadable(a) && P.Memory.IsReadable(a + Scratch - 1) && !P.Memory.IsReadable(a + Scratch));
        int dev = OpenDev();
        var b = new byte[Scratch];                       // a whole-scratch CREATE_SESSION: zero tail, so accepted
        BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)b.Length);
        "big"u8.CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, b));
        Assert.True(BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset)) > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, new byte[Scratch + 1]));
    }

    [Fact]
    public void Each_raw_ioctl_starts_from_a_zeroed_scratch_buffer()
    {
        int dev = OpenDev();
        var dirty = new byte[200];
        BinaryPrimitives.WriteUInt32LittleEndian(dirty, 200);
        "a"u8.CopyTo(dirty.AsSpan(LiveupdateUapi.NameOffset));
        dirty[150] = 0xFF;                               // non-zero tail: E2BIG, and left behind in user memory
        Assert.Equal(E(Errno.E2BIG), LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, dirty));
        var b = new byte[LiveupdateUapi.SessionStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b, 200);   // claims the old size; the bytes past 72 must read as 0
        "a"u8.CopyTo(b.AsSpan(LiveupdateUapi.NameOffset));
        Assert.Equal(0, LuoSyscalls.RawIoctl(K, P, dev, LiveupdateUapi.CreateSession, b));
    }

    [Fact]
    public void A_failed_session_or_fd_command_reports_fd_minus_one()
    {
        int dev = OpenDev();
        int s = Create(dev, "dup");
        Assert.Equal(E(Errno.EEXIST), LuoSyscalls.CreateSession(K, P, dev, "dup", out int fd));
        Assert.Equal(-1, fd);
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "nope", out fd));
        Assert.Equal(-1, fd);
        KexecNext();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, OpenDev(), "dup", out int s2));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(K, P, s2, 99, out fd));
        Assert.Equal(-1, fd);
        GC.KeepAlive(s);
    }

    [Fact]
    public void Write_bytes_reports_the_bytes_written_before_a_later_chunk_fails()
    {
        long m = K.MemfdCreate(P, "w", MemfdConsts.MFD_ALLOW_SEALING);
        Assert.Equal(0, K.Ftruncate(P, (int)m, Scratch));
        Assert.Equal(0, K.Fcntl(P, (int)m, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW));
        var data = new byte[Scratch + 100];
        data.AsSpan().Fill(0x5A);
        Assert.Equal(Scratch, LuoSyscalls.WriteBytes(K, P, (int)m, data)); // the second chunk would grow the file
        Assert.Equal(E(Errno.EPERM), LuoSyscalls.WriteBytes(K, P, (int)m, data));
        Assert.Equal(0, LuoSyscalls.WriteBytes(K, P, (int)m, []));
    }

    [Fact]
    public void Read_bytes_stops_at_the_count_and_at_end_of_file()
    {
        int m = Memfd("0123456789");
        Assert.Equal(0, K.Lseek(P, m, 0, 0));
        Assert.Equal(4, LuoSyscalls.ReadBytes(K, P, m, 4, out byte[] d));
        Assert.Equal("0123", Encoding.ASCII.GetString(d));
        Assert.Equal(6, LuoSyscalls.ReadBytes(K, P, m, 100, out d));
        Assert.Equal("456789", Encoding.ASCII.GetString(d));
        Assert.Equal(0, LuoSyscalls.ReadBytes(K, P, m, 0, out d));
        Assert.Empty(d);
        Assert.Equal(E(Errno.EBADF), LuoSyscalls.ReadBytes(K, P, 77, 1, out d));
        Assert.Empty(d);
    }

    [Fact]
    public void Create_and_preserve_memfd_leaves_no_fd_and_no_mapping_and_names_the_memfd_test_mfd()
    {
        var p = K.CreateProcess();
        P = p;
        int dev = OpenDev();                            // fd 0
        int s = Create(dev, "c");                       // fd 1
        Assert.Equal(0, K.Close(p, dev));               // so the helper's memfd gets fd 0
        int mapped = p.Memory.MappedPages;
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, p, s, 5, "hello"));
        Assert.Null(p.FileOf(0));                       // the memfd was closed
        Assert.Equal(mapped, p.Memory.MappedPages);     // the helper's shared mapping was unmapped again
        var f = Assert.Single(Assert.Single(K.Luo.Outgoing.Sessions).Files);
        var mf = Assert.IsType<MemfdFile>(f.File);
        Assert.Equal("test_mfd", mf.Inode.Name);
        Assert.Equal(UserMemory.PageSize, mf.Inode.Size);
        Assert.Equal(5UL, f.Token);
    }

    [Fact]
    public void Restore_and_verify_closes_the_fd_on_a_mismatch_and_on_a_page_it_cannot_read()
    {
        int dev = OpenDev();
        int s = Create(dev, "r");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 1, "abc"));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.MemfdCreate(P, "empty", 0), 2)); // size 0
        KexecNext();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, OpenDev(), "r", out int s2));
        int mapped = P.Memory.MappedPages;
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, 1, "abd"));
        int next = (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR);
        Assert.Equal(s2 + 1, next);                     // the retrieved fd was closed again
        Assert.Equal(0, K.Close(P, next));
        Assert.Equal(E(Errno.EFAULT), LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, 2, null)); // past i_size: SIGBUS
        Assert.Equal(s2 + 1, (int)K.Open(P, "/dev/null", OpenFlags.O_RDWR));
        Assert.Equal(mapped, P.Memory.MappedPages);     // both helper mappings were unmapped again
    }
}
