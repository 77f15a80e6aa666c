using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Ops of <see cref="TestFileHandler"/> recorded in its log.</summary>
public enum TestOp
{
    /// <summary>preserve.</summary>
    Preserve,
    /// <summary>unpreserve.</summary>
    Unpreserve,
    /// <summary>freeze.</summary>
    Freeze,
    /// <summary>unfreeze.</summary>
    Unfreeze,
    /// <summary>retrieve.</summary>
    Retrieve,
    /// <summary>can_finish.</summary>
    CanFinish,
    /// <summary>finish.</summary>
    Finish,
}

/// <summary>One recorded op call: op, token, file tag, serialized data and retrieve status seen, result.</summary>
public readonly record struct TestOpRecord(TestOp Op, ulong Token, string Tag, ulong SerializedData, int RetrieveStatus, Errno Result)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Op}({Tag}, token {Token:x}) = {Result}";
}

/// <summary>
/// A configurable file handler ("test-file-v1") for <see cref="TestFile"/>s: every op can be told to fail
/// (per handler, per file, or through the shared <see cref="FaultInjector"/>), optional ops can be removed,
/// and every call is logged in order. It exists because memfd's own freeze cannot fail.
/// </summary>
public sealed class TestFileHandler : LiveupdateFileHandler
{
    /// <summary>Default compatible.</summary>
    public const string DefaultCompatible = "test-file-v1";
    private readonly Luo _luo;
    private readonly List<TestOpRecord> _log = [];

    internal TestFileHandler(Luo luo, string compatible = DefaultCompatible) : base(compatible) => _luo = luo;

    /// <summary>Calls in order.</summary>
    public IReadOnlyList<TestOpRecord> Log => _log;
    /// <summary>Clears the log.</summary>
    public void ClearLog() => _log.Clear();
    /// <summary>Handler-wide failures: op → errno (Preserve, Freeze, Retrieve).</summary>
    public Dictionary<TestOp, Errno> Fail { get; } = [];
    /// <summary>can_finish answers false for every file.</summary>
    public bool RefuseFinish { get; set; }
    /// <summary>Value XOR-ed into serialized_data by freeze (N commits the updated value).</summary>
    public ulong FreezeXor { get; set; }
    /// <summary>Whether the freeze op exists.</summary>
    public bool ProvideFreeze { get; set; } = true;
    /// <summary>Whether the unfreeze op exists.</summary>
    public bool ProvideUnfreeze { get; set; } = true;
    /// <summary>Whether the can_finish op exists.</summary>
    public bool ProvideCanFinish { get; set; } = true;
    /// <summary>Simulate a missing required op (registration EINVAL).</summary>
    public bool MissingRequiredOp { get; set; }
    /// <summary>Simulate the module going away (PRESERVE_FD ENOENT, deserialization ENOENT).</summary>
    public bool GoingAway { get; set; }

    /// <inheritdoc/>
    public override bool HasRequiredOps => !MissingRequiredOp;
    /// <inheritdoc/>
    public override bool ModuleGoingAway => GoingAway;
    /// <inheritdoc/>
    public override bool HasFreeze => ProvideFreeze;
    /// <inheritdoc/>
    public override bool HasUnfreeze => ProvideUnfreeze;
    /// <inheritdoc/>
    public override bool HasCanFinish => ProvideCanFinish;

    private static string TagOf(LiveupdateFileOpArgs a) => a.File is TestFile t ? t.Tag : $"token-{a.Token:x}";
    private Errno Record(TestOp op, LiveupdateFileOpArgs a, Errno r)
    {
        _log.Add(new TestOpRecord(op, a.Token, TagOf(a), a.SerializedData, a.RetrieveStatus, r));
        return r;
    }

    private Errno Configured(TestOp op, FaultPoint point, string tag)
    {
        Errno inj = _luo.Faults.Check(point, tag);
        if (inj != Errno.Ok) return inj;
        return Fail.GetValueOrDefault(op);
    }

    /// <inheritdoc/>
    public override bool CanPreserve(OpenFile file) => file is TestFile t && !t.RefusePreserve;

    /// <inheritdoc/>
    public override Errno Preserve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Errno rc = Configured(TestOp.Preserve, FaultPoint.TestPreserve, TagOf(args));
        if (rc == Errno.Ok)
        {
            args.SerializedData = ((TestFile)args.File!).Payload;
            args.PrivateData = TagOf(args);
        }
        return Record(TestOp.Preserve, args, rc);
    }

    /// <inheritdoc/>
    public override void Unpreserve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Record(TestOp.Unpreserve, args, Errno.Ok);
    }

    /// <inheritdoc/>
    public override Errno Freeze(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Errno rc = Configured(TestOp.Freeze, FaultPoint.TestFreeze, TagOf(args));
        if (rc == Errno.Ok && args.File is TestFile t) rc = t.FailFreeze;
        Record(TestOp.Freeze, args, rc);
        if (rc == Errno.Ok) args.SerializedData ^= FreezeXor;
        return rc;
    }

    /// <inheritdoc/>
    public override void Unfreeze(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Record(TestOp.Unfreeze, args, Errno.Ok);
    }

    /// <inheritdoc/>
    public override Errno Retrieve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Errno rc = Configured(TestOp.Retrieve, FaultPoint.TestRetrieve, TagOf(args));
        if (rc == Errno.Ok) args.File = new TestFile(_luo.Kernel, args.SerializedData, $"retrieved-{args.Token:x}");
        return Record(TestOp.Retrieve, args, rc);
    }

    /// <inheritdoc/>
    public override bool CanFinish(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool ok = !RefuseFinish && !(args.File is TestFile { RefuseFinish: true })
            && _luo.Faults.Check(FaultPoint.TestCanFinish, TagOf(args)) == Errno.Ok;
        Record(TestOp.CanFinish, args, ok ? Errno.Ok : Errno.EBUSY);
        return ok;
    }

    /// <inheritdoc/>
    public override void Finish(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Record(TestOp.Finish, args, Errno.Ok);
    }
}
