using System.Globalization;
using LuoModel.Testkit.Trace;
using LuoModel.Testkit.Histories;

namespace LuoModel.PropertyTests.Luo;

/// <summary>The abstract model's values of the trace probes (<see cref="TraceProbes"/>), printed as
/// <c>expect</c> lines after a state mismatch so that the replay checks the same state.</summary>
internal static class ModelProbes
{
    public static string Evaluate(Model m, string key)
    {
        if (m.Phase == Phase.Panicked) return "panicked";
        return key switch
        {
            "fds" => string.Join(',', m.Fds.Keys),
            "memfds" => string.Join(' ', m.Fds.Where(kv => m.Descs[kv.Value].Kind == DKind.Memfd)
                .Select(kv => TraceProbes.Memfd(kv.Key, m.Descs[kv.Value].Size, m.Descs[kv.Value].Pos, m.Descs[kv.Value].Seals))),
            "outgoing" => string.Join(' ', m.Out.Select(s => $"{TraceText.Quote(TraceProbes.Trim(s.Name))}/{s.Files.Count}")),
            "session_blocks" => m.SBlocks.ToString(CultureInfo.InvariantCulture),
            "incoming" => string.Join(' ', m.In.Select(s => $"{TraceText.Quote(TraceProbes.Trim(s.Name))}/{State(s.State)}/{s.Files.Count}")),
            "registry" => m.Registry.Count.ToString(CultureInfo.InvariantCulture),
            "in_use" => m.Enabled && m.InUse ? "1" : "0",
            "liveupdate_num" => m.Num.ToString(CultureInfo.InvariantCulture),
            "flb_out" => m.Flb is null ? "-" : m.Flb.Out.ToString(CultureInfo.InvariantCulture),
            _ => throw new ArgumentException($"unknown probe {key}", nameof(key)),
        };
    }

    private static string State(IState s) => s switch { IState.Pending => "InPending", IState.Open => "InOpen", _ => "InLeaked" };
}
