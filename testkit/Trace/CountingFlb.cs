using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Testkit.Trace;

/// <summary>
/// The test FLB a trace target links to the test handler at every boot (like CONFIG_LIVEUPDATE_TEST's
/// test FLBs, luo.md §2.4): it counts its op calls so property tests can check luo.md §8 inv. 10 and 23.
/// </summary>
public sealed class CountingFlb : LiveupdateFlb
{
    /// <summary>Compatible of the test FLB.</summary>
    public const string Name = "luo-test-flb-v1";
    /// <summary>data handed over by preserve (a fixed value, so traces are deterministic).</summary>
    public const ulong PreservedData = 0xF1B0_0001;

    /// <summary>Creates the FLB.</summary>
    public CountingFlb() : base(Name) { }

    /// <summary>preserve calls.</summary>
    public int PreserveCalls { get; private set; }
    /// <summary>unpreserve calls.</summary>
    public int UnpreserveCalls { get; private set; }
    /// <summary>retrieve calls.</summary>
    public int RetrieveCalls { get; private set; }
    /// <summary>finish calls.</summary>
    public int FinishCalls { get; private set; }
    /// <summary>data seen by the last retrieve.</summary>
    public ulong RetrievedData { get; private set; }

    /// <inheritdoc/>
    public override Errno Preserve(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        PreserveCalls++;
        args.Data = PreservedData;
        args.Obj = new object();
        return Errno.Ok;
    }

    /// <inheritdoc/>
    public override void Unpreserve(LiveupdateFlbOpArgs args) => UnpreserveCalls++;

    /// <inheritdoc/>
    public override Errno Retrieve(LiveupdateFlbOpArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        RetrieveCalls++;
        RetrievedData = args.Data;
        args.Obj = new object();
        return Errno.Ok;
    }

    /// <inheritdoc/>
    public override void Finish(LiveupdateFlbOpArgs args) => FinishCalls++;
}
