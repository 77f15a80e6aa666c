using LuoModel.Kernel;
using LuoModel.Kho;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Testkit;

/// <summary>
/// One simulated machine across its boots: the current kernel behind a tracing <see cref="Syscalls"/>
/// surface, and an init process (pid 1 of every boot) whose fds 0–2 stand for the console. Programs are
/// started as children of init (fork + exec: they inherit fds 0–2), init issues reboot(KEXEC), and
/// <see cref="Kexec"/> boots the next kernel over the same arena with a fresh init.
/// </summary>
public sealed class Machine
{
    /// <summary>Cold-boots a machine with <paramref name="config"/>, recording into <paramref name="log"/>.</summary>
    public Machine(KernelConfig config, SyscallLog log, int id = 1)
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        Sys = new Syscalls(ModelKernel.ColdBoot(config), log, id);
        StartInit();
    }

    /// <summary>Configuration of the first boot (later boots may use another one, see <see cref="Kexec"/>).</summary>
    public KernelConfig Config { get; }
    /// <summary>The traced syscall surface (follows kexec).</summary>
    public Syscalls Sys { get; }
    /// <summary>The current boot.</summary>
    public ModelKernel Kernel => Sys.Kernel;
    /// <summary>pid 1 of the current boot (null when the boot panicked).</summary>
    public Process? Init { get; private set; }

    /// <summary>The console: model substitute is /dev/null opened read-write on fds 0, 1 and 2.</summary>
    public const string ConsolePath = "/dev/null";

    private void StartInit()
    {
        Init = null;
        if (Kernel.Panicked) return;
        var init = Sys.CreateProcess("init");
        for (int i = 0; i < 3; i++) Sys.Open(init, ConsolePath, OpenFlags.O_RDWR);
        Init = init;
    }

    /// <summary>Starts a program as a child of init (fork; exec is implicit: init holds no close-on-exec fds).
    /// Throws when the current boot panicked (model-usage error: check <see cref="ModelKernel.Panicked"/>).</summary>
    public Process StartProgram() =>
        Init is { } init ? Sys.Fork(init) : throw new InvalidOperationException($"boot {Kernel.BootNumber} panicked: no init to start programs");

    /// <summary>init: reboot(LINUX_REBOOT_CMD_KEXEC), as the upstream test init does after stage 1.</summary>
    public long RebootKexec() =>
        Init is { } init ? Sys.Reboot(init, ModelKernel.LINUX_REBOOT_CMD_KEXEC) : throw new InvalidOperationException("no init");

    /// <summary>Jumps into the next kernel (after a successful <see cref="RebootKexec"/>) and starts its init
    /// unless it panicked. <paramref name="atHandover"/> sees the arena as the next kernel will find it.</summary>
    public ModelKernel Kexec(KernelConfig? next = null, Action<PhysicalArena>? atHandover = null)
    {
        var k = Sys.Kexec(next, atHandover);
        StartInit();
        return k;
    }
}
