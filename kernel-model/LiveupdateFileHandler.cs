using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>struct liveupdate_file_op_args (luo.md §2.4). Like the kernel's on-stack struct it is valid only
/// during the op call: LUO reuses one instance on its hot paths, so a handler must not keep it.</summary>
public sealed class LiveupdateFileOpArgs
{
    internal LiveupdateFileOpArgs(LiveupdateFileHandler handler) => Handler = handler;
    /// <summary>The handler.</summary>
    public LiveupdateFileHandler Handler { get; private set; }
    /// <summary>retrieve_status (0 not attempted, 1 success, negative errno).</summary>
    public int RetrieveStatus { get; set; }
    /// <summary>The file (null in the new kernel until retrieved).</summary>
    public OpenFile? File { get; set; }
    /// <summary>serialized_data.</summary>
    public ulong SerializedData { get; set; }
    /// <summary>private_data (runtime only).</summary>
    public object? PrivateData { get; set; }
    /// <summary>The preserved token (model extra, for logs).</summary>
    public ulong Token { get; internal set; }

    /// <summary>Refills a reused argument block from <paramref name="f"/> (the kernel builds the struct on the
    /// stack for each call; the reboot hot path reuses one instance instead of allocating per file).</summary>
    internal LiveupdateFileOpArgs Reset(LuoFile f)
    {
        Handler = f.Handler;
        File = f.File;
        SerializedData = f.SerializedData;
        PrivateData = f.PrivateData;
        RetrieveStatus = f.RetrieveStatus;
        Token = f.Token;
        return this;
    }
}

/// <summary>
/// struct liveupdate_file_handler (luo.md §2.4): a compatible string and the ops table. Required ops are
/// abstract; optional ones are virtual with a <c>Has…</c> switch that tells LUO whether the op exists
/// (an absent op behaves as documented: freeze = success, can_finish = true, get_id = file identity).
/// </summary>
public abstract class LiveupdateFileHandler
{
    /// <summary>Creates a handler with <paramref name="compatible"/> (≤ 47 bytes).</summary>
    protected LiveupdateFileHandler(string compatible)
    {
        ArgumentNullException.ThrowIfNull(compatible);
        if (compatible.Length >= LuoFileSer.CompatibleLength) throw new ArgumentException("compatible longer than 47 bytes", nameof(compatible));
        Compatible = compatible;
        LuoStrings.ToField(compatible, CompatibleField);
    }

    /// <summary>compatible.</summary>
    public string Compatible { get; }

    /// <summary>The 48-byte zero-padded compatible field of luo_file_ser, encoded once (reboot hot path).</summary>
    internal byte[] CompatibleField { get; } = new byte[LuoFileSer.CompatibleLength];

    /// <summary>FLBs linked to this handler, in link order (maintained by LUO).</summary>
    internal List<LiveupdateFlb> LinkedFlbs { get; } = [];

    /// <summary>Whether every required op is provided (false → registration EINVAL).</summary>
    public virtual bool HasRequiredOps => true;
    /// <summary>try_module_get(owner) fails ("module going away").</summary>
    public virtual bool ModuleGoingAway => false;

    /// <summary>can_preserve(handler, file): side-effect free.</summary>
    public abstract bool CanPreserve(OpenFile file);
    /// <summary>preserve(args): set SerializedData (and PrivateData) or return an errno.</summary>
    public abstract Errno Preserve(LiveupdateFileOpArgs args);
    /// <summary>unpreserve(args): undo preserve.</summary>
    public abstract void Unpreserve(LiveupdateFileOpArgs args);
    /// <summary>Whether freeze exists.</summary>
    public virtual bool HasFreeze => false;
    /// <summary>freeze(args): may update SerializedData.</summary>
    public virtual Errno Freeze(LiveupdateFileOpArgs args) => Errno.Ok;
    /// <summary>The reboot hot path's call of freeze for <paramref name="f"/> (luo_file_freeze_one()): fills the
    /// reused <paramref name="args"/>, calls <see cref="Freeze"/> and keeps the serialized data it returns. A
    /// handler may override it with an equivalent that needs no argument block (no per-file stores).</summary>
    internal virtual Errno FreezeFile(LuoFile f, LiveupdateFileOpArgs args)
    {
        Errno err = Freeze(args.Reset(f));
        if (err == Errno.Ok) f.SerializedData = args.SerializedData;
        return err;
    }

    /// <summary>Whether unfreeze exists.</summary>
    public virtual bool HasUnfreeze => false;
    /// <summary>unfreeze(args).</summary>
    public virtual void Unfreeze(LiveupdateFileOpArgs args) { }
    /// <summary>retrieve(args): set File or return an errno.</summary>
    public abstract Errno Retrieve(LiveupdateFileOpArgs args);
    /// <summary>Whether can_finish exists.</summary>
    public virtual bool HasCanFinish => false;
    /// <summary>can_finish(args).</summary>
    public virtual bool CanFinish(LiveupdateFileOpArgs args) => true;
    /// <summary>finish(args).</summary>
    public abstract void Finish(LiveupdateFileOpArgs args);
    /// <summary>Whether get_id exists.</summary>
    public virtual bool HasGetId => false;
    /// <summary>get_id(file): registry key.</summary>
    public virtual object GetId(OpenFile file) => file;

    /// <inheritdoc/>
    public override string ToString() => Compatible;
}

/// <summary>struct liveupdate_flb_op_args.</summary>
public sealed class LiveupdateFlbOpArgs
{
    internal LiveupdateFlbOpArgs(LiveupdateFlb flb) => Flb = flb;
    /// <summary>The FLB.</summary>
    public LiveupdateFlb Flb { get; }
    /// <summary>data (u64 handed over).</summary>
    public ulong Data { get; set; }
    /// <summary>obj (runtime object).</summary>
    public object? Obj { get; set; }
}

/// <summary>
/// struct liveupdate_flb (luo.md §2.5): compatible + preserve/unpreserve/retrieve/finish, with LUO's private
/// outgoing and incoming state.
/// </summary>
public abstract class LiveupdateFlb
{
    /// <summary>Creates an FLB.</summary>
    protected LiveupdateFlb(string compatible)
    {
        ArgumentNullException.ThrowIfNull(compatible);
        if (compatible.Length >= LuoFlbSer.NameLength) throw new ArgumentException("compatible longer than 47 bytes", nameof(compatible));
        Compatible = compatible;
    }

    /// <summary>compatible.</summary>
    public string Compatible { get; }
    /// <summary>Whether all four ops exist (false → EINVAL at registration).</summary>
    public virtual bool HasRequiredOps => true;
    /// <summary>Module pin fails (ENODEV).</summary>
    public virtual bool ModuleGoingAway => false;

    /// <summary>preserve(args): set Data/Obj.</summary>
    public abstract Errno Preserve(LiveupdateFlbOpArgs args);
    /// <summary>unpreserve(args).</summary>
    public abstract void Unpreserve(LiveupdateFlbOpArgs args);
    /// <summary>retrieve(args): from Data, set Obj.</summary>
    public abstract Errno Retrieve(LiveupdateFlbOpArgs args);
    /// <summary>finish(args).</summary>
    public abstract void Finish(LiveupdateFlbOpArgs args);

    /// <summary>Number of handlers linking this FLB (users).</summary>
    public int Users { get; internal set; }
    /// <summary>Outgoing refcount.</summary>
    public long OutgoingCount { get; internal set; }
    /// <summary>Outgoing data.</summary>
    public ulong OutgoingData { get; internal set; }
    /// <summary>Outgoing object.</summary>
    public object? OutgoingObj { get; internal set; }
    /// <summary>Incoming refcount.</summary>
    public long IncomingCount { get; internal set; }
    /// <summary>Incoming data.</summary>
    public ulong IncomingData { get; internal set; }
    /// <summary>Incoming object.</summary>
    public object? IncomingObj { get; internal set; }
    /// <summary>Incoming retrieved.</summary>
    public bool IncomingRetrieved { get; internal set; }
    /// <summary>Incoming finished.</summary>
    public bool IncomingFinished { get; internal set; }
    /// <summary>Refcount underflows seen (luo.md §2.5, open question 2).</summary>
    public int IncomingUnderflows { get; internal set; }

    /// <inheritdoc/>
    public override string ToString() => Compatible;
}
