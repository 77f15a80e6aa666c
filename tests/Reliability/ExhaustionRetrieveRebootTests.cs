using LuoModel.Kernel;
using LuoModel.Kho;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// Out of memory on the far side of the handover (luo.md §3.7, §6.5) and the guarantee that reboot(KEXEC)
/// itself allocates nothing (§4.2–§4.3: it only fills slots reserved by the block sets).
/// </summary>
public class ExhaustionRetrieveRebootTests
{
    private static long E(Errno e) => ExhaustionKit.E(e);

    /// <summary>Points that stand for an allocation (slab or page) anywhere in the model.</summary>
    private static readonly FaultPoint[] AllocationPoints =
    [
        FaultPoint.SessionAlloc, FaultPoint.SessionFileAlloc, FaultPoint.SessionBlockGrow, FaultPoint.FileBlockGrow,
        FaultPoint.RegistryInsert, FaultPoint.FileRecordAlloc, FaultPoint.FlbPreserve, FaultPoint.MemfdPreserveAlloc,
        FaultPoint.MemfdFolioAlloc, FaultPoint.MemfdArrayAlloc, FaultPoint.MemfdVmallocPreserve, FaultPoint.RetrieveAlloc,
        FaultPoint.KhoAllocPreserve, FaultPoint.DeserializeSessionAlloc, FaultPoint.DeserializeFileAlloc, FaultPoint.LateInitAlloc,
    ];

    /// <summary>
    /// The new memfd of a retrieve (memfd_alloc_file, shmem inode and file: slab memory the arena does not
    /// model) cannot run out for real in the model, so this one case uses the fault injector: ENOMEM from the
    /// handler's retrieve is stored as the file's sticky status. A second RETRIEVE_FD of that token returns
    /// ENOMEM again without calling the handler (its memfd_luo_ser page is already freed, §6.5); other tokens
    /// are unaffected; FINISH still works (memfd finish skips a failed file, §6.6).
    /// </summary>
    [Fact]
    public void Retrieve_enomem_is_sticky_for_that_token_only()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        int a = x.DataMemfd(2, 1), b = x.DataMemfd(3, 2);
        byte[] db = x.Contents(b);
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, a, 0xA));
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, b, 0xB));
        x.KexecNext();
        var faults = x.K.Faults;
        int dev2 = x.OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "s", out int s2));
        faults.FailNext(FaultPoint.RetrieveAlloc, Errno.ENOMEM);
        int calls = faults.Count(FaultPoint.RetrieveAlloc);
        int fds = x.P.FdCount;
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.RetrieveFd(x.K, x.P, s2, 0xA, out _));
        Assert.Equal(calls + 1, faults.Count(FaultPoint.RetrieveAlloc));
        var fa = x.K.Luo.Incoming.Sessions[0].Files[0];
        Assert.Equal(-(int)Errno.ENOMEM, fa.RetrieveStatus);
        Assert.Equal(fds, x.P.FdCount);                         // the reserved fd was released
        faults.ClearRules();                                    // memory is back: still no retry
        for (int i = 0; i < 3; i++) Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.RetrieveFd(x.K, x.P, s2, 0xA, out _));
        Assert.Equal(calls + 1, faults.Count(FaultPoint.RetrieveAlloc));
        Assert.Equal(fds, x.P.FdCount);
        Assert.Equal(0, LuoSyscalls.RetrieveFd(x.K, x.P, s2, 0xB, out int rb));
        Assert.Equal(db, x.Contents(rb));
        Assert.Equal(0, LuoSyscalls.Finish(x.K, x.P, s2));
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(x.K, x.P, s2, 0xA, out _));
    }

    /// <summary>At a full fd table RETRIEVE_FD of a token whose retrieve failed gives EMFILE, not its sticky
    /// errno: the fd number is reserved before the file is looked up (§3.7 step 1).</summary>
    [Fact]
    public void Retrieve_fault_precedence_emfile_before_sticky()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        int s = x.Create(dev, "s");
        Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, x.DataMemfd(1, 1), 1));
        x.KexecNext();
        int dev2 = x.OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(x.K, x.P, dev2, "s", out int s2));
        x.K.Faults.FailNext(FaultPoint.RetrieveAlloc, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out _));
        Assert.Equal(0, x.K.SetrlimitNofile(x.P, (ulong)x.P.FdCount, x.P.NofileHard));
        Assert.Equal(E(Errno.EMFILE), LuoSyscalls.RetrieveFd(x.K, x.P, s2, 1, out _));   // fd reserved first (step 1)
    }

    /// <summary>
    /// Reboot in N allocates nothing: with every ordinary page in use (0 free) and sessions, files and memfds
    /// preserved, reboot(KEXEC) succeeds; the page allocator counts no allocation and the fault log shows no
    /// allocation point reached during it (only the slot reservations of §4.2/§4.3, which cannot fail for memory).
    /// The next kernel boots in the scratch regions and every memfd comes back byte-exact.
    /// </summary>
    [Fact]
    public void Reboot_at_zero_free_pages_allocates_nothing_and_hands_over_everything()
    {
        var x = new ExhaustionKit();
        int dev = x.OpenDev();
        var data = new Dictionary<(string, ulong), byte[]>();
        for (int k = 0; k < 3; k++)
        {
            int s = x.Create(dev, $"vm-{k}");
            for (int j = 0; j < 2 + k; j++)
            {
                int m = x.DataMemfd(1 + j, (byte)(16 * k + j));
                data[($"vm-{k}", (ulong)j)] = x.Contents(m);
                Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, m, (ulong)j));
            }
            int t = (int)x.K.CreateTestFile(x.P, (ulong)(0x100 + k));
            Assert.Equal(0, LuoSyscalls.PreserveFd(x.K, x.P, s, t, 0x100));
        }
        x.Exhaust();
        Assert.Equal(0, x.FreePages);
        var pages = x.K.Kho.Pages;
        long allocations = pages.Allocations;
        ulong used = pages.UsedPages;
        x.K.Faults.Logging = true;
        int logStart = x.K.Faults.Log.Count;
        Assert.Equal(0, x.K.Reboot(x.P, ModelKernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(allocations, pages.Allocations);
        Assert.Equal(used, pages.UsedPages);
        var during = x.K.Faults.Log.Skip(logStart).ToList();
        Assert.DoesNotContain(during, c => AllocationPoints.Contains(c.Point));
        Assert.Equal(3, during.Count(c => c.Point == FaultPoint.SessionReserveEntry));
        Assert.Equal(12, during.Count(c => c.Point == FaultPoint.FileReserveEntry));
        x.K.Faults.Logging = false;
        var next = x.K.Kexec();
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        var p = next.CreateProcess();
        long dev2 = LuoSyscalls.OpenDevice(next, p);
        Assert.True(dev2 >= 0);
        var y = new Reader(next, p);
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(0, LuoSyscalls.RetrieveSession(next, p, (int)dev2, $"vm-{k}", out int s));
            for (int j = 0; j < 2 + k; j++)
            {
                Assert.Equal(0, LuoSyscalls.RetrieveFd(next, p, s, (ulong)j, out int m));
                Assert.Equal(data[($"vm-{k}", (ulong)j)], y.Contents(m));
            }
            Assert.Equal(0, LuoSyscalls.RetrieveFd(next, p, s, 0x100, out _));
            Assert.Equal(0, LuoSyscalls.Finish(next, p, s));
        }
    }

    private sealed class Reader(ModelKernel k, Process p)
    {
        public byte[] Contents(int fd)
        {
            long size = k.Lseek(p, fd, 0, MemfdConsts.SEEK_END);
            k.Lseek(p, fd, 0, MemfdConsts.SEEK_SET);
            Assert.Equal(size, LuoSyscalls.ReadBytes(k, p, fd, (int)size, out var d));
            return d;
        }
    }
}
