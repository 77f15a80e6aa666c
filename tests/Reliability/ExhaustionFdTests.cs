using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// A full fd table (RLIMIT_NOFILE reached, real fds): every call that installs an fd reserves the number
/// first (get_unused_fd_flags), so EMFILE comes before any other check and nothing else happens — no device
/// open and no deserialization, no session, no retrieve (luo.md §3.1, §3.4 step 2, §3.5 step 2, §3.7 step 1).
/// Calls that install nothing (PRESERVE_FD, FINISH, GET_NAME, close) keep working.
/// </summary>
public class ExhaustionFdTests
{
    private static readonly long EMFILE = ExhaustionKit.E(Errno.EMFILE);

    /// <summary>Fills the fd table of <paramref name="x"/>'s process up to a soft limit of <paramref name="limit"/>
    /// with /dev/null fds; returns them.</summary>
    private static List<int> Fill(ExhaustionKit x, ulong limit)
    {
        Assert.Equal(0, x.K.SetrlimitNofile(x.P, limit, x.P.NofileHard));
        var fds = new List<int>();
        long fd;
        while ((fd = x.K.Open(x.P, "/dev/null", OpenFlags.O_RDWR)) >= 0) fds.Add((int)fd);
        Assert.Equal(EMFILE, fd);
        Assert.Equal((int)limit, x.P.FdCount);
        return fds;
    }

    [Fact]
    public void Open_device_at_emfile_does_not_open_or_deserialize()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "a");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(x.K, x.P, s, 1, "kept"));
        x.KexecNext();
        var fds = Fill(x, 8);
        Assert.Equal(EMFILE, LuoSyscalls.OpenDevice(x.K, x.P));
        Assert.False(x.K.Luo.DeviceInUse);
        Assert.False(x.K.Luo.DeserializedOnce);               // the one-shot deserialization did not run
        Assert.Empty(x.K.Luo.Incoming.Sessions);
        Assert.Equal(EMFILE, LuoSyscalls.OpenDevice(x.K, x.P));
        // an fd comes back: open succeeds, deserializes, and the incoming session is there
        Assert.Equal(0, x.K.Close(x.P, fds[^1]));
        int dev2 = x.OpenDev();
        Assert.True(x.K.Luo.DeserializedOnce);
        Assert.Equal("a", Assert.Single(x.K.Luo.Incoming.Sessions).Name);
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "a", out _));
    }

    [Fact]
    public void Create_session_at_emfile_creates_nothing_and_beats_the_name_check()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        var fds = Fill(x, 16);
        var before = x.Snap();
        Assert.Equal(EMFILE, LuoSyscalls.CreateSession(x.K, x.P, dev, "s", out _));
        Assert.Equal(EMFILE, LuoSyscalls.CreateSession(x.K, x.P, dev, "", out _));   // step 2 before step 3 (EINVAL)
        Assert.Equal(before, x.Snap());                        // no session, no block page, no fd
        Assert.Equal(0, x.K.Close(x.P, fds[3]));
        Assert.Equal(0, LuoSyscalls.CreateSession(x.K, x.P, dev, "s", out int sfd));
        Assert.Equal(fds[3], sfd);                             // the lowest free number
        Assert.True(x.P.IsCloseOnExec(sfd));
        // the table is full again; the session works through its existing fd
        int m = x.DataMemfdAfterClose(fds[4], 1, 2);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, sfd, m, 9));
        Assert.Equal(EMFILE, x.K.MemfdCreate(x.P, "more", 0));
        Assert.Equal(0, LuoSyscalls.GetName(x.K, x.P, sfd, out string name));
        Assert.Equal("s", name);
    }

    [Fact]
    public void Retrieve_session_and_fd_at_emfile_change_nothing()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "a");
        int m = x.DataMemfd(2, 4);
        byte[] data = x.Contents(m);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, 1));
        x.KexecNext();
        int dev2 = x.OpenDev();
        var fds = Fill(x, 16);
        var before = x.Snap();
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "a", out _));
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "no-such", out _));  // before ENOENT
        Assert.Equal(before, x.Snap());
        Assert.False(x.K.Luo.Incoming.Sessions[0].Retrieved);
        Assert.Equal(0, x.K.Close(x.P, fds[5]));
        Assert.Equal(0, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "a", out int s2));
        before = x.Snap();
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out _));
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 99, out _));            // before ENOENT
        Assert.Equal(before, x.Snap());
        Assert.Equal(0, x.K.Luo.Incoming.Sessions[0].Files[0].RetrieveStatus);           // not attempted
        Assert.Equal(0, x.K.Close(x.P, fds[6]));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out int m2));
        Assert.Equal(data, x.Contents(m2));
        // a second RETRIEVE_FD of a retrieved token also needs a number: EMFILE, still retrieved once
        Assert.Equal(EMFILE, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out _));
        Assert.Equal(1, x.K.Luo.Incoming.Sessions[0].Files[0].RetrieveStatus);
        // FINISH installs nothing and works at a full table
        Assert.Equal(0, LuoSyscalls.Finish(x.K, x.P, s2));
    }

    [Fact]
    public void Memfd_create_and_dup_at_emfile()
    {
        var x = new ExhaustionKit();
        var fds = Fill(x, 10);
        int free = x.FreePages;
        Assert.Equal(EMFILE, x.K.MemfdCreate(x.P, "m", 0));
        Assert.Equal(EMFILE, x.K.Dup(x.P, fds[0]));
        Assert.Equal(ExhaustionKit.E(Errno.EBADF), x.K.Dup(x.P, 4242));                  // bad fd checked first
        Assert.Equal(EMFILE, x.K.Fcntl(x.P, fds[0], FcntlCmd.F_DUPFD, 0));
        Assert.Equal(ExhaustionKit.E(Errno.EINVAL), x.K.Fcntl(x.P, fds[0], FcntlCmd.F_DUPFD, 10)); // min ≥ limit
        Assert.Equal(ExhaustionKit.E(Errno.EBADF), x.K.Dup2(x.P, fds[0], 10));           // newfd ≥ limit
        Assert.Equal(fds[1], x.K.Dup2(x.P, fds[0], fds[1]));                              // replacing needs no slot
        Assert.Equal(10, x.P.FdCount);
        Assert.Equal(free, x.FreePages);
        Assert.Equal(0, x.K.SetrlimitNofile(x.P, 11, x.P.NofileHard));                   // resources return
        Assert.Equal(10, x.K.MemfdCreate(x.P, "m", 0));
    }
}

internal static class ExhaustionKitFdExtensions
{
    /// <summary>Closes <paramref name="slot"/> to make room for a new data memfd (which then takes it).</summary>
    public static int DataMemfdAfterClose(this ExhaustionKit x, int slot, int pages, byte seed)
    {
        Assert.Equal(0, x.K.Close(x.P, slot));
        int m = x.DataMemfd(pages, seed);
        Assert.Equal(slot, m);
        return m;
    }
}
