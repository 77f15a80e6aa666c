using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of the `session` chunk (property-tests/README.md,
/// "Mutation testing"): mostly the FDT-era ABI (file area addressing, freeing and zeroing; hostile handed-over
/// file areas; kho_finalize), which the whole-model machine never runs, plus RETRIEVE_FD at fd 0 and its
/// reply-fault undo, FLB preserve failure, block header counts after a reserve fault and name helpers.</summary>
public class MutationSurvivorTests : LuoTestBase
{
    private static KernelConfig FdtConfig() => new() { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 }, DramBytes = 1UL << 30 };

    [Fact]
    public void Fdt_era_files_are_found_at_their_own_slots_after_kexec()
    {
        K = Kernel.Kernel.ColdBoot(FdtConfig());
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = Create(dev, "three");
        for (ulong t = 1; t <= 3; t++) Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 0x100 + t, $"file {t}"));
        KexecNext(FdtConfig());
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "three", out int rs));
        for (ulong t = 3; t >= 1; t--) Assert.True(LuoSyscalls.RestoreAndVerifyMemfd(K, P, rs, 0x100 + t, $"file {t}") >= 0, $"token {t}");
        Assert.Equal(E(Errno.ENOENT), LuoSyscalls.RetrieveFd(K, P, rs, 0x104, out _));
        Assert.Equal(0, LuoSyscalls.Finish(K, P, rs));
    }

    private void HandOverOneMemfd(out int sessionFd)
    {
        int dev = OpenDev();
        int s = Create(dev, "one");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 7, "seven"));
        KexecNext();
        dev = OpenDev();
        Assert.Equal(0, dev);
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "one", out sessionFd));
        Assert.Equal(1, sessionFd);
        Assert.Equal(0, K.Close(P, dev)); // fd 0 is free again
    }

    [Fact]
    public void Retrieve_fd_can_install_at_fd_0()
    {
        HandOverOneMemfd(out int rs);
        Assert.Equal(0, LuoSyscalls.RestoreAndVerifyMemfd(K, P, rs, 7, "seven"));
    }

    [Fact]
    public void Retrieve_fd_reply_fault_releases_the_reserved_fd_and_the_reference()
    {
        HandOverOneMemfd(out int rs);
        ulong ro = UserBuf(FdStruct(-1, 7), Prot.Read);
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, rs, LiveupdateUapi.RetrieveFd, ro));
        Assert.Null(P.FileOf(0));
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, rs, 7, out int fd)); // the handler already retrieved it: same file
        Assert.Equal(0, fd);
        var file = P.FileOf(fd)!;
        int refs = file.RefCount;
        Assert.Equal(E(Errno.EFAULT), K.Ioctl(P, rs, LiveupdateUapi.RetrieveFd, ro));
        Assert.Equal(refs, file.RefCount);
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, rs, 7, out int fd2));
        Assert.Equal(2, fd2);
        Assert.Same(file, P.FileOf(fd2));
        Assert.Equal(refs + 1, file.RefCount);
    }

    [Fact]
    public void Fdt_era_file_area_is_freed_at_finish_and_at_close_of_an_outgoing_session()
    {
        K = Kernel.Kernel.ColdBoot(FdtConfig());
        P = K.CreateProcess();
        int dev = OpenDev();
        int gone = Create(dev, "gone");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, gone, 1, "x"));
        ulong area = K.Luo.Outgoing.List.Single(x => x.Name == "gone").FdtFileArea;
        Assert.NotEqual(0UL, area);
        Assert.True(K.Kho.Pages.IsUsed(area >> 12));
        Assert.Contains(K.Kho.PreservedBlocks(), b => b.Phys == area);
        Assert.Equal(0, K.Close(P, gone)); // unpreserve + free of the area
        Assert.False(K.Kho.Pages.IsUsed(area >> 12));
        Assert.DoesNotContain(K.Kho.PreservedBlocks(), b => b.Phys == area);

        int s = Create(dev, "kept");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 2, "y"));
        KexecNext(FdtConfig());
        dev = OpenDev();
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "kept", out int rs));
        var session = K.Luo.Incoming.List.Single(x => x.Name == "kept");
        area = session.FdtFileArea;
        Assert.NotEqual(0UL, area);
        Assert.True(K.Kho.Pages.IsUsed(area >> 12));
        Assert.True(LuoSyscalls.RestoreAndVerifyMemfd(K, P, rs, 2, "y") >= 0);
        Assert.Equal(0, LuoSyscalls.Finish(K, P, rs)); // restore + free of the area
        Assert.Equal(0UL, session.FdtFileArea);
        Assert.False(K.Kho.Pages.IsUsed(area >> 12));
        Assert.False(K.Kho.Pages.IsUsed((area >> 12) + 1));
    }

    [Fact]
    public void Name_field_truncates_to_63_bytes_and_paths_name_the_files()
    {
        byte[] f = LuoSession.NameField(new string('n', 70));
        Assert.Equal(64, f.Length);
        Assert.All(f[..63], b => Assert.Equal((byte)'n', b));
        Assert.Equal(0, f[63]);
        Assert.Equal([(byte)'a', (byte)'b', .. new byte[62]], LuoSession.NameField("ab"));
        int dev = OpenDev();
        int s = Create(dev, "named");
        Assert.Equal("/dev/liveupdate", P.FileOf(dev)!.PathName);
        Assert.Equal("anon_inode:[luo_session] named", P.FileOf(s)!.PathName);
    }

    [Fact]
    public void Fdt_era_failed_freeze_zeroes_the_file_area_and_retry_writes_it_again()
    {
        K = Kernel.Kernel.ColdBoot(FdtConfig());
        P = K.CreateProcess();
        int dev = OpenDev();
        int s = Create(dev, "rb");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 5), 0x51));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, (int)K.CreateTestFile(P, 6), 0x52));
        ulong area = K.Luo.Outgoing.List.Single().FdtFileArea;
        K.Faults.FailNth(FaultPoint.TestFreeze, K.Faults.Count(FaultPoint.TestFreeze) + 2, Errno.EINVAL);
        Assert.Equal(E(Errno.EINVAL), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        var page = new byte[2 * 4096];
        K.Arena.Read(area, page);
        Assert.All(page, b => Assert.Equal(0, b)); // the first file's entry was written, then cleared
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        K.Arena.Read(area, page);
        Assert.Equal(0x51UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(LuoFileSer.TokenOffset)));
        Assert.Equal(0x52UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(page.AsSpan(LuoFileSer.Size + LuoFileSer.TokenOffset)));
    }

    [Fact]
    public void Fdt_era_128_files_hand_over_and_the_incoming_session_area_is_freed_at_first_open()
    {
        K = Kernel.Kernel.ColdBoot(FdtConfig());
        P = K.CreateProcess();
        K.SetrlimitNofile(P, 300, 300);
        int dev = OpenDev();
        int s = Create(dev, "full");
        for (int i = 0; i < LuoOptions.FdtMaxFiles; i++)
        {
            int m = Memfd();
            Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, m, (ulong)i));
            K.Close(P, m);
        }
        ulong oldArea = K.Luo.FdtSessionArea;
        KexecNext(FdtConfig());
        Assert.True(K.Kho.Pages.IsUsed(oldArea >> 12));
        dev = OpenDev();
        Assert.False(K.Kho.Pages.IsUsed(oldArea >> 12));
        Assert.Equal(0, LuoSyscalls.RetrieveSession(K, P, dev, "full", out int rs));
        Assert.Equal(LuoOptions.FdtMaxFiles, K.Luo.Incoming.List.Single().Files.Count);
        Assert.Equal(0, LuoSyscalls.RetrieveFd(K, P, rs, (ulong)LuoOptions.FdtMaxFiles - 1, out _));
    }

    [Fact]
    public void Session_reserve_fault_leaves_the_header_count_of_the_reserved_slots_only()
    {
        int dev = OpenDev();
        Create(dev, "a");
        Create(dev, "b");
        Create(dev, "c");
        K.Faults.FailNth(FaultPoint.SessionReserveEntry, K.Faults.Count(FaultPoint.SessionReserveEntry) + 3, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        ulong head = K.Luo.Outgoing.Blocks!.HeadPa;
        Assert.Equal(2UL, K.Arena.ReadU64(head + KhoBlockHeaderSer.CountOffset)); // kho_block_prev() keeps counts
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(3UL, K.Arena.ReadU64(head + KhoBlockHeaderSer.CountOffset));
    }

    [Fact]
    public void Flb_preserve_failure_at_preserve_fd_erases_the_registry_entry()
    {
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(K.TestHandler!, new LuoModel.Testkit.Trace.CountingFlb()));
        int s = Create(OpenDev(), "flb");
        int f = (int)K.CreateTestFile(P, 5);
        K.Faults.FailNext(FaultPoint.FlbPreserve, Errno.ENOMEM);
        Assert.Equal(E(Errno.ENOMEM), LuoSyscalls.PreserveFd(K, P, s, f, 1));
        Assert.Empty(K.Luo.Outgoing.List.Single().Files);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, f, 1)); // not "already preserved"
        Assert.Single(K.Luo.Outgoing.List.Single().Files);
    }

    [Fact]
    public void Kho_finalize_is_called_only_for_the_fdt_abi_on_kho_v1()
    {
        foreach (var (abi, kho) in new[] { (LuoAbi.LuoV5, KhoVariant.KhoV1), (LuoAbi.FdtV1, KhoVariant.N) })
        {
            K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { Abi = abi }, Kho = new KhoOptions { Variant = kho }, DramBytes = 1UL << 30 });
            P = K.CreateProcess();
            Create(OpenDev(), "s");
            K.Faults.FailNext(FaultPoint.KhoFinalize, Errno.ENOMEM);
            Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
            Assert.Equal(0, K.Faults.Count(FaultPoint.KhoFinalize));
        }
        K = Kernel.Kernel.ColdBoot(new KernelConfig { Luo = new LuoOptions { Abi = LuoAbi.FdtV1 }, DramBytes = 1UL << 30 }); // kho-v1
        P = K.CreateProcess();
        Create(OpenDev(), "s");
        K.Faults.FailNext(FaultPoint.KhoFinalize, Errno.ENOMEM);
        Assert.Equal(E(Errno.EAGAIN), K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        Assert.Equal(1, K.Faults.Count(FaultPoint.KhoFinalize));
    }

    /// <summary>FDT era: reboots with one session "s" (with one memfd when <paramref name="withFile"/>), lets
    /// <paramref name="corrupt"/> edit the handed-over session entry, kexecs and opens the device.</summary>
    private long FdtHandOverCorrupted(bool withFile, Action<ulong> corrupt, out ulong fileArea)
    {
        K = Kernel.Kernel.ColdBoot(FdtConfig());
        P = K.CreateProcess();
        int s = Create(OpenDev(), "s");
        if (withFile) Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 9, "nine"));
        fileArea = K.Luo.Outgoing.List.Single().FdtFileArea;
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        corrupt(K.Luo.FdtSessionArea + 8); // entry 0 after the 8-byte count
        K = K.Kexec(FdtConfig());
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
        return LuoSyscalls.OpenDevice(K, P);
    }

    [Fact]
    public void Fdt_era_deserialization_checks_the_file_area_only_for_files_and_frees_it_on_error()
    {
        // a wild file-area pointer with count 0 is never looked at
        Assert.True(FdtHandOverCorrupted(false, e => K.Arena.WriteU64(e + LuoSessionSer.FilesOffset, K.Arena.DramBytes + 4096), out _) >= 0);
        Assert.Empty(K.Kho.Warnings);
        // count 2 whose area runs past the end of memory: EINVAL before anything is adopted (no restore_free)
        Assert.Equal(E(Errno.EIO), FdtHandOverCorrupted(false, e =>
        {
            K.Arena.WriteU64(e + LuoSessionSer.FilesOffset, K.Arena.DramBytes - 64);
            K.Arena.WriteU64(e + LuoSessionSer.CountOffset, 2);
        }, out _));
        Assert.Empty(K.Kho.Warnings);
        // an unknown compatible: ENOENT, and the adopted file area is restored and freed
        Assert.Equal(E(Errno.EIO), FdtHandOverCorrupted(true, e =>
        {
            ulong area = K.Arena.ReadU64(e + LuoSessionSer.FilesOffset);
            K.Arena.Fill(area + LuoFileSer.CompatibleOffset, 8, (byte)'z');
        }, out ulong fileArea));
        Assert.False(K.Kho.Pages.IsUsed(fileArea >> 12));
    }
}
