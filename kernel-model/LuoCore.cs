using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>A session list with its block set (luo_session_header, luo.md §2.1).</summary>
public sealed class LuoSessionHeader
{
    internal LuoSessionHeader(KhoBlockSet? blocks) => Blocks = blocks;
    /// <summary>luo_session_header.rwsem: guards the list and its session block set (insert, remove, search,
    /// reboot serialization). Modelled as a mutex (readers do not run side by side).</summary>
    internal KernelMutex Lock { get; } = new("luo_session_header.rwsem");
    internal List<LuoSession> List { get; } = [];
    /// <summary>Sessions in order.</summary>
    public IReadOnlyList<LuoSession> Sessions => List;
    /// <summary>count.</summary>
    public int Count => List.Count;
    /// <summary>Session block set (luo-v5; null in the FDT era).</summary>
    public KhoBlockSet? Blocks { get; }
    /// <summary>active.</summary>
    public bool Active { get; internal set; }
}

/// <summary>
/// The Live Update Orchestrator of one kernel (luo_core.c, luo_session.c, luo_file.c, luo_flb.c; luo.md
/// §2–§5). Reached through <see cref="Kernel.Luo"/>; userspace reaches it through /dev/liveupdate.
/// </summary>
public sealed partial class Luo
{
    /// <summary>KHO entry name.</summary>
    public const string KhoEntryName = "LUO";

    private readonly List<LiveupdateFileHandler> _handlers = [];
    private readonly Dictionary<object, LuoFile> _registry = new(ReferenceEqualityComparer.Instance);

    internal Luo(Kernel kernel)
    {
        Kernel = kernel;
        Kho = kernel.Kho;
        Options = kernel.Config.Luo;
        Faults = kernel.Config.Faults;
        bool v5 = Options.Abi == LuoAbi.LuoV5;
        Outgoing = new LuoSessionHeader(v5 ? new KhoBlockSet(Kho, Faults, FaultPoint.SessionBlockGrow, LuoSessionSer.Size, Options.Mutants) : null);
        Incoming = new LuoSessionHeader(v5 ? new KhoBlockSet(Kho, Faults, FaultPoint.SessionBlockGrow, LuoSessionSer.Size) : null);
    }

    /// <summary>The kernel.</summary>
    public Kernel Kernel { get; }
    internal Kho.Kho Kho { get; }
    /// <summary>Behaviour switches.</summary>
    public LuoOptions Options { get; }
    internal FaultInjector Faults { get; }

    /// <summary>enabled (luo.md §2.1).</summary>
    public bool Enabled { get; private set; }
    /// <summary>liveupdate_num taken from the incoming root (0 if none).</summary>
    public ulong LiveupdateNum { get; private set; }
    /// <summary>Physical address of the outgoing luo_ser (or of the FDT-era root FDT page).</summary>
    public ulong OutRootPhys { get; private set; }
    /// <summary>Physical address of the outgoing FLB page.</summary>
    public ulong OutFlbPhys { get; private set; }
    /// <summary>Incoming FLB page (0 if none).</summary>
    public ulong IncomingFlbPa { get; private set; }
    private int _inUse;
    /// <summary>device.in_use (an atomic_t: the open path claims it with atomic_cmpxchg, luo.md §3.1).</summary>
    public bool DeviceInUse => Volatile.Read(ref _inUse) != 0;
    /// <summary>Deserialization ran.</summary>
    public bool DeserializedOnce { get; private set; }
    /// <summary>Cached deserialization error (Ok when none).</summary>
    public Errno SavedError { get; private set; }
    /// <summary>serialize_lock held exclusively forever after a successful reboot serialization.</summary>
    public bool IsFrozen => SerializeLock.IsFrozen;
    /// <summary>serialize_lock (luo.md §2.1): every session operation holds it shared; a successful reboot
    /// serialization takes it exclusively and freezes it (§4.2 step 5).</summary>
    internal KernelRwSem SerializeLock { get; } = new("luo_session_serialize_lock");
    /// <summary>register_lock (luo.md §2.1): the handler list and FLB registrations; modelled as a mutex.</summary>
    internal KernelMutex RegisterLock { get; } = new("luo_register_rwlock");
    /// <summary>xa_lock of preserved_registry (a spinlock: never a scheduling point).</summary>
    private readonly Lock _registryLock = new();
    /// <summary>Outgoing sessions.</summary>
    public LuoSessionHeader Outgoing { get; }
    /// <summary>Incoming sessions.</summary>
    public LuoSessionHeader Incoming { get; }
    /// <summary>Registered file handlers in registration order.</summary>
    public IReadOnlyList<LiveupdateFileHandler> Handlers => _handlers;
    /// <summary>preserved_registry: every file currently owned by LUO.</summary>
    public IReadOnlyCollection<LuoFile> RegisteredFiles => _registry.Values;
    /// <summary>Number of reboot serialization attempts so far.</summary>
    public int SerializeAttempts { get; internal set; }

    /// <summary>Early boot (luo.md §5.7 "early boot"): reads the incoming root. Returns a panic reason or null.</summary>
    internal string? EarlyInit()
    {
        if (!Kho.IsEnabled) return null;
        return Options.Abi == LuoAbi.FdtV1 ? FdtEarlyInit() : V5EarlyInit();
    }

    private string? V5EarlyInit()
    {
        Errno rc = Kho.RetrieveSubtree(KhoEntryName, out ulong phys, out ulong size);
        if (rc == Errno.ENOENT) return null;
        if (rc != Errno.Ok) return $"luo_restore_fail: kho_retrieve_subtree(\"LUO\") = -{rc}";
        if (size < LuoSerRoot.Size) return "luo_restore_fail: luo_ser blob smaller than 32 bytes (-EINVAL)";
        Span<byte> blob = stackalloc byte[LuoSerRoot.Size];
        if (!Kho.Arena.TryRead(phys, blob)) return "luo_restore_fail: luo_ser outside memory";
        if (!LuoSerRoot.CompatibleMatches(blob)) return "luo_restore_fail: luo_ser compatible is not \"luo-v5\" (-EINVAL)";
        var root = LuoSerRoot.ReadFrom(blob);
        LiveupdateNum = root.LiveupdateNum;
        string? panic = null;
        if (root.SessionsPa != 0)
        {
            Errno e = Incoming.Blocks!.Restore(root.SessionsPa);
            if (e != Errno.Ok) panic = $"luo_restore_fail: session block chain restore = -{e}";
            else Incoming.Active = true;
        }
        if (root.FlbsPa != 0) IncomingFlbPa = root.FlbsPa;
        Kho.RestoreFree(phys);
        return panic;
    }

    /// <summary>Late init: enabled decision, outgoing root + FLB page registered with KHO, handlers.</summary>
    internal void LateInit()
    {
        Enabled = Kernel.Config.LiveupdateRequested && Kho.IsEnabled;
        if (!Enabled) return;
        Errno rc = Options.Abi == LuoAbi.FdtV1 ? FdtLateInit() : V5LateInit();
        if (rc != Errno.Ok) { Enabled = false; return; }
        RegisterFileHandler(new MemfdHandler(this, Options.MemfdVersion));
        if (Kernel.Config.RegisterTestHandler) RegisterFileHandler(new TestFileHandler(this));
    }

    /// <summary>kho_alloc_preserve() through the fault hook.</summary>
    internal Errno AllocPreserve(ulong size, out ulong phys, string what)
    {
        phys = 0;
        Errno rc = Faults.Check(FaultPoint.KhoAllocPreserve, what);
        if (rc != Errno.Ok) return rc;
        return Kho.AllocPreserve(size, out phys) == Errno.Ok ? Errno.Ok : Errno.ENOMEM;
    }

    private Errno V5LateInit()
    {
        Errno rc = Faults.Check(FaultPoint.LateInitAlloc);
        if (rc != Errno.Ok) return rc;
        if (AllocPreserve(LuoSerRoot.Size, out ulong ser, "luo_ser") != Errno.Ok) return Errno.ENOMEM;
        if (AllocPreserve(PhysicalArena.PageSize, out ulong flb, "flb page") != Errno.Ok) { Kho.UnpreserveFree(ser); return Errno.ENOMEM; }
        Span<byte> b = stackalloc byte[LuoSerRoot.Size];
        new LuoSerRoot(LiveupdateNum + (Mut(LuoMutant.LiveupdateNumPlusTwo) ? 2UL : 1UL), 0, flb).WriteTo(b); // mutant: LiveupdateNumPlusTwo
        Kho.Arena.Write(ser, b);
        Kho.Arena.WriteU64(flb + LuoFlbHeaderSer.PageCountOffset, LuoFlbHeaderSer.FlbPageCount);
        if (Kho.AddSubtree(KhoEntryName, ser, LuoSerRoot.Size) is var e && e != Errno.Ok)
        {
            Kho.UnpreserveFree(flb);
            Kho.UnpreserveFree(ser);
            return e;
        }
        OutRootPhys = ser;
        OutFlbPhys = flb;
        return Errno.Ok;
    }

    /// <summary>liveupdate_register_file_handler() (N): EOPNOTSUPP when disabled, EINVAL for a missing op,
    /// EEXIST for a duplicate compatible.</summary>
    public Errno RegisterFileHandler(LiveupdateFileHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (!Enabled) return Errno.EOPNOTSUPP;
        if (!handler.HasRequiredOps) return Errno.EINVAL;
        using var reg = RegisterLock.Hold();
        if (Quiesced) return Errno.EBUSY;                                                  // registration_quiesce (FDT era)
        if (_handlers.Any(h => h.Compatible == handler.Compatible)) return Errno.EEXIST;
        _handlers.Add(handler);
        return Errno.Ok;
    }

    /// <summary>liveupdate_unregister_file_handler(): removes its FLB links and the handler. Void in N (always
    /// <see cref="Errno.Ok"/>); under <see cref="LuoOptions.RegistrationQuiesce"/> EBUSY while any session exists.</summary>
    public Errno UnregisterFileHandler(LiveupdateFileHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        using var reg = RegisterLock.Hold();
        if (Quiesced) return Errno.EBUSY;
        foreach (var flb in handler.LinkedFlbs.ToList()) UnregisterFlb(handler, flb);
        _handlers.Remove(handler);
        return Errno.Ok;
    }

    /// <summary>FDT-era quiesce (luo.md §2.4 variant, 7f790dd2): with <see cref="LuoOptions.RegistrationQuiesce"/>,
    /// handler (un)registration is refused while any incoming or outgoing session exists.</summary>
    private bool Quiesced => Options.RegistrationQuiesce && (Outgoing.Count > 0 || Incoming.Count > 0);

    /// <summary>The handler registered with <paramref name="compatible"/>, or null.</summary>
    public LiveupdateFileHandler? FindHandler(string compatible)
    {
        foreach (var h in _handlers)
            if (h.Compatible == compatible) return h;
        return null;
    }

    /// <summary>The handler whose compatible string equals the C string in a serialized compatible field (bytes up
    /// to the first NUL, the whole field if none, read as Latin-1 as <see cref="LuoStrings.FromField"/> does),
    /// without building the string: deserialization looks one up per incoming file.</summary>
    internal LiveupdateFileHandler? FindHandler(ReadOnlySpan<byte> compatibleField)
    {
        int n = compatibleField.IndexOf((byte)0);
        var name = n < 0 ? compatibleField : compatibleField[..n];
        foreach (var h in _handlers)
            if (Latin1Equals(h.Compatible, name)) return h;
        return null;
    }

    private static bool Latin1Equals(string s, ReadOnlySpan<byte> b)
    {
        if (s.Length != b.Length) return false;
        for (int i = 0; i < b.Length; i++)
            if (s[i] != b[i]) return false;
        return true;
    }

    /// <summary>misc open of /dev/liveupdate (luo.md §3.1): EBUSY, one-shot deserialization, EIO.</summary>
    /// <remarks>in_use is claimed with a compare-and-swap (a scheduling point); the one-shot deserialization
    /// then runs with the device held exclusively, under register_lock (handler lookup) and the model's mm lock.</remarks>
    internal Errno DeviceOpen()
    {
        KernelScheduler.Current?.YieldPoint(this);
        if (Interlocked.CompareExchange(ref _inUse, 1, 0) != 0) return Errno.EBUSY;
        if (!DeserializedOnce)
        {
            using var reg = RegisterLock.Hold();
            using var mm = Kernel.Mm.Hold();
            DeserializedOnce = true;
            SavedError = DeserializeIncoming();
        }
        if (SavedError != Errno.Ok)
        {
            Volatile.Write(ref _inUse, 0);
            return Errno.EIO;
        }
        return Errno.Ok;
    }

    /// <summary>luo_release() of the device: in_use := 0.</summary>
    internal void DeviceRelease() => Volatile.Write(ref _inUse, Mut(LuoMutant.DeviceInUseSticky) ? 1 : 0); // mutant: DeviceInUseSticky

    /// <summary>True when the TEST-ONLY mutant <paramref name="m"/> is switched on (never outside property-tests/).</summary>
    internal bool Mut(LuoMutant m) => (Options.Mutants & m) != 0;

    // ----- preserved_registry -----

    internal object IdOf(LiveupdateFileHandler h, OpenFile f) => h.HasGetId ? h.GetId(f) : f;

    internal bool RegistryContains(object id)
    {
        if (Options.DoublePreserve != DoublePreserveCheck.Registry) return false;
        lock (_registryLock) return _registry.ContainsKey(id);
    }

    /// <summary>xa_insert(): EBUSY when present, ENOMEM injected.</summary>
    internal Errno RegistryInsert(LuoFile f, object id)
    {
        if (Options.DoublePreserve != DoublePreserveCheck.Registry) return Errno.Ok;
        lock (_registryLock)
        {
            if (_registry.ContainsKey(id)) return Errno.EBUSY;
            Errno rc = Faults.Check(FaultPoint.RegistryInsert);
            if (rc != Errno.Ok) return rc;
            _registry[id] = f;
        }
        f.RegistryId = id;
        return Errno.Ok;
    }

    /// <summary>Model-only: makes room for <paramref name="more"/> registry entries at once (the incoming files,
    /// which retrieve stores one by one), so the table is not regrown step by step.</summary>
    internal void RegistryReserve(int more)
    {
        if (Options.DoublePreserve != DoublePreserveCheck.Registry || more <= 0) return;
        lock (_registryLock) _registry.EnsureCapacity(_registry.Count + more);
    }

    /// <summary>Unconditional insert of a retrieved file (the id cannot be present: luo.md §3.7 step 5).</summary>
    internal void RegistryStore(LuoFile f, object id)
    {
        lock (_registryLock) _registry[id] = f;
        f.RegistryId = id;
    }

    /// <summary>xa_erase() of a file's registry entry.</summary>
    internal void RegistryErase(LuoFile f)
    {
        if (f.RegistryId is null) return;
        lock (_registryLock) _registry.Remove(f.RegistryId);
        f.RegistryId = null;
    }

    /// <summary>Describes a registry key for snapshots.</summary>
    internal static string DescribeId(object id) => id switch
    {
        ShmemInode i => $"inode:{i.Ino}",
        OpenFile f => $"file:{f.Id}",
        _ => id.ToString() ?? "?",
    };
}
