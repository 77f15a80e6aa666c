using System.Collections;

namespace LuoModel.Kernel;

/// <summary>An immutable list with structural equality (so snapshot records compare by value).</summary>
public sealed class ValueList<T> : IReadOnlyList<T>, IEquatable<ValueList<T>>
{
    private readonly T[] _items;
    /// <summary>Wraps a copy of <paramref name="items"/>.</summary>
    public ValueList(IEnumerable<T> items) => _items = [.. items];
    /// <inheritdoc/>
    public T this[int index] => _items[index];
    /// <inheritdoc/>
    public int Count => _items.Length;
    /// <inheritdoc/>
    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();
    /// <inheritdoc/>
    public bool Equals(ValueList<T>? other) => other is not null && _items.AsSpan().SequenceEqual(other._items);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ValueList<T>);
    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var i in _items) h.Add(i);
        return h.ToHashCode();
    }
    /// <inheritdoc/>
    public override string ToString() => "[" + string.Join(", ", _items) + "]";
}

/// <summary>One preserved file as LUO sees it.</summary>
public sealed record FileSnapshot(ulong Token, string Compatible, ulong SerializedData, int RetrieveStatus, ulong FileId, string? RegistryId, object? PrivateData);

/// <summary>One session as LUO sees it.</summary>
public sealed record SessionSnapshot(string Name, SessionState State, bool Retrieved, ValueList<FileSnapshot> Files, ValueList<ulong> FileBlocks, ulong FdtFileArea);

/// <summary>One FLB's counters.</summary>
public sealed record FlbSnapshot(string Compatible, int Users, long OutgoingCount, ulong OutgoingData, long IncomingCount, bool Retrieved, bool Finished);

/// <summary>
/// Everything §8 invariant 11 compares after a failed reboot: sessions in order with files, tokens, handler
/// compatible, serialized data, private data and block pages; registry ids; FLB counts; the session block
/// pages and sessions_pa; KHO's preserved (phys, order) set; device state.
/// </summary>
public sealed record LuoStateSnapshot(
    ValueList<SessionSnapshot> Outgoing,
    ValueList<SessionSnapshot> Incoming,
    ValueList<string> Registry,
    ValueList<FlbSnapshot> Flbs,
    ValueList<ulong> SessionBlocks,
    ulong SessionsPa,
    ValueList<(ulong Phys, int Order)> Preserved,
    bool DeviceInUse,
    bool Frozen,
    ulong LiveupdateNum);

public sealed partial class Luo
{
    /// <summary>sessions_pa currently stored in the outgoing root (luo-v5; 0 otherwise).</summary>
    public ulong OutSessionsPa => Options.Abi == LuoAbi.LuoV5 && OutRootPhys != 0 ? Kho.Arena.ReadU64(OutRootPhys + LuoSerRoot.SessionsPaOffset) : 0;

    private static SessionSnapshot Snap(LuoSession s) => new(
        s.Name, s.State, s.Retrieved,
        new ValueList<FileSnapshot>(s.FileList.Select(f => new FileSnapshot(f.Token, f.Handler.Compatible, f.SerializedData, f.RetrieveStatus,
            f.File?.Id ?? 0, f.RegistryId is null ? null : DescribeId(f.RegistryId), f.PrivateData))),
        new ValueList<ulong>(s.FileBlocks?.Blocks ?? []), s.FdtFileArea);

    /// <summary>A value snapshot of the whole LUO state plus KHO's preserved set.</summary>
    public LuoStateSnapshot Snapshot() => new(
        new ValueList<SessionSnapshot>(Outgoing.List.Select(Snap)),
        new ValueList<SessionSnapshot>(Incoming.List.Select(Snap)),
        new ValueList<string>(_registry.Keys.Select(DescribeId).Order(StringComparer.Ordinal)),
        new ValueList<FlbSnapshot>(_flbs.Select(f => new FlbSnapshot(f.Compatible, f.Users, f.OutgoingCount, f.OutgoingData, f.IncomingCount, f.IncomingRetrieved, f.IncomingFinished))),
        new ValueList<ulong>(Outgoing.Blocks?.Blocks ?? []),
        OutSessionsPa,
        new ValueList<(ulong, int)>(Kho.IsDead ? [] : Kho.PreservedBlocks().OrderBy(b => b.Phys).ThenBy(b => b.Order)),
        DeviceInUse, IsFrozen, LiveupdateNum);
}
