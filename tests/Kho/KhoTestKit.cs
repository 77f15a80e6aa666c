using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

internal static class KhoTestKit
{
    public const ulong Dram = 1UL << 30;

    public static LuoModel.Kho.Kho Cold(KhoOptions? o = null) => LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(Dram), o);

    public static HashSet<(ulong, int)> Keys(LuoModel.Kho.Kho k) => [.. k.PreservedBlocks()];

    /// <summary>A free page well away from KHO's own allocations, outside scratch.</summary>
    public static Folio Page(ulong pfn, int order = 0) => new(pfn, order);
}
