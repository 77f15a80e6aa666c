using System.Globalization;
using LuoModel.Kernel;
using LuoModel.Testkit.Handover;

namespace LuoModel.Testkit.Reliability;

/// <summary>How one byte is corrupted.</summary>
public enum CorruptOp
{
    /// <summary>Every bit inverted (x ^ 0xFF).</summary>
    Flip,
    /// <summary>Written 0.</summary>
    Zero,
    /// <summary>Written 0xFF.</summary>
    Ones,
    /// <summary>Incremented (x + 1, wrapping).</summary>
    Inc,
}

/// <summary>Observed class of outcome (issue 9 §2).</summary>
public enum CorruptionOutcome
{
    /// <summary>Nothing observable changed (padding, ignored bytes, an extra reservation).</summary>
    Unchanged,
    /// <summary>A value changed and the next kernel shows exactly the new value (name, token, pos, data, ...).</summary>
    ValueFollowed,
    /// <summary>KHO revival disabled with a reason (kho.md §1.7): a normal boot, nothing incoming.</summary>
    KhoRevivalDisabled,
    /// <summary>The modelled panic (luo_restore_fail, luo.md §5.7).</summary>
    Panic,
    /// <summary>/dev/liveupdate fails EIO on every open (luo.md §5.7, §8 inv. 17).</summary>
    DeviceEio,
    /// <summary>Device opens; some RETRIEVE_FD fails with a kernel errno, the same on retry (sticky).</summary>
    RetrieveError,
    /// <summary>Device opens, every retrieve succeeds, but the state differs: the kernel followed a changed
    /// pointer or count to other (defined) data.</summary>
    StructureFollowed,
}

/// <summary>One corruption: region index, byte offset, operation.</summary>
public readonly record struct Corruption(int Region, int Offset, CorruptOp Op);

/// <summary>Result of one corruption run.</summary>
public sealed record CorruptionResult(Corruption Corruption, MetadataRegion Region, FieldInfo Field, CorruptionOutcome Outcome,
    bool WildPointer, string? Failure, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Region.Kind} {Region.Label} +{Corruption.Offset} ({Field.Name}) {Corruption.Op}: {Outcome}{(WildPointer ? " [wild pointer]" : "")}{(Failure is null ? "" : " FAILED: " + Failure)}");
}

/// <summary>
/// Corrupts the demo luo-v5 handover one byte at a time, boots the next kernel, retrieves and reads
/// everything (<see cref="HandoverObserver"/>) and classifies the outcome. Checks: never an exception, every
/// syscall result a kernel result, open fails EIO forever or not at all, a KHO rejection carries a reason;
/// a corrupted value byte gives exactly what <see cref="HandoverPredictor"/> derives from the bytes; a
/// corrupted pointer, count or KHO structure gives one of the defined outcomes. A pointer that no longer
/// points at a page the handover owns is flagged wild: the kernel's behaviour is undefined there, the model
/// must still stop with one of the defined outcomes.
/// </summary>
public sealed class CorruptionSweep
{
    private readonly DemoHandover _h;

    /// <summary>Prepares the sweep over the luo-v5 demo handover.</summary>
    public CorruptionSweep()
    {
        _h = DemoHandover.Get(LuoAbi.LuoV5);
        Baseline = HandoverObserver.Observe(_h.Boot(_h.LoadArena()));
    }

    /// <summary>The handover.</summary>
    public DemoHandover Handover => _h;
    /// <summary>What the unmodified handover gives.</summary>
    public Observation Baseline { get; }

    /// <summary>Every corruption that changes a byte, region by region.</summary>
    public IEnumerable<Corruption> All()
    {
        var arena = _h.LoadArena();
        for (int r = 0; r < _h.Regions.Count; r++)
        {
            var reg = _h.Regions[r];
            var bytes = new byte[reg.Length];
            arena.Read(reg.Phys, bytes);
            for (int o = 0; o < reg.Length; o++)
                foreach (var op in Enum.GetValues<CorruptOp>())
                    if (Apply(bytes[o], op) != bytes[o]) yield return new Corruption(r, o, op);
        }
    }

    /// <summary>A seeded sample of about <paramref name="total"/> corruptions spread evenly over the structure
    /// kinds (equal shares, drawn without replacement; small structures hand their unused share to the larger).</summary>
    public List<Corruption> Sample(int total, int seed)
    {
        var byKind = All().GroupBy(c => _h.Regions[c.Region].Kind).OrderBy(g => g.Count()).ThenBy(g => g.Key).ToList();
        var rng = new Random(seed);
        var list = new List<Corruption>();
        int left = total;
        for (int i = 0; i < byKind.Count; i++)
        {
            // equal shares; a kind with fewer corruptions than its share gives the rest to the larger kinds
            int share = left / (byKind.Count - i);
            var all = byKind[i].ToArray();
            rng.Shuffle(all);
            var take = all.Take(share).ToList();
            list.AddRange(take);
            left -= take.Count;
        }
        return list;
    }

    /// <summary>New value of a byte.</summary>
    public static byte Apply(byte b, CorruptOp op) => op switch
    {
        CorruptOp.Flip => (byte)(b ^ 0xFF),
        CorruptOp.Zero => 0,
        CorruptOp.Ones => 0xFF,
        _ => (byte)(b + 1),
    };

    /// <summary>Runs one corruption.</summary>
    public CorruptionResult Run(Corruption c)
    {
        var reg = _h.Regions[c.Region];
        var field = FieldMap.Classify(reg, c.Offset);
        var arena = _h.LoadArena();
        ulong at = reg.Phys + (ulong)c.Offset;
        Span<byte> one = stackalloc byte[1];
        arena.Read(at, one);
        one[0] = Apply(one[0], c.Op);
        arena.Write(at, one);
        bool wild = false;
        if (field.Kind == FieldKind.Pointer)
        {
            ulong v = arena.ReadU64(reg.Phys + (ulong)field.FieldOffset);
            if (reg.Kind == MetaKind.FolioArray) v = (v & ((1UL << 52) - 1)) << 12;
            wild = v != 0 && !_h.KnownPages.Contains(v & ~0xFFFUL);
        }
        Observation? expected = field.Kind == FieldKind.Value ? HandoverPredictor.Predict(_h, arena) : null;
        Observation obs;
        try
        {
            obs = HandoverObserver.Observe(_h.Boot(arena));
        }
#pragma warning disable CA1031 // an escaping exception is exactly what the sweep reports
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new CorruptionResult(c, reg, field, CorruptionOutcome.StructureFollowed, wild, $"exception {ex.GetType().Name}: {ex.Message}", ex.ToString());
        }
        var outcome = Classify(obs, field.Kind == FieldKind.Value);
        string? failure = obs.Anomaly;
        if (failure is null && expected is not null && !obs.SameAs(expected))
            failure = $"value corruption not followed: expected {expected}, observed {obs}";
        return new CorruptionResult(c, reg, field, outcome, wild, failure, obs.ToString());
    }

    private CorruptionOutcome Classify(Observation obs, bool value)
    {
        if (obs.SameAs(Baseline)) return CorruptionOutcome.Unchanged;
        return obs.Boot switch
        {
            BootKind.KhoRejected => CorruptionOutcome.KhoRevivalDisabled,
            BootKind.Panic => CorruptionOutcome.Panic,
            BootKind.DeviceEio => CorruptionOutcome.DeviceEio,
            _ when obs.AnyRetrieveFailed => CorruptionOutcome.RetrieveError,
            _ => value ? CorruptionOutcome.ValueFollowed : CorruptionOutcome.StructureFollowed,
        };
    }
}
