using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of the `kernel` chunk in Kernel.cs, Kernel.Files.cs,
/// Kernel.Boot.cs and OpenFile.cs: argument and dead-kernel checks of every syscall, dup/dup2/dup3/fcntl/ioctl
/// close-on-exec handling (dup(2), fcntl(2), ioctl_fionclex), EMFILE paths that must drop their reference, the
/// F_ADD_SEALS EBUSY rule (memfd_create(2)), pid allocation, fork/exit/setsid/setrlimit and the open file
/// description's reference counting.</summary>
public class SyscallSurvivorTests : LuoTestBase
{
    private const int NullRw = OpenFlags.O_RDWR;

    private int OpenNull(int flags = NullRw)
    {
        long fd = K.Open(P, "/dev/null", flags);
        Assert.True(fd >= 0, $"open /dev/null = {fd}");
        return (int)fd;
    }

    /// <summary>A description whose release result is chosen by the test; it can also drop a reference to
    /// itself from inside its release (a second fput while the first is running).</summary>
    private sealed class ReleaseProbe(Kernel.Kernel k) : OpenFile(k, OpenFlags.O_RDWR)
    {
        public Errno Result { get; set; }
        public bool PutFromRelease { get; set; }
        public InvalidOperationException? Reentry { get; private set; }
        public override string PathName => "probe";

        protected override Errno Release()
        {
            if (PutFromRelease)
            {
                PutFromRelease = false;
                try { Put(); }
                catch (InvalidOperationException e) { Reentry = e; }
            }
            return Result;
        }
    }

    // ----- argument checks and a dead kernel -----

    [Fact]
    public void Syscalls_reject_a_null_process_or_name_before_touching_anything()
    {
        int fd = OpenNull();
        Assert.Throws<ArgumentNullException>("p", () => K.Open(null!, "/dev/null", NullRw));
        Assert.Throws<ArgumentNullException>("path", () => K.Open(P, null!, NullRw));
        Assert.Throws<ArgumentNullException>("p", () => K.Dup(null!, fd));
        Assert.Throws<ArgumentNullException>("p", () => K.Dup2(null!, fd, fd));
        Assert.Throws<ArgumentNullException>("p", () => K.Dup3(null!, fd, fd + 1, 0));
        Assert.Throws<ArgumentNullException>("p", () => K.Fcntl(null!, fd, FcntlCmd.F_GETFD));
        Assert.Throws<ArgumentNullException>("p", () => K.Ioctl(null!, fd, FcntlCmd.FIOCLEX, 0));
        Assert.Throws<ArgumentNullException>("from", () => K.PassFd(null!, fd, P));
        Assert.Throws<ArgumentNullException>("to", () => K.PassFd(P, fd, null!));
        Assert.Throws<ArgumentNullException>("p", () => K.MemfdCreate(null!, "m", 0x100));
        Assert.Throws<ArgumentNullException>("name", () => K.MemfdCreate(P, null!, 0x100));
        Assert.Throws<ArgumentNullException>("p", () => K.Munmap(null!, 0, 0));
        Assert.Throws<ArgumentNullException>("parent", () => K.Fork(null!));
        Assert.Throws<ArgumentNullException>("p", () => K.Exit(null!));
        Assert.Throws<ArgumentNullException>("p", () => K.Setsid(null!));
        Assert.Throws<ArgumentNullException>("p", () => K.GetrlimitNofile(null!, out _, out _));
        Assert.Throws<ArgumentNullException>("p", () => K.Reboot(null!, Kernel.Kernel.LINUX_REBOOT_CMD_RESTART));
        Assert.Equal([fd], P.OpenFds);
    }

    [Fact]
    public void Every_syscall_of_a_kexeced_kernel_is_a_model_usage_error()
    {
        int fd = OpenNull();
        var old = K;
        var oldP = P;
        KexecNext();
        Assert.Equal(KernelState.Kexeced, old.State);
        var ex = Assert.Throws<InvalidOperationException>(() => old.Open(oldP, "/nonexistent", NullRw));
        Assert.Equal("kernel boot 1 is Kexeced; model-usage error", ex.Message);
        Assert.Throws<InvalidOperationException>(() => old.Close(oldP, fd));
        Assert.Throws<InvalidOperationException>(() => old.Dup(oldP, fd));
        Assert.Throws<InvalidOperationException>(() => old.Dup3(oldP, fd, 9, 0));
        Assert.Throws<InvalidOperationException>(() => old.Fcntl(oldP, fd, FcntlCmd.F_GETFD));
        Assert.Throws<InvalidOperationException>(() => old.Ioctl(oldP, fd, FcntlCmd.FIOCLEX, 0));
        Assert.Throws<InvalidOperationException>(() => old.PassFd(oldP, fd, oldP));
        Assert.Throws<InvalidOperationException>(() => old.MemfdCreate(oldP, "m", 0x100));
        Assert.Throws<InvalidOperationException>(() => old.Munmap(oldP, UserMemory.MapBase, 0));
        Assert.Throws<InvalidOperationException>(() => old.Fork(oldP));
        Assert.Throws<InvalidOperationException>(() => old.Setsid(oldP));
        Assert.Throws<InvalidOperationException>(() => old.SetrlimitNofile(oldP, 10, 10));
        Assert.Throws<InvalidOperationException>(() => old.Reboot(oldP, Kernel.Kernel.LINUX_REBOOT_CMD_RESTART));
        Assert.Throws<InvalidOperationException>(() => old.CreateTestFile(oldP, 1));
        Assert.Throws<InvalidOperationException>(() => old.Exit(oldP));
        Assert.Equal([fd], oldP.OpenFds);                 // nothing ran
        Assert.False(oldP.IsCloseOnExec(fd));
        Assert.False(oldP.Exited);
    }

    [Fact]
    public void Kexec_needs_a_successful_reboot_first()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => K.Kexec());
        Assert.Equal("kexec needs a successful reboot(KEXEC) first (state Running)", ex.Message);
        Assert.Equal(KernelState.Running, K.State);
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(2, K.Kexec().BootNumber);
    }

    [Fact]
    public void Locks_are_named_after_their_kernel_symbols()
    {
        Assert.Equal("model:mm", K.Mm.Name);
        var rec = new RecordingScheduler();
        KernelScheduler.Current = rec;
        try { Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC)); }
        finally { KernelScheduler.Current = null; }
        Assert.Contains("system_transition_mutex", rec.Yields.OfType<KernelMutex>().Select(m => m.Name));
    }

    [Fact]
    public void Boot_from_handoff_uses_the_given_config()
    {
        var cfg = new KernelConfig { DramBytes = 1UL << 30, NofileSoft = 77 };
        var k = Kernel.Kernel.BootFromHandoff(new PhysicalArena(1UL << 30), null, cfg, bootNumber: 5);
        Assert.Same(cfg, k.Config);
        Assert.Equal(5, k.BootNumber);
        Assert.Equal(77UL, k.CreateProcess().NofileSoft);
    }

    // ----- open / dup / dup2 / dup3 -----

    [Fact]
    public void Dup_takes_the_lowest_free_number_even_zero_and_clears_close_on_exec()
    {
        int fd = OpenNull(NullRw | OpenFlags.O_CLOEXEC);
        Assert.Equal(0, fd);
        Assert.True(P.IsCloseOnExec(fd));
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, fd, FcntlCmd.F_GETFD));
        Assert.Equal(5, K.Dup2(P, fd, 5));
        Assert.Equal(0, K.Close(P, 0));
        Assert.Equal(0, K.Dup(P, 5));                     // number 0 is a valid result
        Assert.False(P.IsCloseOnExec(0));
        Assert.Equal(0, K.Fcntl(P, 0, FcntlCmd.F_GETFD));
        Assert.Same(P.FileOf(5), P.FileOf(0));
    }

    [Fact]
    public void Emfile_from_dup_fdupfd_and_fd_passing_keeps_the_reference_count()
    {
        int fd = OpenNull();
        var f = P.FileOf(fd)!;
        Assert.Equal(0, K.SetrlimitNofile(P, 1, 1));
        Assert.Equal(E(Errno.EMFILE), K.Dup(P, fd));
        Assert.Equal(E(Errno.EMFILE), K.Fcntl(P, fd, FcntlCmd.F_DUPFD, 0));
        Assert.Equal(E(Errno.EMFILE), K.PassFd(P, fd, P));
        Assert.Equal(1, f.RefCount);
        Assert.Equal(0, K.Close(P, fd));
        Assert.True(f.Released);
    }

    [Fact]
    public void Dup2_onto_itself_checks_the_fd()
    {
        Assert.Equal(E(Errno.EBADF), K.Dup2(P, 7, 7));
        int fd = OpenNull();
        Assert.Equal(fd, K.Dup2(P, fd, fd));
        Assert.Equal([fd], P.OpenFds);
    }

    [Fact]
    public void Dup3_accepts_only_O_CLOEXEC_and_any_target_number_from_zero()
    {
        int a = OpenNull();
        int b = OpenNull();
        Assert.Equal(0, K.Close(P, a));
        Assert.Equal(E(Errno.EINVAL), K.Dup3(P, b, 0, OpenFlags.O_WRONLY));
        Assert.Equal(E(Errno.EBADF), K.Dup3(P, b, -1, 0));
        Assert.Equal(0, K.Dup3(P, b, 0, 0));
        Assert.False(P.IsCloseOnExec(0));
        Assert.Equal(4, K.Dup3(P, b, 4, OpenFlags.O_CLOEXEC));
        Assert.True(P.IsCloseOnExec(4));
        Assert.Equal(4, K.Dup3(P, b, 4, 0));              // replacing clears it again
        Assert.False(P.IsCloseOnExec(4));
        Assert.Equal([0, 1, 4], P.OpenFds);
    }

    // ----- fcntl / ioctl close-on-exec -----

    [Fact]
    public void F_SETFD_takes_only_the_FD_CLOEXEC_bit()
    {
        int fd = OpenNull();
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_GETFD));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_SETFD, FcntlCmd.FD_CLOEXEC));
        Assert.Equal(FcntlCmd.FD_CLOEXEC, K.Fcntl(P, fd, FcntlCmd.F_GETFD));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_SETFD, 0));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_GETFD));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_SETFD, 2));   // other bits are ignored
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_GETFD));
        Assert.False(P.IsCloseOnExec(fd));
    }

    [Fact]
    public void FIOCLEX_sets_and_FIONCLEX_clears_close_on_exec()
    {
        int fd = OpenNull();
        Assert.Equal(0, K.Ioctl(P, fd, FcntlCmd.FIOCLEX, 0));
        Assert.True(P.IsCloseOnExec(fd));
        Assert.Equal(0, K.Ioctl(P, fd, FcntlCmd.FIONCLEX, 0));
        Assert.False(P.IsCloseOnExec(fd));
        Assert.Equal(1, P.FileOf(fd)!.RefCount);         // the ioctl's own reference is dropped
    }

    // ----- F_ADD_SEALS -----

    [Fact]
    public void Only_a_new_write_seal_is_refused_while_any_process_maps_the_memfd_writable()
    {
        var other = K.CreateProcess();                    // maps nothing: one process suffices for EBUSY
        Assert.Equal(2, K.Processes.Count);
        int fd = (int)K.MemfdCreate(P, "sealme", MemfdConsts.MFD_ALLOW_SEALING);
        Assert.Equal(0, K.Ftruncate(P, fd, UserMemory.PageSize));
        long addr = K.Mmap(P, UserMemory.PageSize, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd, 0);
        Assert.True(addr > 0);
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_GROW)); // adding it again keeps it
        Assert.Equal(Seals.F_SEAL_GROW, K.Fcntl(P, fd, FcntlCmd.F_GET_SEALS));
        Assert.Equal(E(Errno.EBUSY), K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_WRITE));
        Assert.Equal(Seals.F_SEAL_GROW, K.Fcntl(P, fd, FcntlCmd.F_GET_SEALS));
        Assert.Equal(0, K.Munmap(P, (ulong)addr, UserMemory.PageSize));
        Assert.Equal(0, K.Fcntl(P, fd, FcntlCmd.F_ADD_SEALS, Seals.F_SEAL_WRITE | Seals.F_SEAL_GROW));
        Assert.Equal(Seals.F_SEAL_GROW | Seals.F_SEAL_WRITE, K.Fcntl(P, fd, FcntlCmd.F_GET_SEALS));
        Assert.Empty(other.OpenFds);
    }

    // ----- processes -----

    [Fact]
    public void Pids_ascend_across_create_process_and_fork()
    {
        Assert.Equal(1, P.Pid);
        var q = K.CreateProcess();
        var child = K.Fork(P);
        var r = K.CreateProcess();
        Assert.Equal([1, 2, 3, 4], new[] { P.Pid, q.Pid, child.Pid, r.Pid });
        Assert.Equal([P, q, child, r], K.Processes);
    }

    [Fact]
    public void Fork_inherits_session_and_privilege_and_setsid_needs_a_non_leader()
    {
        var q = K.CreateProcess();
        q.Privileged = false;
        var child = K.Fork(q);
        Assert.Equal(q.Sid, child.Sid);
        Assert.NotEqual(child.Pid, child.Sid);
        Assert.False(child.Privileged);
        Assert.Equal(E(Errno.EPERM), K.Setsid(q));        // already leader of its own session
        Assert.Equal(child.Pid, K.Setsid(child));
        Assert.Equal(child.Pid, child.Sid);
        Assert.Equal(E(Errno.EPERM), K.Setsid(child));
        Assert.True(K.Fork(P).Privileged);
    }

    [Fact]
    public void Fork_and_exit_take_and_drop_the_mapping_references()
    {
        int fd = (int)K.MemfdCreate(P, "shared", 0);
        Assert.Equal(0, K.Ftruncate(P, fd, 2 * UserMemory.PageSize));
        var f = P.FileOf(fd)!;
        long addr = K.Mmap(P, 2 * UserMemory.PageSize, Prot.Read | Prot.Write, MemfdConsts.MAP_SHARED, fd, 0);
        Assert.Equal(3, f.RefCount);                      // the fd and one per mapped page
        var child = K.Fork(P);
        Assert.Contains(child, K.Processes);
        Assert.Equal(6, f.RefCount);
        K.Exit(child);
        Assert.True(child.Exited);
        Assert.DoesNotContain(child, K.Processes);
        Assert.Equal(3, f.RefCount);
        K.Exit(child);                                    // a second exit is a no-op
        Assert.Equal(3, f.RefCount);
        Assert.Equal(0, K.Close(P, fd));
        Assert.Equal(0, K.Munmap(P, (ulong)addr, 2 * UserMemory.PageSize));
        Assert.True(f.Released);
    }

    [Fact]
    public void Setrlimit_keeps_an_unchanged_hard_limit_allowed_without_privilege()
    {
        P.Privileged = false;
        ulong hard = P.NofileHard;
        Assert.Equal(0, K.SetrlimitNofile(P, 100, hard));
        Assert.Equal(E(Errno.EPERM), K.SetrlimitNofile(P, 100, hard + 1));
        Assert.Equal(0, K.GetrlimitNofile(P, out ulong soft, out ulong h));
        Assert.Equal((100UL, hard), (soft, h));
    }

    [Fact]
    public void Test_files_open_without_close_on_exec_and_show_their_tag()
    {
        long fd = K.CreateTestFile(P, 0x2a);
        Assert.True(fd >= 0);
        Assert.False(P.IsCloseOnExec((int)fd));
        Assert.Equal("anon_inode:[luo_test] test-2a", P.FdPath((int)fd));
    }

    // ----- open file descriptions -----

    [Fact]
    public void Access_mode_decides_read_and_write()
    {
        ulong buf = UserBuf(new byte[16]);
        int wo = OpenNull(OpenFlags.O_WRONLY);
        int ro = OpenNull(OpenFlags.O_RDONLY);
        int rw = OpenNull(OpenFlags.O_RDWR);
        Assert.Equal(E(Errno.EBADF), K.Read(P, wo, buf, 16));
        Assert.Equal(16, K.Write(P, wo, buf, 16));
        Assert.Equal(E(Errno.EBADF), K.Write(P, ro, buf, 16));
        Assert.Equal(0, K.Read(P, ro, buf, 16));
        Assert.Equal(0, K.Read(P, rw, buf, 16));
        Assert.Equal(16, K.Write(P, rw, buf, 16));
        Assert.False(P.FileOf(wo)!.CanRead);
        Assert.False(P.FileOf(ro)!.CanWrite);
    }

    [Fact]
    public void Released_descriptions_refuse_get_and_put()
    {
        int fd = OpenNull();
        var f = P.FileOf(fd)!;
        Assert.Equal($"/dev/null (file #{f.Id})", f.ToString());
        Assert.Equal(0, K.Close(P, fd));
        Assert.True(f.Released);
        Assert.Equal($"get_file on released /dev/null (file #{f.Id})", Assert.Throws<InvalidOperationException>(f.Get).Message);
        Assert.Equal($"fput on released /dev/null (file #{f.Id})", Assert.Throws<InvalidOperationException>(() => f.Put()).Message);
        Assert.Equal(0, f.RefCount);                      // the refused fput dropped nothing
    }

    [Fact]
    public void A_frozen_release_keeps_the_description_with_one_reference()
    {
        var probe = new ReleaseProbe(K) { Result = Errno.Frozen };
        Assert.Equal(Errno.Frozen, probe.Put());
        Assert.Equal(1, probe.RefCount);
        Assert.False(probe.Released);
        probe.Result = Errno.Ok;
        Assert.Equal(Errno.Ok, probe.Put());
        Assert.True(probe.Released);
    }

    [Fact]
    public void A_put_while_the_release_runs_is_refused()
    {
        var probe = new ReleaseProbe(K) { PutFromRelease = true };
        Assert.Equal(Errno.Ok, probe.Put());
        Assert.NotNull(probe.Reentry);
        Assert.Equal($"fput on released probe (file #{probe.Id})", probe.Reentry.Message);
        Assert.True(probe.Released);
    }
}
