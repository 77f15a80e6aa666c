using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(LuoModel.Bench.BenchMarker).Assembly).Run(args);

namespace LuoModel.Bench
{
    /// <summary>Anchor type for the benchmark switcher.</summary>
    internal static class BenchMarker;
}
