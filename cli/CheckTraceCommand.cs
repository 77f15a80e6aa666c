using System.CommandLine;
using System.Text;
using LuoModel.Testkit.Trace;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo check-trace FILE [--variant …] [--strict-fds]</c> (issue 10 §2): checks a trace recorded on a real kernel
/// (docs/trace-format.md §7, e.g. by librecorder.so) against a fresh model machine under the chosen variants.
/// Prints notes, the first divergence (call, model vs observed, the spec section that decides it) and a summary;
/// exit 0 when the model allows every observed result, 1 at a divergence, 2 for an unreadable file or a bad variant.
/// </summary>
internal static class CheckTraceCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "trace file (luo-trace 2 recording, or luo-trace 1 without model-only calls)" };
        var variant = new Option<string[]>("--variant") { Description = "the model's variant (named, repeatable, or switch=value; see `luo run --list-variants`); default mainline" };
        var strict = new Option<bool>("--strict-fds") { Description = "report every fd number the model does not hand out, even gaps left by calls the recorder does not see" };
        var cmd = new Command("check-trace", "Check a trace recorded on a real kernel against the model and report the first divergence");
        cmd.Arguments.Add(file);
        cmd.Options.Add(variant);
        cmd.Options.Add(strict);
        cmd.SetAction(r => Run(r.GetValue(file), r.GetValue(variant) ?? [], r.GetValue(strict), CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    internal static int Run(FileInfo? file, IReadOnlyList<string> variants, bool strictFds, TextWriter output, TextWriter error)
    {
        var config = VariantPresets.Build(variants, out string? verr);
        if (config is null)
        {
            error.Write($"luo check-trace: {verr}\n");
            return CliIo.ExitIoError;
        }
        byte[]? bytes = CliIo.ReadFile(file, error);
        if (bytes is null) return CliIo.ExitIoError;
        TraceFile trace;
        try { trace = TraceFormat.Parse(Encoding.UTF8.GetString(bytes)); }
        catch (TraceParseException e)
        {
            error.Write($"luo check-trace: {file}: {e.Message}\n");
            return CliIo.ExitIoError;
        }
        output.Write($"model: {(variants.Count == 0 ? "mainline" : string.Join(" + ", variants))}\n");
        var report = TraceChecker.Check(trace, new CheckOptions { Config = config, StrictFds = strictFds });
        output.Write(report.Describe());
        return report.Ok ? CliIo.ExitOk : CliIo.ExitInvalid;
    }
}
