using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace LuoModel.Bench;

/// <summary>
/// A throughput column: bytes per operation (computed in the host process from the case's parameters,
/// where [GlobalSetup] never ran) divided by the mean time. MB = 10^6 bytes, as in the libfdt results.
/// </summary>
internal sealed class ThroughputColumn(string name, Func<BenchmarkCase, double> bytesPerOp, string unit = "MB/s", double scale = 1e6) : IColumn
{
    private readonly ConcurrentDictionary<string, double> _cache = new(StringComparer.Ordinal);

    public string Id => $"{nameof(ThroughputColumn)}.{name}";
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"{unit} computed from the bytes (or items) one operation processes and the mean time";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        double? meanNs = report?.ResultStatistics?.Mean;
        if (meanNs is null or <= 0) return "-";
        double bytes = _cache.GetOrAdd(benchmarkCase.DisplayInfo, _ => bytesPerOp(benchmarkCase));
        double perSecond = bytes / (meanNs.Value * 1e-9) / scale;
        return perSecond.ToString(perSecond >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture);
    }

    public static int Param(BenchmarkCase c, string name) => Convert.ToInt32(c.Parameters[name], CultureInfo.InvariantCulture);
}
