using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Kernel
{
    /// <summary>
    /// Model-only hook for the serialize benchmark (bench/LuoBenchmarks.cs); no kernel counterpart. After a
    /// successful <c>reboot(KEXEC)</c> it drops the frozen state (serialize_lock, <see cref="KernelState.Rebooting"/>)
    /// and leaves every serialized byte in place, so the next <see cref="Reboot"/> runs the whole
    /// liveupdate_reboot() path again over the same preserved sessions and files and writes the same bytes.
    /// luo-v5 with a non-finalizing KHO only (kho-v1's kho_finalize would need an abort).
    /// </summary>
    internal void ThawAfterRebootForBench()
    {
        if (State != KernelState.Rebooting) throw new InvalidOperationException($"thaw needs a successful reboot(KEXEC) first (state {State})");
        if (Luo.Options.Abi != LuoAbi.LuoV5 || Kho.Options.Variant == KhoVariant.KhoV1)
            throw new InvalidOperationException("thaw is only modelled for luo-v5 without kho-v1 finalize");
        Luo.ThawForBench();
        State = KernelState.Running;
    }
}
