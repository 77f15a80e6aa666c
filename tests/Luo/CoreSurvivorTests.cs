using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>Tests written against the Stryker survivors of LuoCore.cs (`core` chunk): luo-v5 late init
/// (allocation order and undo, FLB page count), early boot (blob size, luo_ser outside memory, session chain
/// panic reason, luo_ser page freed), liveupdate off, handler registration (null, quiesce with incoming
/// sessions only, lookup by compatible), the device-open scheduling point and the preserved registry.</summary>
public class CoreSurvivorTests : LuoTestBase
{
    private static KernelConfig V5(FaultInjector? faults = null, LuoOptions? luo = null, string liveupdate = "on", bool testHandler = true) =>
        new() { Luo = luo ?? new LuoOptions(), DramBytes = 1UL << 30, Faults = faults ?? new FaultInjector(), Liveupdate = liveupdate, RegisterTestHandler = testHandler };

    private void Boot(KernelConfig c)
    {
        K = Kernel.Kernel.ColdBoot(c);
        P = K.CreateProcess();
    }

    [Fact]
    public void Late_init_allocates_luo_ser_then_the_flb_page_and_writes_its_page_count()
    {
        var faults = new FaultInjector { Logging = true };
        Boot(V5(faults));
        Assert.Equal(["luo_ser", "flb page"], faults.Log.Where(c => c.Point == FaultPoint.KhoAllocPreserve).Select(c => c.Detail));
        Assert.Equal(LuoFlbHeaderSer.FlbPageCount, K.Arena.ReadU64(K.Luo.OutFlbPhys)); // §5.5 pgcnt = 1 before any reboot
        Assert.Equal(0UL, K.Arena.ReadU64(K.Luo.OutFlbPhys + 8));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Late_init_allocation_failure_disables_luo_without_leaking(int nth)
    {
        var clean = Kernel.Kernel.ColdBoot(V5(liveupdate: "off"));
        Boot(V5(new FaultInjector().FailNth(FaultPoint.KhoAllocPreserve, nth, Errno.ENOMEM)));
        Assert.False(K.Luo.Enabled);
        Assert.Equal(0UL, K.Luo.OutRootPhys);
        Assert.Equal(clean.Kho.PreservedBlocks().Count(), K.Kho.PreservedBlocks().Count());
        Assert.Empty(K.Luo.Handlers);
    }

    [Fact]
    public void Liveupdate_off_skips_late_init_entirely()
    {
        Boot(V5(liveupdate: "off"));
        Assert.False(K.Luo.Enabled);
        Assert.Equal(0UL, K.Luo.OutRootPhys);
        Assert.Equal(0UL, K.Luo.OutFlbPhys);
        Assert.Empty(K.Luo.Handlers);
        Assert.DoesNotContain(Kernel.Luo.KhoEntryName, K.Kho.OutgoingSubtreeNames());
    }

    [Fact]
    public void Locks_carry_the_kernel_symbol_names()
    {
        Assert.Equal("luo_session_header.rwsem", K.Luo.Outgoing.Lock.Name);
        Assert.Equal("luo_session_header.rwsem", K.Luo.Incoming.Lock.Name);
        Assert.Equal("luo_session_serialize_lock", K.Luo.SerializeLock.Name);
        Assert.Equal("luo_register_rwlock", K.Luo.RegisterLock.Name);
    }

    private Kernel.Kernel KexecAfter(Action<ulong> beforeReboot, KernelConfig? next = null)
    {
        int dev = OpenDev();
        int s = Create(dev, "kept");
        Assert.Equal(0, LuoSyscalls.CreateAndPreserveMemfd(K, P, s, 3, "three"));
        beforeReboot(K.Luo.OutRootPhys);
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        return K.Kexec(next);
    }

    [Fact]
    public void Luo_ser_blob_smaller_than_32_bytes_panics()
    {
        var next = KexecAfter(ser =>
        {
            K.Kho.RemoveSubtree(ser);
            Assert.Equal(Errno.Ok, K.Kho.AddSubtree(Kernel.Luo.KhoEntryName, ser, 16));
        });
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: luo_ser blob smaller than 32 bytes (-EINVAL)", next.Outcome.PanicReason);
    }

    [Fact]
    public void Luo_ser_blob_larger_than_32_bytes_is_accepted()
    {
        var next = KexecAfter(ser =>
        {
            K.Kho.RemoveSubtree(ser);
            Assert.Equal(Errno.Ok, K.Kho.AddSubtree(Kernel.Luo.KhoEntryName, ser, 64));
        });
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.True(next.Luo.Incoming.Active);
    }

    [Fact]
    public void Luo_ser_outside_memory_panics()
    {
        var next = KexecAfter(ser =>
        {
            K.Kho.RemoveSubtree(ser);
            Assert.Equal(Errno.Ok, K.Kho.AddSubtree(Kernel.Luo.KhoEntryName, 1UL << 40, LuoSerRoot.Size));
        });
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: luo_ser outside memory", next.Outcome.PanicReason);
    }

    [Fact]
    public void Bad_session_block_count_panics_with_the_restore_errno()
    {
        int dev = OpenDev();
        Create(dev, "kept");
        Assert.Equal(0, K.Reboot(P, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC));
        ulong sessions = K.Arena.ReadU64(K.Luo.OutRootPhys + LuoSerRoot.SessionsPaOffset);
        Assert.NotEqual(0UL, sessions);
        K.Arena.WriteU64(sessions + KhoBlockHeaderSer.CountOffset, 100_000);
        var next = K.Kexec();
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: session block chain restore = -EINVAL", next.Outcome.PanicReason);
    }

    [Fact]
    public void Early_boot_restores_and_frees_the_luo_ser_page_even_with_liveupdate_off()
    {
        ulong ser = 0;
        var next = KexecAfter(r => ser = r, V5(liveupdate: "off"));
        Assert.False(next.Panicked, next.Outcome.PanicReason);
        Assert.False(next.Luo.Enabled);
        Assert.Equal(1UL, next.Luo.LiveupdateNum);
        Assert.False(next.Kho.Pages.IsUsed(ser >> PhysicalArena.PageShift));
    }

    [Fact]
    public void Handler_registration_rejects_null()
    {
        Assert.Throws<ArgumentNullException>(() => K.Luo.RegisterFileHandler(null!));
        Assert.Throws<ArgumentNullException>(() => K.Luo.UnregisterFileHandler(null!));
    }

    [Fact]
    public void Unregistering_a_handler_unlinks_its_flbs()
    {
        var h = new PlainHandler("plain-v1");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(h));
        var only = new RecordingFlb("only-plain");
        var shared = new RecordingFlb("shared");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(h, only));
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(h, shared));
        Assert.Equal(Errno.Ok, K.Luo.RegisterFlb(K.TestHandler!, shared));
        Assert.Equal(2, shared.Users);
        Assert.Equal(Errno.Ok, K.Luo.UnregisterFileHandler(h));
        Assert.DoesNotContain(h, K.Luo.Handlers);
        Assert.Equal([shared], K.Luo.Flbs);
        Assert.Equal((0, 1), (only.Users, shared.Users));
    }

    [Fact]
    public void Quiesce_refuses_registration_while_only_incoming_sessions_exist()
    {
        var quiesce = V5(luo: new LuoOptions { RegistrationQuiesce = true });
        Boot(quiesce);
        int dev = OpenDev();
        Create(dev, "kept");
        KexecNext(quiesce);
        var h = new PlainHandler("late-v1");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(h));   // nothing deserialized yet
        OpenDev();                                               // first open: one incoming session, no outgoing
        Assert.Equal((0, 1), (K.Luo.Outgoing.Count, K.Luo.Incoming.Count));
        Assert.Equal(Errno.EBUSY, K.Luo.RegisterFileHandler(new PlainHandler("later-v1")));
        Assert.Equal(Errno.EBUSY, K.Luo.UnregisterFileHandler(h));
        Assert.Contains(h, K.Luo.Handlers);
    }

    [Fact]
    public void Find_handler_matches_the_compatible_exactly()
    {
        Assert.Same(K.TestHandler, K.Luo.FindHandler(TestFileHandler.DefaultCompatible));
        Assert.Equal("memfd-v2", K.Luo.FindHandler("memfd-v2")!.Compatible);
        Assert.Null(K.Luo.FindHandler("memfd-v3"));
    }

    [Fact]
    public void Find_handler_by_field_compares_the_c_string()
    {
        var field = new byte[LuoFileSer.CompatibleLength];
        "memfd-v2"u8.CopyTo(field);
        Assert.Equal("memfd-v2", K.Luo.FindHandler(field.AsSpan())!.Compatible);
        Array.Fill(field, (byte)'x');                            // no NUL in 48 bytes: the whole field is the name
        Assert.Null(K.Luo.FindHandler(field.AsSpan()));
        var empty = new PlainHandler("");
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(empty));
        Assert.Same(empty, K.Luo.FindHandler(new byte[LuoFileSer.CompatibleLength].AsSpan())); // "" == ""
    }

    [Fact]
    public void Device_open_claims_in_use_at_a_scheduling_point()
    {
        var rec = new RecordingScheduler();
        KernelScheduler.Current = rec;
        try
        {
            OpenDev();
        }
        finally
        {
            KernelScheduler.Current = null;
        }
        Assert.Single(rec.Yields, y => ReferenceEquals(y, K.Luo));
    }

    [Fact]
    public void Registry_is_keyed_by_the_file_when_get_id_is_absent()
    {
        Boot(V5(testHandler: false));
        var h = new PlainHandler("plain-v1") { Id = "one key for all" };
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(h));
        int s = Create(OpenDev(), "s");
        int a = (int)K.CreateTestFile(P, 1), b = (int)K.CreateTestFile(P, 2);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, a, 1));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, b, 2));  // distinct files, distinct keys
        Assert.True(K.Luo.RegistryContains(P.FileOf(a)!));
        Assert.False(K.Luo.RegistryContains("one key for all"));
        Assert.Equal([$"file:{P.FileOf(a)!.Id}", $"file:{P.FileOf(b)!.Id}"], K.Luo.Snapshot().Registry.OrderBy(x => x.Length).ThenBy(x => x, StringComparer.Ordinal));
    }

    [Fact]
    public void Registry_uses_get_id_when_present_and_describes_any_key()
    {
        Boot(V5(testHandler: false));
        var h = new PlainHandler("plain-v1") { ProvideGetId = true, Id = new NamelessId() };
        Assert.Equal(Errno.Ok, K.Luo.RegisterFileHandler(h));
        int dev = OpenDev();
        int s = Create(dev, "s");
        int a = (int)K.CreateTestFile(P, 1), b = (int)K.CreateTestFile(P, 2), c = (int)K.CreateTestFile(P, 3);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, a, 1));
        Assert.Equal(E(Errno.EBUSY), LuoSyscalls.PreserveFd(K, P, s, b, 2)); // same get_id key
        h.Id = "custom-key";
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s, c, 3));
        Assert.Equal(["?", "custom-key"], K.Luo.Snapshot().Registry);
        int m = Memfd("x");
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, Create(dev, "t"), m, 9));
        Assert.Contains(K.Luo.Snapshot().Registry, x => x.StartsWith("inode:", StringComparison.Ordinal));
    }

    [Fact]
    public void Without_the_registry_double_preservation_is_accepted_and_close_erases_nothing()
    {
        Boot(V5(luo: new LuoOptions { DoublePreserve = DoublePreserveCheck.None }));
        int dev = OpenDev();
        int s1 = Create(dev, "one"), s2 = Create(dev, "two");
        int t = (int)K.CreateTestFile(P, 7);
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s1, t, 1));
        Assert.Equal(0, LuoSyscalls.PreserveFd(K, P, s2, t, 1));
        Assert.False(K.Luo.RegistryContains(P.FileOf(t)!));
        Assert.Empty(K.Luo.Snapshot().Registry);
        Assert.Equal(0, K.Close(P, s1));
        Assert.Equal(0, K.Close(P, s2));
        Assert.Empty(K.Luo.Outgoing.Sessions);
    }

    [Fact]
    public void Kho_lookup_error_other_than_ENOENT_panics()
    {
        var next = KexecWithLuoKhoProperty("blob-size", [32, 0, 0, 0]); // not 8 bytes: -EINVAL
        Assert.True(next.Panicked);
        Assert.Equal("luo_restore_fail: kho_retrieve_subtree(\"LUO\") = -EINVAL", next.Outcome.PanicReason);
    }
}
