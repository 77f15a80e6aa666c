using LuoModel.Kernel;

namespace LuoModel.Testkit;

/// <summary>
/// One row of the upstream selftest catalog (scenarios.md §2). <see cref="Run"/> executes it on fresh
/// machines booted from a configuration (default: mainline N) and returns a structured result with the
/// trace of every call. Expectations are always those of mainline N, so running under another variant
/// shows where that variant differs.
/// </summary>
public abstract class Scenario
{
    /// <summary>Creates a row.</summary>
    protected Scenario(string id, string upstreamName, ScenarioKind kind, string source, string summary)
    {
        Id = id;
        UpstreamName = upstreamName;
        Kind = kind;
        Source = source;
        Summary = summary;
    }

    /// <summary>Catalog id (e.g. "B1", "I1+I2").</summary>
    public string Id { get; }
    /// <summary>Upstream test name (e.g. "create_duplicate_session", "luo_kexec_simple"); embedded rows carry
    /// a descriptive name of the check.</summary>
    public string UpstreamName { get; }
    /// <summary>How it runs.</summary>
    public ScenarioKind Kind { get; }
    /// <summary>Upstream file(s) it comes from.</summary>
    public string Source { get; }
    /// <summary>What it checks, in one sentence.</summary>
    public string Summary { get; }
    /// <summary>Catalog area letter (A–I).</summary>
    public char Area => Id[0];
    /// <summary>True for the 20 mainline test cases; false for embedded checks.</summary>
    public bool IsMainline => Kind != ScenarioKind.Embedded;
    /// <summary>"B1 create_duplicate_session".</summary>
    public string DisplayName => Id + " " + UpstreamName;

    /// <summary>Runs the row on fresh machines booted from <paramref name="config"/> (default: a new
    /// <see cref="KernelConfig"/>, mainline N). The config's fault rules are copied, never shared.</summary>
    public ScenarioResult Run(KernelConfig? config = null, bool trace = true)
    {
        var run = new ScenarioRun(this, config ?? new KernelConfig(), trace);
        Execute(run);
        return run.Finish();
    }

    /// <summary>The body: boots machines through <paramref name="run"/>, drives them, records steps.</summary>
    protected internal abstract void Execute(ScenarioRun run);

    /// <inheritdoc/>
    public override string ToString() => DisplayName;
}

/// <summary>A liveupdate.c TEST_F run alone in the harness's process shape on a fresh boot.</summary>
public sealed class HarnessScenario : Scenario
{
    internal HarnessScenario(string id, LiveupdateTest test, string summary)
        : base(id, test.Name, ScenarioKind.HarnessTest, LiveupdateHarness.Source, summary) => Test = test;

    /// <summary>The TEST_F.</summary>
    public LiveupdateTest Test { get; }

    /// <inheritdoc/>
    protected internal override void Execute(ScenarioRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        var m = run.NewMachine();
        var harness = new LiveupdateHarness(run, m);
        harness.RunTest(Test);
    }
}

/// <summary>A two-stage program: stage 1, daemonize, kexec, stage 2.</summary>
public sealed class TwoStageScenario : Scenario
{
    internal TwoStageScenario(string id, TwoStageProgram program, string summary)
        : base(id, program.Name, ScenarioKind.TwoStageProgram, program.Name + ".c", summary) => Program = program;

    /// <summary>The program.</summary>
    public TwoStageProgram Program { get; }

    /// <inheritdoc/>
    protected internal override void Execute(ScenarioRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        Program.RunBothStages(run, run.NewMachine());
    }
}

/// <summary>Row I: lib/test_kho.c loaded on two consecutive boots.</summary>
public sealed class KhoModuleScenario : Scenario
{
    internal KhoModuleScenario(string summary)
        : base("I1+I2", "test_kho", ScenarioKind.KhoModule, "lib/test_kho.c", summary) { }

    /// <summary>Module parameter max_mem (default two maximal buddy blocks, 8 MiB).</summary>
    public long MaxMem { get; init; } = KhoTestModule.DefaultMaxMem;

    /// <summary>Seed of get_random_u32()/get_random_bytes().</summary>
    public int Seed { get; init; } = 1;

    /// <inheritdoc/>
    protected internal override void Execute(ScenarioRun run)
    {
        ArgumentNullException.ThrowIfNull(run);
        new KhoTestModule(MaxMem, Seed).RunTwoBoots(run);
    }
}

/// <summary>A check embedded in other tests, run as its own scenario.</summary>
public sealed class EmbeddedScenario : Scenario
{
    private readonly Action<ScenarioRun> _body;

    internal EmbeddedScenario(string id, string name, string source, string summary, Action<ScenarioRun> body)
        : base(id, name, ScenarioKind.Embedded, source, summary) => _body = body;

    /// <inheritdoc/>
    protected internal override void Execute(ScenarioRun run) => _body(run);
}
