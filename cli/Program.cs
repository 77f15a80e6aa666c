using System.CommandLine;

namespace LuoModel.Cli;

/// <summary>Entry point of the <c>luo</c> command: a root command and one subcommand group per area.</summary>
internal static class Program
{
    private static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Builds the command tree.</summary>
    internal static RootCommand BuildRoot()
    {
        var root = new RootCommand("luo: behavioural model of Linux LUO/KHO and its FDT library");

        // ---- command groups: add each new group here (root.Subcommands.Add(XxxCommands.Create())) ----
        root.Subcommands.Add(FdtCommands.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ImageCommands.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(SelftestCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(DiffCommand.Create());
        root.Subcommands.Add(CheckTraceCommand.Create());
        // ---- end of command groups ----

        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/> with the given output and error writers; returns the exit code.</summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var config = new InvocationConfiguration { Output = output, Error = error };
        return BuildRoot().Parse(args).Invoke(config);
    }
}
