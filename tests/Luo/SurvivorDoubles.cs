using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Tests.Luo;

/// <summary>A minimal file handler for <see cref="TestFile"/>s that only implements the required ops, so the
/// defaults of <see cref="LiveupdateFileHandler"/> show; get_id can be declared absent while the method still
/// answers <see cref="Id"/> (LUO must then key the registry by the file itself, luo.md §2.4).</summary>
internal sealed class PlainHandler(string compatible) : LiveupdateFileHandler(compatible)
{
    public bool ProvideGetId { get; set; }
    public object? Id { get; set; }
    public override bool HasGetId => ProvideGetId;
    public override object GetId(OpenFile file) => Id ?? file;
    public override bool CanPreserve(OpenFile file) => file is TestFile;
    public override Errno Preserve(LiveupdateFileOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        args.SerializedData = 0x5A;
        return Errno.Ok;
    }
    public override void Unpreserve(LiveupdateFileOpArgs args) { }
    public override Errno Retrieve(LiveupdateFileOpArgs args) => Errno.ENOENT;
    public override void Finish(LiveupdateFileOpArgs args) { }
}

/// <summary>An FLB that records every op with the data and object it was given (luo.md §2.5).</summary>
internal sealed class RecordingFlb(string name) : LiveupdateFlb(name)
{
    public Errno PreserveResult { get; set; }
    public bool GoingAway { get; set; }
    public bool MissingOps { get; set; }
    public ulong DataToPreserve { get; set; } = 0xD47A;
    public object ObjToPreserve { get; } = new();
    public object RetrievedObj { get; } = new();
    public List<string> Calls { get; init; } = [];
    public (ulong Data, object? Obj) Unpreserved { get; private set; }
    public (ulong Data, object? Obj) Retrieved { get; private set; }
    public (ulong Data, object? Obj) Finished { get; private set; }

    public override bool HasRequiredOps => !MissingOps;
    public override bool ModuleGoingAway => GoingAway;

    public override Errno Preserve(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Calls.Add($"preserve {Compatible}");
        if (PreserveResult != Errno.Ok) return PreserveResult;
        args.Data = DataToPreserve;
        args.Obj = ObjToPreserve;
        return Errno.Ok;
    }

    public override void Unpreserve(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Calls.Add($"unpreserve {Compatible}");
        Unpreserved = (args.Data, args.Obj);
    }

    public override Errno Retrieve(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Calls.Add($"retrieve {Compatible}");
        Retrieved = (args.Data, args.Obj);
        args.Obj = RetrievedObj;
        return Errno.Ok;
    }

    public override void Finish(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        Calls.Add($"finish {Compatible}");
        Finished = (args.Data, args.Obj);
    }
}

/// <summary>Records the scheduling points the model announces on this thread; never blocks.</summary>
internal sealed class RecordingScheduler : IKernelScheduler
{
    public List<object> Yields { get; } = [];
    public void YieldPoint(object resource) => Yields.Add(resource);
    public void Block(object resource) => throw new InvalidOperationException($"blocked on {resource}");
    public void Wake(object resource) { }
}

/// <summary>A registry key whose ToString() answers null.</summary>
internal sealed class NamelessId
{
    public override string? ToString() => null;
}
