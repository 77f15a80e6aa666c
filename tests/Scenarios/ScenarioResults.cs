using System.Collections.Concurrent;
using LuoModel.Testkit;

namespace LuoModel.Tests.Scenarios;

/// <summary>Each catalog row run once per test process under mainline N (rows are independent: every run
/// boots its own machines), shared by the per-row tests and the whole-catalog test.</summary>
internal static class ScenarioResults
{
    private static readonly ConcurrentDictionary<string, Lazy<ScenarioResult>> s_results = new();

    public static ScenarioResult Get(string id) =>
        s_results.GetOrAdd(id, i => new Lazy<ScenarioResult>(() => ScenarioCatalog.Get(i).Run())).Value;

    /// <summary>Runs the row, asserts that it passed (showing the first failing step otherwise) and returns it.</summary>
    public static ScenarioResult Passed(string id)
    {
        var r = Get(id);
        Assert.True(r.Outcome == ScenarioOutcome.Pass, r.Summary + "\n" + string.Join("\n", r.Output));
        Assert.Null(r.FirstFailure);
        return r;
    }

    /// <summary>Records of one call name in trace order.</summary>
    public static List<SyscallRecord> Calls(this ScenarioResult r, string call) => [.. r.Trace.Records.Where(x => x.Call == call)];

    /// <summary>ioctl records of one command (by its uAPI name).</summary>
    public static List<SyscallRecord> Ioctls(this ScenarioResult r, string cmd) =>
        [.. r.Trace.Records.Where(x => x.Call == "ioctl" && x.Args.Contains(", " + cmd + ", ", StringComparison.Ordinal))];

    /// <summary>Result texts of a list of records.</summary>
    public static string[] Results(this IEnumerable<SyscallRecord> records) => [.. records.Select(x => x.ResultText)];

    /// <summary>The step with this exact name.</summary>
    public static ScenarioStep Step(this ScenarioResult r, string name) =>
        r.Steps.FirstOrDefault(s => s.Name == name) ?? throw new Xunit.Sdk.XunitException($"no step \"{name}\" in {r.Scenario.Id}");
}
