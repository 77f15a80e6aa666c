using System.CommandLine;
using System.Runtime.InteropServices;
using LuoModel.Serve;

namespace LuoModel.Cli;

/// <summary><c>luo serve</c>: the model daemon that answers libluoshim.so (selftest-shim.md §2, §5, §7).</summary>
internal static class ServeCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var socket = new Option<string?>("--socket") { Description = $"shim socket path ('@name' = abstract); default ${DaemonOptions.SocketEnvironmentVariable}" };
        var control = new Option<string?>("--control") { Description = "control socket path (default: the shim socket + \".ctl\")" };
        var variant = new Option<string[]>("--variant") { Description = "model switch name=value for the first boot (repeatable; see SET_VARIANT)", AllowMultipleArgumentsPerToken = false };
        var verbose = new Option<bool>("--verbose") { Description = "log every request, not only connections, errors and control operations" };
        var cmd = new Command("serve", "Run the LUO model as a daemon for LD_PRELOAD=libluoshim.so test programs") { socket, control, variant, verbose };
        cmd.SetAction(r => Run(r.GetValue(socket), r.GetValue(control), r.GetValue(variant) ?? [], r.GetValue(verbose), CliIo.Out(r), CliIo.Err(r)));
        cmd.Subcommands.Add(CreateCtl());
        return cmd;
    }

    /// <summary><c>luo serve ctl OP [ARG]</c>: one control operation against a running daemon.</summary>
    private static Command CreateCtl()
    {
        var socket = new Option<string?>("--socket") { Description = $"the daemon's shim socket (its control socket is this + \".ctl\"); default ${DaemonOptions.SocketEnvironmentVariable}" };
        var control = new Option<string?>("--control") { Description = "the control socket path itself" };
        var op = new Argument<string>("OP") { Description = "kexec | reset | status | variant | fault | log | shutdown" };
        var arg = new Argument<string[]>("ARG") { Description = "variant: name=value…; fault: point=P (nth=N | next) [errno=E] [repeat=R] | clear", Arity = ArgumentArity.ZeroOrMore };
        var ctl = new Command("ctl", "Send one control operation to a running luo serve") { socket, control, op, arg };
        ctl.SetAction(r => Ctl(r.GetValue(socket), r.GetValue(control), r.GetValue(op)!, r.GetValue(arg) ?? [], CliIo.Out(r), CliIo.Err(r)));
        return ctl;
    }

    private static int Ctl(string? socket, string? control, string op, string[] args, TextWriter output, TextWriter error)
    {
        socket ??= Environment.GetEnvironmentVariable(DaemonOptions.SocketEnvironmentVariable);
        string? path = control ?? (string.IsNullOrEmpty(socket) ? null : socket + ".ctl");
        if (path is null)
        {
            error.WriteLine($"luo serve ctl: give --socket, --control or set {DaemonOptions.SocketEnvironmentVariable}");
            return CliIo.ExitIoError;
        }
        ShimOp? code = op.ToUpperInvariant() switch
        {
            "KEXEC" => ShimOp.Kexec,
            "RESET" => ShimOp.Reset,
            "STATUS" => ShimOp.Status,
            "VARIANT" or "SET_VARIANT" => ShimOp.SetVariant,
            "FAULT" or "INJECT_FAULT" => ShimOp.InjectFault,
            "LOG" => ShimOp.Log,
            "SHUTDOWN" => ShimOp.Shutdown,
            _ => null,
        };
        if (code is null)
        {
            error.WriteLine($"luo serve ctl: unknown operation {op}");
            return CliIo.ExitInvalid;
        }
        try
        {
            using var client = ControlClient.Connect(path);
            var reply = client.Send(code.Value, string.Join(code == ShimOp.SetVariant ? '\n' : ' ', args));
            output.Write(reply.Text);
            if (reply.Ok) return CliIo.ExitOk;
            error.WriteLine($"luo serve ctl: {op} failed (errno {reply.Err})");
            return CliIo.ExitInvalid;
        }
        catch (IOException ex)
        {
            error.WriteLine($"luo serve ctl: {ex.Message}");
            return CliIo.ExitIoError;
        }
    }

    private static int Run(string? socket, string? control, string[] variants, bool verbose, TextWriter output, TextWriter error)
    {
        socket ??= Environment.GetEnvironmentVariable(DaemonOptions.SocketEnvironmentVariable);
        if (string.IsNullOrEmpty(socket))
        {
            error.WriteLine($"luo serve: no socket: give --socket PATH or set {DaemonOptions.SocketEnvironmentVariable}");
            return CliIo.ExitIoError;
        }
        var settings = new VariantSettings(new LuoModel.Kernel.KernelConfig { DramBytes = 1UL << 30 });
        foreach (string v in variants)
        {
            string? why = settings.Apply(v);
            if (why is null) continue;
            error.WriteLine($"luo serve: --variant {v}: {why}");
            return CliIo.ExitInvalid;
        }
        using var daemon = new LuoDaemon(new DaemonOptions { SocketPath = socket, ControlPath = control, Config = settings.Build(), LogEcho = error, Verbose = verbose });
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; daemon.Stop(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; daemon.Stop(); });
        output.WriteLine($"luo serve: export {DaemonOptions.SocketEnvironmentVariable}={socket} LD_PRELOAD=/path/to/libluoshim.so; control socket {daemon.ControlPath}");
        output.Flush();
        int rc = daemon.Run();
        if (rc < 0)
        {
            error.WriteLine($"luo serve: cannot listen on {socket}: errno {-rc}");
            return CliIo.ExitIoError;
        }
        return CliIo.ExitOk;
    }
}
