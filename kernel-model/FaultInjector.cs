using LuoModel.Kho;

namespace LuoModel.Kernel;

/// <summary>Named places where the model can be told to fail (issue 5 §4). Every point is checked exactly
/// where the kernel could fail with an allocation or handler error; void operations only record.</summary>
public enum FaultPoint
{
    /// <summary>CREATE_SESSION step 4: session allocation (ENOMEM).</summary>
    SessionAlloc,
    /// <summary>CREATE_SESSION step 7: anon-inode file creation (any errno).</summary>
    SessionFileAlloc,
    /// <summary>Growth of the outgoing session block set (one check per page allocated).</summary>
    SessionBlockGrow,
    /// <summary>Growth of a session's file block set (one check per page allocated).</summary>
    FileBlockGrow,
    /// <summary>PRESERVE_FD step 5: registry insert allocation (ENOMEM).</summary>
    RegistryInsert,
    /// <summary>PRESERVE_FD step 7: luo_file record allocation (ENOMEM).</summary>
    FileRecordAlloc,
    /// <summary>FLB preserve (0→1) of a linked FLB.</summary>
    FlbPreserve,
    /// <summary>memfd preserve: allocation of memfd_luo_ser.</summary>
    MemfdPreserveAlloc,
    /// <summary>memfd preserve: allocation of a zero folio filling a hole.</summary>
    MemfdFolioAlloc,
    /// <summary>memfd preserve: kho_preserve_folio of a data folio.</summary>
    MemfdFolioPreserve,
    /// <summary>memfd preserve: vcalloc of the folio array.</summary>
    MemfdArrayAlloc,
    /// <summary>memfd preserve: kho_preserve_vmalloc of the folio array.</summary>
    MemfdVmallocPreserve,
    /// <summary>memfd retrieve: creation of the new file.</summary>
    RetrieveAlloc,
    /// <summary>memfd retrieve: restore of a data folio (EIO).</summary>
    MemfdFolioRestore,
    /// <summary>Any kho_alloc_preserve() issued by LUO (blocks, roots, memfd record).</summary>
    KhoAllocPreserve,
    /// <summary>The test handler's freeze op.</summary>
    TestFreeze,
    /// <summary>The test handler's preserve op.</summary>
    TestPreserve,
    /// <summary>The test handler's retrieve op.</summary>
    TestRetrieve,
    /// <summary>The test handler's can_finish op: a failure means "refuse" (false).</summary>
    TestCanFinish,
    /// <summary>§4.2 step 3a: reservation of the next session entry at reboot (ENOSPC).</summary>
    SessionReserveEntry,
    /// <summary>§4.3: reservation of the next file entry at reboot (ENOSPC).</summary>
    FileReserveEntry,
    /// <summary>FDT-era reboot: kho_finalize() (any failure is reported as EAGAIN, luo.md §4.1).</summary>
    KhoFinalize,
    /// <summary>First-open deserialization: allocation of an incoming session.</summary>
    DeserializeSessionAlloc,
    /// <summary>First-open deserialization: allocation of an incoming file record.</summary>
    DeserializeFileAlloc,
    /// <summary>Late init: allocation of the outgoing luo_ser root.</summary>
    LateInitAlloc,
    /// <summary>Void operation records (unpreserve, unfreeze, finish): never fail, only logged.</summary>
    VoidOp,
}

/// <summary>One rule: the <see cref="Nth"/> call (1-based) of <see cref="Point"/> fails with
/// <see cref="Error"/>, and so do the following <see cref="Repeat"/>-1 calls.</summary>
public sealed record FaultRule(FaultPoint Point, int Nth, Errno Error, int Repeat = 1);

/// <summary>One checked call: point, its 1-based call number, and the injected result.</summary>
public readonly record struct FaultCall(FaultPoint Point, int Number, Errno Result, string Detail);

/// <summary>
/// The single fault-injection hook of the kernel model (shared with the property tests): rules of the form
/// "the n-th call of point P fails with errno E", per-point call counters and a call log. Safe to use from
/// several threads (model-only lock; the kernel's fault injection has its own).
/// </summary>
public sealed class FaultInjector
{
    private readonly Lock _gate = new();
    private readonly List<FaultRule> _rules = [];
    private static readonly int PointCount = Enum.GetValues<FaultPoint>().Max(p => (int)p) + 1;
    private readonly int[] _counts = new int[PointCount]; // indexed by point: the hot path does no hashing
    private readonly List<FaultCall> _log = [];

    /// <summary>Whether every check is recorded in <see cref="Log"/> (off by default for speed).</summary>
    public bool Logging { get; set; }

    /// <summary>Checked calls so far (only while <see cref="Logging"/> is on).</summary>
    public IReadOnlyList<FaultCall> Log => _log;

    /// <summary>Active rules.</summary>
    public IReadOnlyList<FaultRule> Rules => _rules;

    /// <summary>Adds a rule; returns this for chaining.</summary>
    public FaultInjector FailNth(FaultPoint point, int nth, Errno error, int repeat = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(nth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeat);
        lock (_gate) _rules.Add(new FaultRule(point, nth, error, repeat));
        return this;
    }

    /// <summary>Makes the next call of <paramref name="point"/> (counted from now) fail.</summary>
    public FaultInjector FailNext(FaultPoint point, Errno error) => FailNth(point, Count(point) + 1, error);

    /// <summary>Number of checks of <paramref name="point"/> so far.</summary>
    public int Count(FaultPoint point) => _counts[(int)point];

    /// <summary>Removes every rule, counter and log entry.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _rules.Clear();
            Array.Clear(_counts);
            _log.Clear();
        }
    }

    /// <summary>Removes rules only (counters keep running).</summary>
    public void ClearRules()
    {
        lock (_gate) _rules.Clear();
    }

    /// <summary>Counts one call of <paramref name="point"/> and returns the injected errno or Ok.</summary>
    public Errno Check(FaultPoint point, string detail = "")
    {
        if (_rules.Count == 0 && !Logging)
        {
            // Fast path (every call of a normal run): only the counter, atomically. A rule added by another
            // thread while this call runs may or may not apply to it.
            Interlocked.Increment(ref _counts[(int)point]);
            return Errno.Ok;
        }
        lock (_gate) return CheckLocked(point, detail);
    }

    private Errno CheckLocked(FaultPoint point, string detail)
    {
        int n = ++_counts[(int)point];
        Errno result = Errno.Ok;
        for (int i = 0; i < _rules.Count; i++)
        {
            var r = _rules[i];
            if (r.Point == point && n >= r.Nth && n < r.Nth + r.Repeat) { result = r.Error; break; }
        }
        if (Logging) _log.Add(new FaultCall(point, n, result, detail));
        return result;
    }

    /// <summary>Records a void operation (cannot fail).</summary>
    public void Record(string detail)
    {
        if (!Logging) return;
        lock (_gate) _log.Add(new FaultCall(FaultPoint.VoidOp, 0, Errno.Ok, detail));
    }
}
