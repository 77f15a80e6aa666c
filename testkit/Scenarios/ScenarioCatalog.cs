namespace LuoModel.Testkit;

/// <summary>
/// The upstream selftest catalog of scenarios.md §2, rows A–I: the 20 mainline test cases (15 liveupdate.c
/// TEST_Fs, 4 two-stage programs, the KHO test module) and the 19 embedded checks, in catalog order
/// (A1, A2, A3, A4, B1 … B8, C1 … C7, D1 … D4, E1 … E9, F1, G1, H1 … H4, I1+I2).
/// </summary>
public static class ScenarioCatalog
{
    private static HarnessScenario H(string id, string test, string summary) => new(id, LiveupdateTests.Get(test), summary);

    private static EmbeddedScenario E(string id, string name, string source, string summary, Action<ScenarioRun> body) => new(id, name, source, summary, body);

    private const string TwoStage = "two-stage programs";

    /// <summary>Every row in catalog order.</summary>
    public static IReadOnlyList<Scenario> All { get; } =
    [
        H("A1", "basic_open_close", "open /dev/liveupdate read-write and close it"),
        H("A2", "exclusive_open", "a second open in the same process fails with EBUSY"),
        E("A3", "missing_device_skips_all", LiveupdateHarness.Source, "with LUO disabled all 15 tests SKIP and the program exits 0", EmbeddedChecks.A3),
        E("A4", "open_failure_skips_program", TwoStage, "an absent, busy or failing device makes a two-stage program SKIP (exit 4)", EmbeddedChecks.A4),
        H("B1", "create_duplicate_session", "a second CREATE_SESSION with the same name fails with EEXIST"),
        H("B2", "create_distinct_sessions", "two sessions with different names get distinct fds"),
        H("B3", "create_session_no_null_termination", "a 64-byte name without NUL is EINVAL"),
        H("B4", "create_session_empty_name", "an empty name is EINVAL"),
        H("B5", "get_session_name", "GET_NAME returns the created name"),
        H("B6", "get_session_name_max_length", "a 63-character name round-trips through GET_NAME"),
        E("B7", "stage_detection", TwoStage, "RETRIEVE_SESSION of the state name is ENOENT on a fresh boot", EmbeddedChecks.B7),
        E("B8", "stage2_retrieval", TwoStage, "each stage-1 name is retrievable exactly once after kexec (again: EINVAL)", EmbeddedChecks.B8),
        H("C1", "preserve_memfd", "preserving a memfd and closing its session keeps the memfd intact"),
        H("C2", "preserve_multiple_memfds", "two memfds in one session, closed while the session is open"),
        H("C3", "preserve_complex_scenario", "two sessions with data and empty memfds"),
        H("C4", "preserve_unsupported_fd", "/dev/null has no handler: ENOENT"),
        H("C5", "prevent_double_preservation", "one memfd cannot be preserved twice: EBUSY"),
        E("C6", "stage1_preserve_closed_memfd", TwoStage, "create_and_preserve_memfd closes the memfd; LUO keeps its own reference", EmbeddedChecks.C6),
        E("C7", "stage2_retrieved_memfd", TwoStage, "a retrieved memfd is close-on-exec, at offset 0, one page, with the stage-1 text", EmbeddedChecks.C7),
        E("D1", "finish_after_retrieving_every_file", "luo_kexec_simple.c, luo_multi_session.c, luo_stress_files.c", "FINISH after all files were retrieved and closed", EmbeddedChecks.D1),
        E("D2", "finish_empty_incoming_session", "luo_multi_session.c, luo_stress_sessions.c", "an incoming session without files is retrieved and finished", EmbeddedChecks.D2),
        E("D3", "finish_state_session", TwoStage, "the state session is finished last", EmbeddedChecks.D3),
        E("D4", "finish_ordering", "luo_multi_session.c", "finish+close in the order empty-1, empty-2, files-1, files-2, state", EmbeddedChecks.D4),
        E("E1", "close_returns_zero", "all", "close() of session and device fds returns 0", EmbeddedChecks.E1),
        E("E2", "close_outgoing_session_unpreserves", "liveupdate.c (C1)", "closing an outgoing session unpreserves its files; the memfd stays usable", EmbeddedChecks.E2),
        E("E3", "close_preserved_memfd", "liveupdate.c (C2, C3, C5)", "closing a preserved memfd keeps the preservation", EmbeddedChecks.E3),
        E("E4", "device_reopen_after_release", LiveupdateHarness.Source, "each test's process can open the device again", EmbeddedChecks.E4),
        E("E5", "sessions_survive_device_close", TwoStage, "closing the device keeps the outgoing sessions and frees the device", EmbeddedChecks.E5),
        E("E6", "daemonize_parent_exit_keeps_sessions", TwoStage, "the parent's exit does not release sessions the child still holds", EmbeddedChecks.E6),
        E("E7", "state_session_kept_open", TwoStage, "the state session fd stays open; closing it would unpreserve it", EmbeddedChecks.E7),
        E("E8", "retrieved_memfd_closed_before_finish", TwoStage, "FINISH succeeds after the retrieved memfd was closed", EmbeddedChecks.E8),
        E("E9", "failed_create_installs_no_fd", LiveupdateHarness.Source, "a failing CREATE_SESSION installs no fd", EmbeddedChecks.E9),
        new TwoStageScenario("F1", TwoStageProgram.KexecSimple, "one session with one memfd across a kexec"),
        new TwoStageScenario("G1", TwoStageProgram.MultiSession, "empty sessions and several files per session across a kexec"),
        H("H1", "preserve_many_sessions", "2000 sessions created and closed (block growth and shrink)"),
        H("H2", "preserve_many_files", "500 memfds preserved in one session, then released"),
        new TwoStageScenario("H3", TwoStageProgram.StressSessions, "2001 sessions across a kexec"),
        new TwoStageScenario("H4", TwoStageProgram.StressFiles, "500 one-page memfds across a kexec"),
        new KhoModuleScenario("folios, a vmalloc array and an FDT subtree survive a kexec with identical bytes"),
    ];

    /// <summary>The 20 mainline test cases.</summary>
    public static IReadOnlyList<Scenario> Mainline { get; } = [.. All.Where(s => s.IsMainline)];

    /// <summary>The 19 embedded checks.</summary>
    public static IReadOnlyList<Scenario> Embedded { get; } = [.. All.Where(s => !s.IsMainline)];

    /// <summary>The row with this id (case-insensitive; "I", "I1" and "I2" name row I1+I2) or upstream name;
    /// null when none.</summary>
    public static Scenario? Find(string idOrName)
    {
        ArgumentNullException.ThrowIfNull(idOrName);
        if (idOrName is "I" or "i" or "I1" or "i1" or "I2" or "i2") idOrName = "I1+I2";
        return All.FirstOrDefault(s => string.Equals(s.Id, idOrName, StringComparison.OrdinalIgnoreCase))
            ?? All.FirstOrDefault(s => s.UpstreamName == idOrName);
    }

    /// <summary>As <see cref="Find"/>, throwing for an unknown id (model-usage error).</summary>
    public static Scenario Get(string idOrName) => Find(idOrName) ?? throw new ArgumentException($"no scenario \"{idOrName}\"", nameof(idOrName));
}
