using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Running;
using LuoModel.Bench;

if (args.Length > 0 && args[0] == "phases") return LuoPhases.Run(args, Console.Out);
if (args.Length > 0 && args[0] == "fdt-build-probe") return FdtBuildProbe.Run(args, Console.Out);

// One entry point for every benchmark class: --filter, --job and --list work as usual.
IConfig? config = null;
if (!NativeLibfdt.IsAvailable)
{
    Console.WriteLine("libfdt.so.1 not found (Debian package libfdt1): skipping the native libfdt baseline rows.");
    config = DefaultConfig.Instance.AddFilter(new SimpleFilter(c => !c.Descriptor.WorkloadMethod.Name.StartsWith("Libfdt", StringComparison.Ordinal)));
}
BenchmarkSwitcher.FromAssembly(typeof(LuoShapedTree).Assembly).Run(args, config);
return 0;
