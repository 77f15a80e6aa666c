using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Kernel
{
    /// <summary>
    /// Boots a kernel over an arena that already holds a handover, with the values kexec would pass
    /// (<paramref name="handoff"/>, usually <see cref="PhysicalArena.Handoff"/> of a loaded image): KHO incoming
    /// boot (kho.md §1.7), then LUO early and late init (luo.md §5.7), exactly as <see cref="Kexec"/> does after
    /// the jump. Lets tools and tests boot a saved or deliberately altered handover. A null handoff is a cold
    /// boot over the arena's current contents.
    /// </summary>
    public static Kernel BootFromHandoff(PhysicalArena arena, KexecHandoff? handoff, KernelConfig? config = null, int bootNumber = 2)
    {
        ArgumentNullException.ThrowIfNull(arena);
        config ??= new KernelConfig();
        var kho = LuoModel.Kho.Kho.Boot(arena, config.EffectiveKho, handoff);
        return Start(config, kho, bootNumber);
    }
}
