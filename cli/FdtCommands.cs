using System.CommandLine;
using System.Globalization;
using LuoModel.Fdt;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo fdt</c>: <c>dump FILE [--format dts|fdtdump]</c>, <c>check FILE [--strict]</c>, <c>tree FILE</c>.
/// File problems go to stderr as <c>luo: PATH: reason</c> with exit code 2; an invalid blob gives exit code 1.
/// </summary>
internal static class FdtCommands
{
    public const string FormatDts = "dts";
    public const string FormatFdtdump = "fdtdump";

    public static Command Create()
    {
        var fdt = new Command("fdt", "Inspect flattened device tree blobs (DTB)");
        fdt.Subcommands.Add(CreateDump());
        fdt.Subcommands.Add(CreateCheck());
        fdt.Subcommands.Add(CreateTree());
        return fdt;
    }

    private static Argument<FileInfo> FileArgument() => new("FILE") { Description = "The .dtb file" };

    private static Command CreateDump()
    {
        var file = FileArgument();
        var format = new Option<string>("--format")
        {
            Description = "dts: as dtc -I dtb -O dts 1.6.1; fdtdump: as fdtdump 1.6.1",
            DefaultValueFactory = _ => FormatDts,
        };
        format.AcceptOnlyFromAmong(FormatDts, FormatFdtdump);
        var cmd = new Command("dump", "Print a blob as DTS source (default) or in fdtdump style");
        cmd.Arguments.Add(file);
        cmd.Options.Add(format);
        cmd.SetAction(r => Dump(r.GetValue(file), r.GetValue(format) ?? FormatDts, CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    private static Command CreateCheck()
    {
        var file = FileArgument();
        var strict = new Option<bool>("--strict") { Description = "Also run the strict checks (fdt.md §12) beyond fdt_check_full" };
        var cmd = new Command("check", "Validate a blob with fdt_check_full; prints OK or FDT_ERR_NAME (-N)");
        cmd.Arguments.Add(file);
        cmd.Options.Add(strict);
        cmd.SetAction(r => Check(r.GetValue(file), r.GetValue(strict), CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    private static Command CreateTree()
    {
        var file = FileArgument();
        var cmd = new Command("tree", "Print the canonical tree text (header, reservations, nodes, properties in hex)");
        cmd.Arguments.Add(file);
        cmd.SetAction(r => Tree(r.GetValue(file), CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    internal static int Dump(FileInfo? file, string format, TextWriter output, TextWriter error)
    {
        byte[]? blob = CliIo.ReadFile(file, error);
        if (blob is null) return CliIo.ExitIoError;
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        int err = format == FormatFdtdump ? FdtDumpPrinter.Print(blob, sw) : FdtDtsPrinter.Print(blob, sw);
        output.Write(sw.ToString());   // fdtdump style keeps what was printed before a stop, as fdtdump does
        if (err >= 0) return CliIo.ExitOk;
        error.Write($"luo: {file}: cannot dump: {CliIo.Code(err)}\n");
        return CliIo.ExitInvalid;
    }

    internal static int Check(FileInfo? file, bool strict, TextWriter output, TextWriter error)
    {
        byte[]? blob = CliIo.ReadFile(file, error);
        if (blob is null) return CliIo.ExitIoError;
        int err = LuoModel.Fdt.Fdt.CheckFull(blob);
        if (err < 0)
        {
            output.Write(CliIo.Code(err) + "\n");
            return CliIo.ExitInvalid;
        }
        // libfdt's answer first; --strict then adds the findings libfdt does not look for (fdt.md §12).
        output.Write("OK\n");
        if (!strict) return CliIo.ExitOk;
        IReadOnlyList<FdtFinding> findings = FdtStrictCheck.Check(blob);
        foreach (FdtFinding f in findings)
            output.Write(string.Create(CultureInfo.InvariantCulture, $"strict: {f.Rule} at 0x{f.Offset:x}: {f.Message}\n"));
        return findings.Count == 0 ? CliIo.ExitOk : CliIo.ExitInvalid;
    }

    internal static int Tree(FileInfo? file, TextWriter output, TextWriter error)
    {
        byte[]? blob = CliIo.ReadFile(file, error);
        if (blob is null) return CliIo.ExitIoError;
        // The tree printer reads through the libfdt API, which trusts a blob only after fdt_check_full.
        int err = LuoModel.Fdt.Fdt.CheckFull(blob);
        string text = err < 0 ? "" : FdtTreePrinter.ToText(blob, out err);
        if (err < 0)
        {
            error.Write($"luo: {file}: cannot print tree: {CliIo.Code(err)}\n");
            return CliIo.ExitInvalid;
        }
        output.Write(text);
        return CliIo.ExitOk;
    }
}
