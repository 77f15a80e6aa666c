using System.CommandLine;
using System.Text;
using LuoModel.Testkit.Trace;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo replay FILE</c>: re-runs a trace (docs/trace-format.md) on a fresh model machine and compares every
/// result, handler-call line and expect line; exit 0 with "all N ops reproduced", exit 1 at the first op that
/// differs (or breaks a structural invariant), exit 2 when the file cannot be read or parsed.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "trace file (luo-trace 1)" };
        var noInv = new Option<bool>("--no-invariants") { Description = "compare results only, skip the structural invariant checks" };
        var cmd = new Command("replay", "Re-run a trace on the model and report the first op whose result differs");
        cmd.Arguments.Add(file);
        cmd.Options.Add(noInv);
        cmd.SetAction(r => Run(r.GetValue(file), !r.GetValue(noInv), CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    internal static int Run(FileInfo? file, bool invariants, TextWriter output, TextWriter error)
    {
        byte[]? bytes = CliIo.ReadFile(file, error);
        if (bytes is null) return CliIo.ExitIoError;
        TraceFile trace;
        try { trace = TraceFormat.Parse(Encoding.UTF8.GetString(bytes)); }
        catch (TraceParseException e)
        {
            error.Write($"luo: {file}: {e.Message}\n");
            return CliIo.ExitIoError;
        }
        if (trace.Entries.FirstOrDefault(e => TraceFormat.IsRecorded(e.Op)) is { } rec)
        {
            error.Write($"luo: {file}: line {rec.Line}: a recording of a real kernel: check it with `luo check-trace`\n");
            return CliIo.ExitIoError;
        }
        var outcome = TraceReplayer.Run(trace, invariants);
        if (trace.Mutants != Kernel.LuoMutant.None) output.Write($"note: test-only mutants {trace.Mutants} are switched on\n");
        output.Write(outcome.Describe() + "\n");
        return outcome.Ok ? CliIo.ExitOk : CliIo.ExitInvalid;
    }
}
