using LuoModel.Kernel;

namespace LuoModel.Testkit;

/// <summary>
/// The state of one scenario execution: the base configuration, the shared trace, the machines it booted,
/// the checked steps, the output lines and program exits. Scenario bodies and the upstream programs record
/// into it; <see cref="Scenario.Run"/> turns it into a <see cref="ScenarioResult"/>.
/// </summary>
public sealed class ScenarioRun
{
    private readonly List<ScenarioStep> _steps = [];
    private readonly List<string> _output = [];
    private readonly List<ProgramExit> _exits = [];
    private readonly MachineCounter _machines;

    private sealed class MachineCounter
    {
        public int Next;
    }

    internal ScenarioRun(Scenario scenario, KernelConfig config, bool trace)
        : this(scenario, config, new SyscallLog(trace), new MachineCounter()) { }

    private ScenarioRun(Scenario scenario, KernelConfig config, SyscallLog trace, MachineCounter machines)
    {
        Scenario = scenario;
        Config = config;
        Trace = trace;
        _machines = machines;
    }

    /// <summary>A run sharing this run's trace and machine numbering but keeping its own steps, output and
    /// exits: for running a program whose failure is the expected behaviour (e.g. "Stage mismatch") and
    /// checking the outcome in this run.</summary>
    public ScenarioRun Sandbox() => new(Scenario, Config, Trace, _machines);

    /// <summary>The row being run.</summary>
    public Scenario Scenario { get; }
    /// <summary>The variant under test (every machine of the run starts from it).</summary>
    public KernelConfig Config { get; }
    /// <summary>The trace shared by every machine of the run.</summary>
    public SyscallLog Trace { get; }
    /// <summary>Steps so far.</summary>
    public IReadOnlyList<ScenarioStep> Steps => _steps;
    /// <summary>Output so far.</summary>
    public IReadOnlyList<string> Output => _output;
    /// <summary>Program exits so far.</summary>
    public IReadOnlyList<ProgramExit> Exits => _exits;
    /// <summary>First skip reason reported.</summary>
    public string? SkipReason { get; private set; }
    /// <summary>True when a step failed.</summary>
    public bool Failed => _steps.Any(s => !s.Passed);

    /// <summary>A copy of <paramref name="config"/> with its own fault injector carrying the same rules (so
    /// call counters start from zero for every machine and runs never share state).</summary>
    public static KernelConfig Isolate(KernelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var f = new FaultInjector { Logging = config.Faults.Logging };
        foreach (var r in config.Faults.Rules) f.FailNth(r.Point, r.Nth, r.Error, r.Repeat);
        return config with { Faults = f };
    }

    /// <summary>Cold-boots a new machine from <paramref name="config"/> (default: the run's variant).</summary>
    public Machine NewMachine(KernelConfig? config = null) => new(Isolate(config ?? Config), Trace, ++_machines.Next);

    /// <summary>Records a step checking a call result against <paramref name="want"/>; returns whether it
    /// passed.</summary>
    public bool Check(string step, Want want, long actual, bool fatal = false)
    {
        bool ok = want.Matches(actual);
        _steps.Add(new ScenarioStep(step, want.ToString(), Syscalls.ResultText(actual), ok, fatal && !ok));
        return ok;
    }

    /// <summary>Records a step comparing two values by their text.</summary>
    public bool CheckEqual<T>(string step, T expected, T actual, bool fatal = false)
    {
        bool ok = EqualityComparer<T>.Default.Equals(expected, actual);
        _steps.Add(new ScenarioStep(step, Show(expected), Show(actual), ok, fatal && !ok));
        return ok;
    }

    /// <summary>Records a step with free-form expected/actual text and a verdict.</summary>
    public bool CheckThat(string step, bool ok, string expected, string actual, bool fatal = false)
    {
        _steps.Add(new ScenarioStep(step, expected, actual, ok, fatal && !ok));
        return ok;
    }

    private static string Show<T>(T value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        byte[] b => Syscalls.Hex(b),
        _ => value.ToString() ?? "",
    };

    /// <summary>Notes that a program skipped (the first reason is kept).</summary>
    public void Skip(string reason) => SkipReason ??= reason;

    /// <summary>Set by checks whose expected behaviour is a skip (rows A3, A4): a skip then counts as a pass.</summary>
    public bool SkipIsExpected { get; set; }

    /// <summary>Appends an output line.</summary>
    public void Print(string line) => _output.Add(line);

    /// <summary>Records a program's exit status.</summary>
    public void Exit(string program, int status) => _exits.Add(new ProgramExit(program, status));

    internal ScenarioResult Finish()
    {
        var outcome = Failed ? ScenarioOutcome.Fail : SkipReason is not null && !SkipIsExpected ? ScenarioOutcome.Skip : ScenarioOutcome.Pass;
        return new ScenarioResult(Scenario, outcome, [.. _steps], SkipReason, [.. _output], [.. _exits], Trace);
    }
}
