using System.Globalization;
using LuoModel.Kernel;

namespace LuoModel.Testkit;

/// <summary>
/// A running user program: the process it runs as, the machine and the scenario run it reports into. It
/// models the program's exits: <see cref="FailExit"/> (ksft_exit_fail_msg / fail_exit: "Bail out!", status 1),
/// <see cref="SkipExit"/> (ksft_exit_skip: "1..0 # SKIP", status 4) and <see cref="Exit"/>.
/// </summary>
public sealed class ProgramContext
{
    /// <summary>Creates the context of <paramref name="name"/> running as <paramref name="process"/>.</summary>
    public ProgramContext(ScenarioRun run, Machine machine, Process process, string name)
    {
        Run = run;
        Machine = machine;
        Process = process;
        Name = name;
    }

    /// <summary>Where steps and output go.</summary>
    public ScenarioRun Run { get; }
    /// <summary>The machine.</summary>
    public Machine Machine { get; }
    /// <summary>The syscall surface.</summary>
    public Syscalls Sys => Machine.Sys;
    /// <summary>The process the program runs as.</summary>
    public Process Process { get; }
    /// <summary>Program name as run (e.g. "luo_kexec_simple -s 1").</summary>
    public string Name { get; }
    /// <summary>Exit status once the process exited.</summary>
    public int? ExitStatus { get; private set; }
    /// <summary>The daemonized child that holds the sessions after stage 1 (null otherwise).</summary>
    public Process? Holder { get; internal set; }

    /// <summary>ksft_print_msg(): "# " before the message; embedded newlines start raw lines.</summary>
    public void Print(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        string[] lines = message.TrimEnd('\n').Split('\n');
        Run.Print("# " + lines[0]);
        for (int i = 1; i < lines.Length; i++) Run.Print(lines[i]);
    }

    /// <summary>Records a fatal step for a helper call; false when it failed.</summary>
    public bool Check(string step, Want want, long actual) => Run.Check(step, want, actual, fatal: true);

    /// <summary>exit(status).</summary>
    public void Exit(int status)
    {
        if (ExitStatus is not null) return;
        Sys.Exit(Process, status);
        ExitStatus = status;
        Run.Exit(Name, status);
    }

    /// <summary>fail_exit()/ksft_exit_fail_msg(): prints "Bail out! MESSAGE (errno: NAME)" and exits 1.
    /// Always returns false, so callers can write <c>return c.FailExit(...)</c>.</summary>
    public bool FailExit(string message, long rc = 0)
    {
        string errno = rc < 0 ? Syscalls.ResultText(rc)[1..] : "0";
        Run.Print($"Bail out! {message} (errno: {errno})");
        Exit(1);
        return false;
    }

    /// <summary>ksft_exit_skip(): prints "1..0 # SKIP MESSAGE" and exits 4.</summary>
    public void SkipExit(string message)
    {
        Run.Print("1..0 # SKIP " + message);
        Run.Skip(message);
        Exit(4);
    }

    /// <summary>Formats with the invariant culture.</summary>
    internal static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
