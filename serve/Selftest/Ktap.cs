using System.Globalization;
using System.Text.RegularExpressions;

namespace LuoModel.Serve.Selftest;

/// <summary>Result of one reported case.</summary>
public enum CaseResult
{
    /// <summary>ok.</summary>
    Pass,
    /// <summary>not ok.</summary>
    Fail,
    /// <summary>ok … # SKIP.</summary>
    Skip,
}

/// <summary>One line of the report: result, name, SKIP reason, and diagnostics printed before it.</summary>
public sealed record KtapCase(CaseResult Result, string Name, string? SkipReason, IReadOnlyList<string> Diagnostics);

/// <summary>The single KTAP/TAP report of a <c>luo selftest</c> run.</summary>
public sealed partial class KtapReport
{
    private readonly List<KtapCase> _cases = [];
    private readonly List<string> _header = [];
    private readonly List<string> _trailer = [];

    /// <summary>Cases in order.</summary>
    public IReadOnlyList<KtapCase> Cases => _cases;

    /// <summary>Number of passing cases.</summary>
    public int Passed => _cases.Count(c => c.Result == CaseResult.Pass);
    /// <summary>Number of failing cases.</summary>
    public int Failed => _cases.Count(c => c.Result == CaseResult.Fail);
    /// <summary>Number of skipped cases.</summary>
    public int Skipped => _cases.Count(c => c.Result == CaseResult.Skip);

    /// <summary>Adds a comment printed after the version line.</summary>
    public void Comment(string text) => _header.Add(text);

    /// <summary>Adds a comment printed after the totals line.</summary>
    public void Trailer(string text) => _trailer.Add(text);

    /// <summary>Adds a case.</summary>
    public void Add(CaseResult result, string name, string? skipReason = null, IEnumerable<string>? diagnostics = null) =>
        _cases.Add(new KtapCase(result, name, skipReason, [.. diagnostics ?? []]));

    /// <summary>Writes "TAP version 13", the plan, every case and the kselftest totals line.</summary>
    public void Render(TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(w);
        var inv = CultureInfo.InvariantCulture;
        w.WriteLine("TAP version 13");
        foreach (string h in _header) w.WriteLine("# " + h);
        w.WriteLine(string.Create(inv, $"1..{_cases.Count}"));
        for (int i = 0; i < _cases.Count; i++)
        {
            var c = _cases[i];
            foreach (string d in c.Diagnostics) w.WriteLine("# " + d);
            string line = string.Create(inv, $"{(c.Result == CaseResult.Fail ? "not ok" : "ok")} {i + 1} {c.Name}");
            if (c.Result == CaseResult.Skip) line += " # SKIP" + (string.IsNullOrEmpty(c.SkipReason) ? "" : " " + c.SkipReason);
            w.WriteLine(line);
        }
        w.WriteLine(string.Create(inv, $"# Totals: pass:{Passed} fail:{Failed} xfail:0 xpass:0 skip:{Skipped} error:0"));
        foreach (string t in _trailer) w.WriteLine("# " + t);
    }

    [GeneratedRegex(@"^\s*(not ok|ok)\s+(\d+)\s*(?:-\s*)?(.*?)\s*(?:#\s*(SKIP|skip|Skip|TODO|XFAIL)\b\s*(.*))?$")]
    private static partial Regex ResultLine();

    [GeneratedRegex(@"^\s*1\.\.(\d+)(?:\s*#\s*(?:SKIP|skip)\s*(.*))?")]
    private static partial Regex PlanLine();

    /// <summary>One parsed TAP stream: the plan, its SKIP-all reason and the results with the diagnostics
    /// that preceded each.</summary>
    public sealed record TapStream(int? Plan, string? SkipAll, IReadOnlyList<KtapCase> Results);

    /// <summary>Parses the TAP a kselftest program prints.</summary>
    public static TapStream ParseTap(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int? plan = null;
        string? skipAll = null;
        var results = new List<KtapCase>();
        var diag = new List<string>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            var pm = PlanLine().Match(line);
            if (pm.Success && plan is null)
            {
                plan = int.Parse(pm.Groups[1].Value, CultureInfo.InvariantCulture);
                if (pm.Groups[2].Success) skipAll = pm.Groups[2].Value.Trim();
                continue;
            }
            var m = ResultLine().Match(line);
            if (m.Success)
            {
                string directive = m.Groups[4].Value.ToUpperInvariant();
                var result = m.Groups[1].Value == "ok"
                    ? (directive == "SKIP" ? CaseResult.Skip : CaseResult.Pass)
                    : (directive is "TODO" or "XFAIL" ? CaseResult.Pass : CaseResult.Fail);
                results.Add(new KtapCase(result, m.Groups[3].Value, result == CaseResult.Skip ? m.Groups[5].Value.Trim() : null, [.. diag]));
                diag.Clear();
                continue;
            }
            if (line.TrimStart().StartsWith('#')) diag.Add(line.TrimStart()[1..].Trim());
        }
        return new TapStream(plan, skipAll, results);
    }
}
