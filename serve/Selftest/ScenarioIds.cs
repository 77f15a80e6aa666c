namespace LuoModel.Serve.Selftest;

/// <summary>
/// The scenario catalogue IDs (scenarios.md §2) of the upstream LUO selftest cases, so a report line can be
/// looked up in the catalogue and in the model's tests: harness cases by fixture.test name, two-stage
/// programs by program name. Unknown names (other trees, the project's own clients) get no ID.
/// </summary>
public static class ScenarioIds
{
    private static readonly Dictionary<string, string> Ids = new(StringComparer.Ordinal)
    {
        ["liveupdate_device.basic_open_close"] = "A1",
        ["liveupdate_device.exclusive_open"] = "A2",
        ["liveupdate_device.create_duplicate_session"] = "B1",
        ["liveupdate_device.create_distinct_sessions"] = "B2",
        ["liveupdate_device.create_session_no_null_termination"] = "B3",
        ["liveupdate_device.create_session_empty_name"] = "B4",
        ["liveupdate_device.get_session_name"] = "B5",
        ["liveupdate_device.get_session_name_max_length"] = "B6",
        ["liveupdate_device.preserve_memfd"] = "C1",
        ["liveupdate_device.preserve_multiple_memfds"] = "C2",
        ["liveupdate_device.preserve_complex_scenario"] = "C3",
        ["liveupdate_device.preserve_unsupported_fd"] = "C4",
        ["liveupdate_device.prevent_double_preservation"] = "C5",
        ["liveupdate_device.preserve_many_sessions"] = "H1",
        ["liveupdate_device.preserve_many_files"] = "H2",
        ["luo_kexec_simple"] = "F1",
        ["luo_multi_session"] = "G1",
        ["luo_stress_sessions"] = "H3",
        ["luo_stress_files"] = "H4",
    };

    /// <summary>The ID of a harness case or two-stage program, or null.</summary>
    public static string? Of(string caseOrProgram)
    {
        ArgumentNullException.ThrowIfNull(caseOrProgram);
        return Ids.GetValueOrDefault(caseOrProgram);
    }

    /// <summary>"name" or "name [ID]".</summary>
    public static string Label(string name, string key) => Of(key) is { } id ? $"{name} [{id}]" : name;
}
