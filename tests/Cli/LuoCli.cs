using System.Globalization;
using LuoModel.Cli;

namespace LuoModel.Tests.Cli;

/// <summary>Runs the <c>luo</c> command in-process (<see cref="Program.Run"/>) and captures its output.</summary>
internal static class LuoCli
{
    /// <summary><c>luo ARGS…</c>: exit code, standard output, standard error.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var o = new StringWriter(CultureInfo.InvariantCulture);
        using var e = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }
}
