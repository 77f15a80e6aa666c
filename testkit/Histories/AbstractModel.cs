using System.Collections.Immutable;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Histories;

/// <summary>Life phase of the modelled boot.</summary>
internal enum Phase { Running, Frozen, Panicked }

/// <summary>Kinds of open file descriptions the model tracks.</summary>
internal enum DKind { Device, Session, Memfd, Test, Null, Path }

/// <summary>Incoming session states (luo.md §2.2).</summary>
internal enum IState { Pending, Open, Leaked }

/// <summary>An open file description. Memfds carry their inode (one description per inode in these
/// histories); test files their payload and per-file handler behaviour. <see cref="Content"/> is never
/// mutated (copy on write).</summary>
internal sealed record Desc(DKind Kind, bool Writable = true, long Pos = 0, long Size = 0, uint Seals = 0, bool SizeFrozen = false,
    bool Hugetlb = false, ImmutableSortedSet<int>? Pages = null, byte[]? Content = null, ulong Payload = 0, string Tag = "",
    Errno FailFreeze = Errno.Ok, bool RefusePreserve = false, bool RefuseFinish = false)
{
    public ImmutableSortedSet<int> PageSet => Pages ?? [];
    public byte[] Bytes => Content ?? [];
}

/// <summary>A preserved outgoing file: token, the description LUO holds, and the test handler's data
/// (payload, XOR-ed by every successful freeze) or the memfd seals recorded at preserve.</summary>
internal sealed record OFile(ulong Token, int Desc, bool Memfd, ulong Data, uint Seals);

/// <summary>An outgoing session.</summary>
internal sealed record OSess(int Desc, byte[] Name, ImmutableList<OFile> Files);

/// <summary>What the next kernel gets for one memfd.</summary>
internal sealed record MemfdImage(byte[] Content, long Size, long Pos, uint Seals);

/// <summary>An incoming file: token, handler, retrieve_status, the retrieved description, handed data.</summary>
internal sealed record IFile(ulong Token, bool Memfd, int Status, int Desc, ulong Data, MemfdImage? Image);

/// <summary>An incoming session.</summary>
internal sealed record ISess(byte[] Name, IState State, int Desc, ImmutableList<IFile> Files, int FileBlocks);

/// <summary>A handed-over file before the first open deserializes it (memfd images are taken at kexec,
/// because writes after the reboot still land in the preserved pages).</summary>
internal sealed record HFile(ulong Token, bool Memfd, ulong Data, int MemfdDesc, long Pos, uint Seals, MemfdImage? Image = null);

/// <summary>A handed-over session.</summary>
internal sealed record HSess(byte[] Name, ImmutableList<HFile> Files);

/// <summary>The outgoing handover after a successful reboot.</summary>
internal sealed record Handover(bool Luo, ulong Num, ImmutableList<HSess> Sessions, bool Panic, long FlbCount, int BadCountSession);

/// <summary>The test FLB as LUO sees it (luo.md §2.5).</summary>
internal sealed record FlbModel(long Out = 0, int Preserves = 0, int Unpreserves = 0, bool Page = false, long? Entry = null,
    long InCount = 0, bool Retrieved = false, bool Finished = false, int Retrieves = 0, int Finishes = 0);

/// <summary>A fault rule: the check of <see cref="Point"/> that brings <see cref="Left"/> to 0 fails.</summary>
internal sealed record Armed(FaultPoint Point, int Left, Errno Error);

/// <summary>One expected test-handler call.</summary>
internal readonly record struct HCall(TestOp Op, ulong Token, string Tag, Errno Result)
{
    public override string ToString() => $"{Op}({Tag}, token {Token:x}) = {Result}";
}

/// <summary>What the latest op must do: its result, the handler calls it makes, and whether it is one of the
/// documented exceptions to "a failed ioctl changes nothing" (luo.md §8 inv. 5).</summary>
internal sealed record Outcome(long Value, byte[]? Data, ImmutableList<HCall> Calls, bool Exception)
{
    public static Outcome None { get; } = new(0, null, [], false);
}

/// <summary>
/// The abstract model of one machine (luo.md §2–§6 for N, kho.md §5 for the test region): immutable, one
/// record per step. <see cref="Last"/> is what the latest operation must return.
/// </summary>
internal sealed record Model(
    Phase Phase, int Boot, bool Enabled, ulong Num, ulong Soft,
    ImmutableSortedDictionary<int, int> Fds, ImmutableDictionary<int, Desc> Descs, int NextDesc,
    bool InUse, bool Deserialized, bool Eio,
    ImmutableList<OSess> Out, int SBlocks,
    ImmutableList<ISess> In, ImmutableList<HSess> Pending,
    ImmutableHashSet<int> Registry, FlbModel? Flb, ImmutableList<Armed> Armed, Handover? Next,
    ImmutableHashSet<(int Index, int Order)> Keys, ImmutableDictionary<int, int> Heads,
    int Attempts, int SinceBoot, int Kexecs, Outcome Last)
{
    /// <summary>Outcomes of every call of the latest machine step (set by the machine).</summary>
    public ImmutableList<Outcome> Batch { get; init; } = [];

    public const ulong DefaultSoft = 1024;
    public const ulong Hard = 524288;

    public static Model ColdBoot(int kexecs = 0) => new(Phase.Running, 1, true, 0, DefaultSoft,
        ImmutableSortedDictionary<int, int>.Empty, ImmutableDictionary<int, Desc>.Empty, 1, false, false, false,
        [], 0, [], [], [], new FlbModel(), [], null, [], ImmutableDictionary<int, int>.Empty, 0, 0, kexecs, Outcome.None);

    /// <summary>Short form for FsCheck's listing (the trace carries the details).</summary>
    public override string ToString() =>
        $"boot {Boot} {Phase}{(Enabled ? "" : " luo-off")}: {Fds.Count} fds, out {Out.Count}, in {In.Count}";
}
