using System.Buffers.Binary;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>
/// The 15 TEST_F bodies of liveupdate.c (scenarios.md A1, A2, B1–B6, C1–C5, H1, H2), each making the same
/// calls in the same order with the same ASSERT/EXPECT semantics as the C test.
/// </summary>
internal static class LiveupdateTests
{
    private const int ReadBufSize = 64;

    public static IReadOnlyList<LiveupdateTest> All { get; } =
    [
        new("basic_open_close", 1, BasicOpenClose),
        new("exclusive_open", 2, ExclusiveOpen),
        new("create_duplicate_session", 3, CreateDuplicateSession),
        new("create_distinct_sessions", 4, CreateDistinctSessions),
        new("preserve_memfd", 5, PreserveMemfd),
        new("preserve_multiple_memfds", 6, PreserveMultipleMemfds),
        new("preserve_complex_scenario", 7, PreserveComplexScenario),
        new("preserve_unsupported_fd", 8, PreserveUnsupportedFd),
        new("prevent_double_preservation", 9, PreventDoublePreservation),
        new("create_session_no_null_termination", 10, CreateSessionNoNullTermination),
        new("create_session_empty_name", 11, CreateSessionEmptyName),
        new("get_session_name", 12, GetSessionName),
        new("get_session_name_max_length", 13, GetSessionNameMaxLength),
        new("preserve_many_sessions", 14, PreserveManySessions),
        new("preserve_many_files", 15, PreserveManyFiles),
    ];

    public static LiveupdateTest Get(string name) => All.First(t => t.Name == name);

    private static long Create(HarnessTestContext t, string name) => LibLiveupdate.CreateSession(t.Program, t.Fd1, name);

    private static long Preserve(HarnessTestContext t, long session, long fd, ulong token) =>
        LibLiveupdate.PreserveFd(t.Program, (int)session, (int)fd, token);

    private static long Memfd(HarnessTestContext t, string name) => t.Sys.MemfdCreate(t.P, name, 0);

    private static long Close(HarnessTestContext t, long fd) => t.Sys.Close(t.P, (int)fd);

    /// <summary>lseek to 0, read 64 bytes into a zeroed buffer, compare as a C string.</summary>
    private static bool ReadBack(HarnessTestContext t, string what, long fd, string text)
    {
        if (!t.Assert($"lseek({what}, 0, SEEK_SET)", Want.Zero, t.Sys.Lseek(t.P, (int)fd, 0, MemfdConsts.SEEK_SET))) return false;
        long n = t.Sys.Read(t.P, (int)fd, ReadBufSize, out byte[] data);
        if (!t.Assert($"read({what}, 64)", Want.Eq(Encoding.ASCII.GetByteCount(text)), n)) return false;
        return t.AssertStr($"read_buf of {what}", text, LibLiveupdate.CString(data));
    }

    private static void BasicOpenClose(HarnessTestContext t)
    {
        if (!t.OpenDevice(period: true)) return;
        if (!t.Assert("close(fd1)", Want.Zero, Close(t, t.Fd1))) return;
        t.Fd1 = -1;
    }

    private static void ExclusiveOpen(HarnessTestContext t)
    {
        if (!t.OpenDevice(period: true)) return;
        long fd2 = t.Sys.Open(t.P, LibLiveupdate.DevicePath, OpenFlags.O_RDWR);
        t.Fd2 = fd2 < 0 ? -1 : (int)fd2;
        t.Expect("second open of /dev/liveupdate", Want.Negative, fd2);
        t.Expect("errno after the second open", Want.Eq((long)Errno.EBUSY), HarnessTestContext.ErrnoAfter(fd2));
    }

    private static void CreateDuplicateSession(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        long s1 = Create(t, "duplicate-session-test");
        if (!t.Assert("luo_create_session(\"duplicate-session-test\")", Want.Fd, s1)) return;
        long s2 = Create(t, "duplicate-session-test");
        t.Expect("second luo_create_session(\"duplicate-session-test\")", Want.Negative, s2);
        t.Expect("-session_fd2", Want.Eq((long)Errno.EEXIST), -s2);
        t.Assert("close(session_fd1)", Want.Zero, Close(t, s1));
    }

    private static void CreateDistinctSessions(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        long s1 = Create(t, "distinct-session-1");
        if (!t.Assert("luo_create_session(\"distinct-session-1\")", Want.Fd, s1)) return;
        long s2 = Create(t, "distinct-session-2");
        if (!t.Assert("luo_create_session(\"distinct-session-2\")", Want.Fd, s2)) return;
        if (!t.Assert("close(session_fd1)", Want.Zero, Close(t, s1))) return;
        t.Assert("close(session_fd2)", Want.Zero, Close(t, s2));
    }

    private static void PreserveMemfd(HarnessTestContext t)
    {
        const string text = "hello liveupdate";
        if (!t.OpenDevice()) return;
        long s = Create(t, "preserve-memfd-test");
        if (!t.Assert("luo_create_session(\"preserve-memfd-test\")", Want.Fd, s)) return;
        long m = Memfd(t, "test-memfd");
        if (!t.Assert("memfd_create(\"test-memfd\", 0)", Want.Fd, m)) return;
        if (!t.Assert("write(mem_fd, text)", Want.Eq(text.Length), t.Sys.Write(t.P, (int)m, Encoding.ASCII.GetBytes(text)))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd, mem_fd, 0x1234)", Want.Zero, Preserve(t, s, m, 0x1234))) return;
        if (!t.Assert("close(session_fd)", Want.Zero, Close(t, s))) return;
        if (!ReadBack(t, "mem_fd", m, text)) return;
        t.Assert("close(mem_fd)", Want.Zero, Close(t, m));
    }

    private static void PreserveMultipleMemfds(HarnessTestContext t)
    {
        const string text1 = "data for memfd one", text2 = "data for memfd two";
        if (!t.OpenDevice()) return;
        long s = Create(t, "preserve-multi-memfd-test");
        if (!t.Assert("luo_create_session(\"preserve-multi-memfd-test\")", Want.Fd, s)) return;
        long m1 = Memfd(t, "test-memfd-1");
        if (!t.Assert("memfd_create(\"test-memfd-1\", 0)", Want.Fd, m1)) return;
        long m2 = Memfd(t, "test-memfd-2");
        if (!t.Assert("memfd_create(\"test-memfd-2\", 0)", Want.Fd, m2)) return;
        if (!t.Assert("write(mem_fd1, text1)", Want.Eq(text1.Length), t.Sys.Write(t.P, (int)m1, Encoding.ASCII.GetBytes(text1)))) return;
        if (!t.Assert("write(mem_fd2, text2)", Want.Eq(text2.Length), t.Sys.Write(t.P, (int)m2, Encoding.ASCII.GetBytes(text2)))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd, mem_fd1, 0xAAAA)", Want.Zero, Preserve(t, s, m1, 0xAAAA))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd, mem_fd2, 0xBBBB)", Want.Zero, Preserve(t, s, m2, 0xBBBB))) return;
        if (!ReadBack(t, "mem_fd1", m1, text1)) return;
        if (!ReadBack(t, "mem_fd2", m2, text2)) return;
        if (!t.Assert("close(mem_fd1)", Want.Zero, Close(t, m1))) return;
        if (!t.Assert("close(mem_fd2)", Want.Zero, Close(t, m2))) return;
        t.Assert("close(session_fd)", Want.Zero, Close(t, s));
    }

    private static void PreserveComplexScenario(HarnessTestContext t)
    {
        const string data1 = "data for session 1", data2 = "data for session 2";
        if (!t.OpenDevice()) return;
        long s1 = Create(t, "complex-session-1");
        if (!t.Assert("luo_create_session(\"complex-session-1\")", Want.Fd, s1)) return;
        long s2 = Create(t, "complex-session-2");
        if (!t.Assert("luo_create_session(\"complex-session-2\")", Want.Fd, s2)) return;
        long d1 = Memfd(t, "data1");
        if (!t.Assert("memfd_create(\"data1\", 0)", Want.Fd, d1)) return;
        if (!t.Assert("write(mem_fd_data1, data1)", Want.Eq(data1.Length), t.Sys.Write(t.P, (int)d1, Encoding.ASCII.GetBytes(data1)))) return;
        long e1 = Memfd(t, "empty1");
        if (!t.Assert("memfd_create(\"empty1\", 0)", Want.Fd, e1)) return;
        long d2 = Memfd(t, "data2");
        if (!t.Assert("memfd_create(\"data2\", 0)", Want.Fd, d2)) return;
        if (!t.Assert("write(mem_fd_data2, data2)", Want.Eq(data2.Length), t.Sys.Write(t.P, (int)d2, Encoding.ASCII.GetBytes(data2)))) return;
        long e2 = Memfd(t, "empty2");
        if (!t.Assert("memfd_create(\"empty2\", 0)", Want.Fd, e2)) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd1, mem_fd_data1, 0x1111)", Want.Zero, Preserve(t, s1, d1, 0x1111))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd1, mem_fd_empty1, 0x2222)", Want.Zero, Preserve(t, s1, e1, 0x2222))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd2, mem_fd_data2, 0x3333)", Want.Zero, Preserve(t, s2, d2, 0x3333))) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd2, mem_fd_empty2, 0x4444)", Want.Zero, Preserve(t, s2, e2, 0x4444))) return;
        if (!ReadBack(t, "mem_fd_data1", d1, data1)) return;
        if (!ReadBack(t, "mem_fd_data2", d2, data2)) return;
        foreach (var (name, fd) in new[] { ("mem_fd_empty1", e1), ("mem_fd_empty2", e2) })
        {
            if (!t.Assert($"lseek({name}, 0, SEEK_SET)", Want.Zero, t.Sys.Lseek(t.P, (int)fd, 0, MemfdConsts.SEEK_SET))) return;
            if (!t.Assert($"read({name}, 64)", Want.Zero, t.Sys.Read(t.P, (int)fd, ReadBufSize, out _))) return;
        }
        foreach (var (name, fd) in new[] { ("mem_fd_data1", d1), ("mem_fd_empty1", e1), ("mem_fd_data2", d2), ("mem_fd_empty2", e2), ("session_fd1", s1), ("session_fd2", s2) })
            if (!t.Assert($"close({name})", Want.Zero, Close(t, fd))) return;
    }

    private static void PreserveUnsupportedFd(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        long s = Create(t, "unsupported-fd-test");
        if (!t.Assert("luo_create_session(\"unsupported-fd-test\")", Want.Fd, s)) return;
        long u = t.Sys.Open(t.P, "/dev/null", OpenFlags.O_RDWR);
        if (!t.Assert("open(\"/dev/null\", O_RDWR)", Want.Fd, u)) return;
        t.Expect("luo_session_preserve_fd(session_fd, unsupported_fd, 0xDEAD)", Want.Err(Errno.ENOENT), Preserve(t, s, u, 0xDEAD));
        if (!t.Assert("close(unsupported_fd)", Want.Zero, Close(t, u))) return;
        t.Assert("close(session_fd)", Want.Zero, Close(t, s));
    }

    private static void PreventDoublePreservation(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        long s1 = Create(t, "double-preserve-session-1");
        if (!t.Assert("luo_create_session(\"double-preserve-session-1\")", Want.Fd, s1)) return;
        long s2 = Create(t, "double-preserve-session-2");
        if (!t.Assert("luo_create_session(\"double-preserve-session-2\")", Want.Fd, s2)) return;
        long m = Memfd(t, "test-memfd");
        if (!t.Assert("memfd_create(\"test-memfd\", 0)", Want.Fd, m)) return;
        if (!t.Assert("luo_session_preserve_fd(session_fd1, mem_fd, 0x1111)", Want.Zero, Preserve(t, s1, m, 0x1111))) return;
        t.Expect("luo_session_preserve_fd(session_fd2, mem_fd, 0x2222)", Want.Err(Errno.EBUSY), Preserve(t, s2, m, 0x2222));
        t.Expect("luo_session_preserve_fd(session_fd1, mem_fd, 0x3333)", Want.Err(Errno.EBUSY), Preserve(t, s1, m, 0x3333));
        if (!t.Assert("close(mem_fd)", Want.Zero, Close(t, m))) return;
        if (!t.Assert("close(session_fd1)", Want.Zero, Close(t, s1))) return;
        t.Assert("close(session_fd2)", Want.Zero, Close(t, s2));
    }

    private static void CreateSessionNoNullTermination(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        var args = new byte[LiveupdateUapi.SessionStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(args, LiveupdateUapi.SessionStructSize);
        args.AsSpan(LiveupdateUapi.NameOffset, LiveupdateUapi.NameLength).Fill((byte)'X');
        long rc = t.Sys.Ioctl(t.P, t.Fd1, LiveupdateUapi.CreateSession, args);
        t.Expect("ioctl(CREATE_SESSION) with 64 'X' and no NUL", Want.Negative, rc);
        t.Expect("errno after the ioctl", Want.Eq((long)Errno.EINVAL), HarnessTestContext.ErrnoAfter(rc));
    }

    private static void CreateSessionEmptyName(HarnessTestContext t)
    {
        if (!t.OpenDevice()) return;
        t.Expect("luo_create_session(\"\")", Want.Err(Errno.EINVAL), Create(t, ""));
    }

    private static void GetNameCase(HarnessTestContext t, string name)
    {
        if (!t.OpenDevice()) return;
        long s = Create(t, name);
        if (!t.Assert($"luo_create_session(\"{name}\")", Want.Fd, s)) return;
        if (!t.Assert("luo_get_session_name(session_fd)", Want.Zero, LibLiveupdate.GetSessionName(t.Program, (int)s, out string got))) return;
        if (!t.AssertStr("name_buf", name, got)) return;
        t.Assert("close(session_fd)", Want.Zero, Close(t, s));
    }

    private static void GetSessionName(HarnessTestContext t) => GetNameCase(t, "get-name-test-session");

    private static void GetSessionNameMaxLength(HarnessTestContext t) => GetNameCase(t, new string('A', LiveupdateUapi.NameLength - 1));

    private static void PreserveManySessions(HarnessTestContext t)
    {
        const int many = 2000;
        if (!t.OpenDevice()) return;
        long ret = LibLiveupdate.EnsureNofileLimit(t.Program, many);
        if (ret == -(long)Errno.EPERM)
        {
            t.Skip("Insufficient privileges to set RLIMIT_NOFILE");
            return;
        }
        if (!t.Assert("luo_ensure_nofile_limit(2000)", Want.Zero, ret)) return;
        var fds = new long[many];
        for (int i = 0; i < many; i++)
        {
            string name = ProgramContext.F($"many-session-{i}");
            fds[i] = Create(t, name);
            if (!t.Assert($"luo_create_session(\"{name}\")", Want.Fd, fds[i])) return;
        }
        for (int i = 0; i < many; i++)
            if (!t.Assert(ProgramContext.F($"close(session_fds[{i}])"), Want.Zero, Close(t, fds[i]))) return;
    }

    private static void PreserveManyFiles(HarnessTestContext t)
    {
        const int many = 500;
        if (!t.OpenDevice()) return;
        long s = Create(t, "many-files-test");
        if (!t.Assert("luo_create_session(\"many-files-test\")", Want.Fd, s)) return;
        long ret = LibLiveupdate.EnsureNofileLimit(t.Program, many + 10);
        if (ret == -(long)Errno.EPERM)
        {
            t.Skip("Insufficient privileges to set RLIMIT_NOFILE");
            return;
        }
        if (!t.Assert("luo_ensure_nofile_limit(510)", Want.Zero, ret)) return;
        var fds = new long[many];
        for (int i = 0; i < many; i++)
        {
            fds[i] = Memfd(t, "test-memfd");
            if (!t.Assert(ProgramContext.F($"memfd_create(\"test-memfd\", 0) #{i}"), Want.Fd, fds[i])) return;
            if (!t.Assert(ProgramContext.F($"luo_session_preserve_fd(session_fd, mem_fds[{i}], {i})"), Want.Zero, Preserve(t, s, fds[i], (ulong)i))) return;
        }
        for (int i = 0; i < many; i++)
            if (!t.Assert(ProgramContext.F($"close(mem_fds[{i}])"), Want.Zero, Close(t, fds[i]))) return;
        t.Assert("close(session_fd)", Want.Zero, Close(t, s));
    }
}
