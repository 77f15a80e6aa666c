using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Running;
using LuoModel.Fdt;

namespace LuoModel.Bench;

/// <summary>Shared configuration: allocations, and MB/s of the blob each operation builds or reads.</summary>
internal sealed class FdtBenchConfig : ManualConfig
{
    private static readonly Dictionary<(int, int, bool), int> Sizes = [];

    public FdtBenchConfig()
    {
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(new ThroughputColumn("MB/s", BlobBytes));
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory);
    }

    private static double BlobBytes(BenchmarkCase c)
    {
        int s = ThroughputColumn.Param(c, "S"), f = ThroughputColumn.Param(c, "F");
        bool noDedup = c.Descriptor.WorkloadMethod.Name.Contains("NoDedup", StringComparison.Ordinal);
        lock (Sizes)
        {
            if (!Sizes.TryGetValue((s, f, noDedup), out int size))
                Sizes[(s, f, noDedup)] = size = new LuoShapedTree(s, f).BlobSize(noDedup ? FdtCreateFlags.NoNameDedup : FdtCreateFlags.None);
            return size;
        }
    }
}

/// <summary>
/// Building the LUO-shaped tree into a buffer of exactly the final size (fdt_create zeroes it, included),
/// managed writer against libfdt through P/Invoke (issue 3 §4).
/// </summary>
[Config(typeof(FdtBenchConfig))]
public unsafe class FdtBuildBenchmarks
{
    [Params(16, 256, 4096)] public int S { get; set; }
    [Params(1, 16, 64)] public int F { get; set; }

    private LuoShapedTree _tree = null!;
    private readonly FdtWriter _writer = new();
    private byte[] _buf = [], _bufNoDedup = [];
    private byte* _native, _nativeNoDedup;

    [GlobalSetup]
    public void Setup()
    {
        _tree = new LuoShapedTree(S, F);
        _buf = new byte[_tree.BlobSize(FdtCreateFlags.None)];
        _bufNoDedup = new byte[_tree.BlobSize(FdtCreateFlags.NoNameDedup)];
        if (NativeLibfdt.IsAvailable)
        {
            _native = (byte*)NativeMemory.AlignedAlloc((nuint)_buf.Length, 8);
            _nativeNoDedup = (byte*)NativeMemory.AlignedAlloc((nuint)_bufNoDedup.Length, 8);
            // Same bytes from both implementations, or the comparison is meaningless.
            if (NativeLibfdt.Build(_tree, _native, _buf.Length, 0) != 0 || _tree.Build(_writer, _buf, FdtCreateFlags.None) != 0
                || !new ReadOnlySpan<byte>(_native, _buf.Length).SequenceEqual(_buf))
                throw new InvalidOperationException("managed and native builds differ");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_native);
        NativeMemory.AlignedFree(_nativeNoDedup);
        _native = _nativeNoDedup = null;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("build")] public int LibfdtBuild() => NativeLibfdt.Build(_tree, _native, _buf.Length, 0);
    [Benchmark, BenchmarkCategory("build")] public int Build() => _tree.Build(_writer, _buf, FdtCreateFlags.None);
    [Benchmark(Baseline = true), BenchmarkCategory("build-nodedup")] public int LibfdtBuildNoDedup() => NativeLibfdt.Build(_tree, _nativeNoDedup, _bufNoDedup.Length, 1);
    [Benchmark, BenchmarkCategory("build-nodedup")] public int BuildNoDedup() => _tree.Build(_writer, _bufNoDedup, FdtCreateFlags.NoNameDedup);
}

/// <summary>Reading the same tree: generic walk by offset, getprop by name, and the full validator.</summary>
[Config(typeof(FdtBenchConfig))]
public unsafe class FdtReadBenchmarks
{
    [Params(16, 256, 4096)] public int S { get; set; }
    [Params(1, 16, 64)] public int F { get; set; }

    private byte[] _blob = [];
    private byte* _native;

    [GlobalSetup]
    public void Setup()
    {
        _blob = new LuoShapedTree(S, F).Blob(FdtCreateFlags.None);
        if (NativeLibfdt.IsAvailable)
        {
            _native = (byte*)NativeMemory.AlignedAlloc((nuint)_blob.Length, 8);
            _blob.CopyTo(new Span<byte>(_native, _blob.Length));
            if (NativeLibfdt.Walk(_native) != LuoShapedTree.Walk(_blob) || NativeLibfdt.GetPropAll(_native) != LuoShapedTree.GetPropAll(_blob))
                throw new InvalidOperationException("managed and native readers disagree");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_native);
        _native = null;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("walk")] public ulong LibfdtWalk() => NativeLibfdt.Walk(_native);
    [Benchmark, BenchmarkCategory("walk")] public ulong Walk() => LuoShapedTree.Walk(_blob);
    [Benchmark(Baseline = true), BenchmarkCategory("getprop")] public ulong LibfdtGetProp() => NativeLibfdt.GetPropAll(_native);
    [Benchmark, BenchmarkCategory("getprop")] public ulong GetProp() => LuoShapedTree.GetPropAll(_blob);
    [Benchmark(Baseline = true), BenchmarkCategory("check")] public int LibfdtCheckFull() => NativeLibfdt.CheckFull(_native, (nuint)_blob.Length);
    [Benchmark, BenchmarkCategory("check")] public int CheckFull() => LuoModel.Fdt.Fdt.CheckFull(_blob);
}
