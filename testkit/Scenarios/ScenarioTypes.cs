using System.Globalization;
using LuoModel.Kho;

namespace LuoModel.Testkit;

/// <summary>How an upstream case runs (scenarios.md §1).</summary>
public enum ScenarioKind
{
    /// <summary>One TEST_F of liveupdate.c under the kselftest harness (fork → grandchild, one boot).</summary>
    HarnessTest,
    /// <summary>A two-stage program (stage 1, daemonize, kexec, stage 2).</summary>
    TwoStageProgram,
    /// <summary>The in-kernel KHO test module (lib/test_kho.c) over two boots.</summary>
    KhoModule,
    /// <summary>A check embedded in other tests (scenarios.md rows A3, A4, B7, B8, C6, C7, D*, E*).</summary>
    Embedded,
}

/// <summary>Outcome of one scenario run.</summary>
public enum ScenarioOutcome
{
    /// <summary>Every step behaved as mainline N expects.</summary>
    Pass,
    /// <summary>At least one step differed (see <see cref="ScenarioResult.FirstFailure"/>).</summary>
    Fail,
    /// <summary>The program skipped (e.g. /dev/liveupdate missing, RLIMIT_NOFILE not raisable).</summary>
    Skip,
}

/// <summary>What a call must return: a value, a specific −errno, any non-negative value (an fd or a count),
/// or any negative value.</summary>
public readonly record struct Want
{
    private enum Shape { Equal, NonNegative, Negative }

    private Want(Shape shape, long value)
    {
        _shape = shape;
        Value = value;
    }

    private readonly Shape _shape;

    /// <summary>The exact value for an equality expectation.</summary>
    public long Value { get; }

    /// <summary>Any non-negative result (a new fd, a byte count).</summary>
    public static Want Fd { get; } = new(Shape.NonNegative, 0);
    /// <summary>Any negative result.</summary>
    public static Want Negative { get; } = new(Shape.Negative, 0);
    /// <summary>Exactly 0.</summary>
    public static Want Zero { get; } = new(Shape.Equal, 0);
    /// <summary>Exactly <paramref name="value"/>.</summary>
    public static Want Eq(long value) => new(Shape.Equal, value);
    /// <summary>Exactly −<paramref name="errno"/>.</summary>
    public static Want Err(Errno errno) => new(Shape.Equal, -(long)errno);

    /// <summary>Whether <paramref name="actual"/> satisfies the expectation.</summary>
    public bool Matches(long actual) => _shape switch
    {
        Shape.NonNegative => actual >= 0,
        Shape.Negative => actual < 0,
        _ => actual == Value,
    };

    /// <inheritdoc/>
    public override string ToString() => _shape switch
    {
        Shape.NonNegative => ">= 0",
        Shape.Negative => "< 0",
        _ => Syscalls.ResultText(Value),
    };
}

/// <summary>One checked step: what was expected and what happened. <paramref name="Fatal"/> marks an
/// ASSERT-like step whose failure ended the test or program.</summary>
public sealed record ScenarioStep(string Name, string Expected, string Actual, bool Passed, bool Fatal)
{
    /// <inheritdoc/>
    public override string ToString() =>
        Passed ? $"ok: {Name} = {Actual}" : $"FAILED: {Name}: expected {Expected}, got {Actual}";
}

/// <summary>How one program (or program stage) ended: its name as run and its exit status.</summary>
public sealed record ProgramExit(string Program, int Status)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Program}: exit {Status.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>The structured result of one scenario run.</summary>
/// <param name="Scenario">The catalog row.</param>
/// <param name="Outcome">Pass, fail or skip.</param>
/// <param name="Steps">Every checked step in order.</param>
/// <param name="SkipReason">Why the program skipped (null unless <see cref="ScenarioOutcome.Skip"/> or a
/// skip was part of an embedded check).</param>
/// <param name="Output">Lines the programs (and, for row I, the kernel log) printed.</param>
/// <param name="Exits">Exit status of each program or stage that ran.</param>
/// <param name="Trace">Every call made.</param>
public sealed record ScenarioResult(
    Scenario Scenario,
    ScenarioOutcome Outcome,
    IReadOnlyList<ScenarioStep> Steps,
    string? SkipReason,
    IReadOnlyList<string> Output,
    IReadOnlyList<ProgramExit> Exits,
    SyscallLog Trace)
{
    /// <summary>The first step that did not behave as expected, or null.</summary>
    public ScenarioStep? FirstFailure => Steps.FirstOrDefault(s => !s.Passed);

    /// <summary>One line: id, name, outcome and the reason.</summary>
    public string Summary => Outcome switch
    {
        ScenarioOutcome.Pass => $"{Scenario.Id} {Scenario.UpstreamName}: pass ({Steps.Count} steps)",
        ScenarioOutcome.Skip => $"{Scenario.Id} {Scenario.UpstreamName}: skip ({SkipReason})",
        _ => $"{Scenario.Id} {Scenario.UpstreamName}: fail at {FirstFailure}",
    };

    /// <inheritdoc/>
    public override string ToString() => Summary;
}
