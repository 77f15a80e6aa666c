using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Reboot → kexec → first open → retrieve → finish (luo.md §4, §5.7, §6.5).</summary>
public class RoundTripTests : LuoTestBase
{
    [Fact]
    public void Memfd_pages_are_the_same_arena_pages_after_kexec()
    {
        int dev = OpenDev();
        int s = Create(dev, "test-session");
        int m = Memfd();
        var data = new byte[3 * 4096 + 100];
        new Random(5).NextBytes(data);
        Assert.Equal(data.Length, LuoSyscalls.WriteBytes(K, P, m, data));
        Assert.Equal(0, K.Ftruncate(P, m, 5 * 4096)); // a hole at page 4
        Assert.Equal(17, K.Lseek(P, m, 17, MemfdConsts.SEEK_SET));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, 0x1A));
        Assert.Equal(E(Errno.EPERM), K.Ftruncate(P, m, 4096));
        var inode = ((MemfdFile)P.FileOf(m)!).Inode;
        var pfns = inode.Pages.Select(x => x.Pfn).ToArray();
        Assert.Equal(5, pfns.Length); // the hole was filled at preserve
        Assert.Equal(100, K.Lseek(P, m, 100, MemfdConsts.SEEK_SET)); // pos as of freeze
        KexecNext();

        Assert.Equal(1UL, K.Luo.LiveupdateNum);
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "test-session", out int s2));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 0x1A, out int m2));
        var inode2 = ((MemfdFile)P.FileOf(m2)!).Inode;
        Assert.Equal(pfns, inode2.Pages.Select(x => x.Pfn).ToArray());
        Assert.Equal(5L * 4096, inode2.Size);
        Assert.Equal(100, K.Lseek(P, m2, 0, MemfdConsts.SEEK_CUR));
        Assert.Equal("/memfd: (deleted)", P.FdPath(m2));
        Assert.True(P.IsCloseOnExec(m2));
        K.Lseek(P, m2, 0, MemfdConsts.SEEK_SET);
        Assert.Equal(5 * 4096, LuoSyscalls.ReadBytes(K, P, m2, 8 * 4096, out var back));
        Assert.Equal(data, back.AsSpan(0, data.Length).ToArray());
        Assert.All(back.AsSpan(data.Length).ToArray(), b => Assert.Equal(0, b));
        // writes through the new memfd land in the very same arena page
        long addr = K.Mmap(P, 4096, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, m2, 0);
        Assert.True(P.Memory.TryWrite((ulong)addr, "Z"u8));
        Assert.Equal((byte)'Z', K.Arena.PageForRead(pfns[0])[0]);
        // second retrieve shares the description
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, s2, 0x1A, out int m3));
        Assert.Same(P.FileOf(m2), P.FileOf(m3));
        Assert.Equal(0, K.Close(P, m2));
        Assert.Equal(0, K.Close(P, m3));
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(K, P, s2, 0x1A, out _));
        Assert.Empty(K.Luo.RegisteredFiles);
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2)); // idempotent
        Assert.Equal(0, K.Close(P, s2));
        Assert.Empty(K.Luo.Incoming.Sessions);
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "test-session", out _));
    }

    [Fact]
    public void Selftest_helpers_round_trip_F1_and_G1_shapes()
    {
        int dev = OpenDev();
        int state = Create(dev, "kexec_multi_state");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, state, 998, "2"));
        Create(dev, "multi-test-empty-1");
        Create(dev, "multi-test-empty-2");
        int f1 = Create(dev, "multi-test-files-1");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, f1, 0x1001, "Data for session files 1"));
        int f2 = Create(dev, "multi-test-files-2");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, f2, 0x2002, "First file for session files 2"));
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, f2, 0x3003, "Second file for session files 2"));
        K.Close(P, dev);
        var child = K.Fork(P);
        K.Exit(P);
        P = child;
        KexecNext();
        dev = OpenDev();
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveSession(K, P, dev, "nope", out _));
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "kexec_multi_state", out int st));
        long fd = LuoSyscalls.RestoreAndVerifyMemfd(K, P, st, 998, "2");
        Assert.True(fd >= 0);
        K.Close(P, (int)fd);
        string[] names = ["multi-test-empty-1", "multi-test-empty-2", "multi-test-files-1", "multi-test-files-2"];
        var fds = new Dictionary<string, int>();
        foreach (var n in names) { Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, n, out int x)); fds[n] = x; }
        Assert.Equal(E(Errno.EINVAL), LuoSyscalls.RetrieveSession(K, P, dev, names[0], out _));
        foreach (var (tok, text, n) in new[] { (0x1001UL, "Data for session files 1", names[2]), (0x2002UL, "First file for session files 2", names[3]), (0x3003UL, "Second file for session files 2", names[3]) })
        {
            long r = LuoSyscalls.RestoreAndVerifyMemfd(K, P, fds[n], tok, text);
            Assert.True(r >= 0, $"{tok:x}: {r}");
            K.Close(P, (int)r);
        }
        foreach (var n in names) { Assert.Equal(0, LuoSyscalls.Finish(K, P, fds[n])); Assert.Equal(0, K.Close(P, fds[n])); }
        Assert.Equal(0, LuoSyscalls.Finish(K, P, st));
        Assert.Equal(0, K.Close(P, st));
        Assert.Empty(K.Luo.Incoming.Sessions);
    }

    [Fact]
    public void Three_boots_liveupdate_number_increments_and_data_is_carried_twice()
    {
        int dev = OpenDev();
        int s = Create(dev, "gen");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 1, "boot-1 data"));
        KexecNext();
        Assert.Equal(1UL, K.Luo.LiveupdateNum);
        Assert.Equal(2UL, K.Arena.ReadU64(K.Luo.OutRootPhys + LuoSerRoot.LiveupdateNumOffset));
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "gen", out int s2));
        long m = LuoSyscalls.RestoreAndVerifyMemfd(K, P, s2, 1, "boot-1 data");
        Assert.True(m >= 0);
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s2));
        Assert.Equal(0, K.Close(P, s2));
        // preserve the retrieved memfd again in a new session (same name is allowed: independent namespaces)
        int s3 = Create(dev, "gen");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s3, (int)m, 2));
        K.Close(P, (int)m);
        KexecNext();
        Assert.Equal(2UL, K.Luo.LiveupdateNum);
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "gen", out int s4));
        long m2 = LuoSyscalls.RestoreAndVerifyMemfd(K, P, s4, 2, "boot-1 data");
        Assert.True(m2 >= 0);
        Assert.Equal(0, LuoSyscalls.Finish(K, P, s4));
        Assert.Equal(3, K.BootNumber);
    }

    [Fact]
    public void Unretrieved_files_are_discarded_by_finish_and_pages_freed()
    {
        int dev = OpenDev();
        int s = Create(dev, "u");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 7, "lost"));
        KexecNext();
        dev = OpenDev();
        Assert.Single(K.Luo.Incoming.Sessions);
        Assert.Equal(SessionState.InPending, K.Luo.Incoming.Sessions[0].State);
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "u", out int s2));
        ulong used = K.Kho.Pages.UsedPages;
        Assert.Equal(0, K.Close(P, s2)); // implicit finish
        Assert.True(K.Kho.Pages.UsedPages < used);
        Assert.Empty(K.Luo.Incoming.Sessions);
    }
}
