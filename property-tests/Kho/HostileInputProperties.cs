using FsCheck;
using FsCheck.Fluent;
using LuoModel.Kho;
using KhoKernel = LuoModel.Kho.Kho;

namespace LuoModel.PropertyTests.Kho;

/// <summary>Hostile handover bytes and corrupt images give a defined result, never an exception or a hang
/// (issue 4 rules). Each property also counts how often corruption was actually detected, so it cannot pass
/// vacuously.</summary>
public class HostileInputProperties
{
    private static readonly Config Fast = Config.QuickThrowOnFailure.WithMaxTest(80);

    private static readonly Lazy<(byte[] Image, KexecHandoff H, ulong[] Pages)> Handover = new(() =>
    {
        var k = KhoKernel.ColdBoot(new PhysicalArena(256UL << 20));
        k.PreservePages(0x4003, 100);
        k.PreserveFolio(new Folio(0x8000, 9));
        k.AllocPreserve(300, out ulong blob);
        k.AddSubtree("LUO", blob, 300);
        ulong[] pages = [k.FdtPhys, .. k.Tree!.NodePages];
        k.Kexec(out var h);
        var ms = new MemoryStream();
        ArenaImage.Save(k.Arena, ms);
        return (ms.ToArray(), h!.Value, pages);
    });

    [Fact]
    public void Corrupted_handover_pages_never_throw()
    {
        int rejected = 0;
        var gen = from pageSel in Gen.Choose(0, 1000) from off in Gen.Choose(0, 4095) from val in Gen.Choose(0, 255) from width in Gen.Choose(1, 8)
                  select (pageSel, off, val, width);
        var prop = Prop.ForAll(gen.ToArbitrary(), t =>
            {
                var (pageSel, off, val, width) = t;
                var (img, h, pages) = Handover.Value;
                Assert.Equal(ArenaImageError.None, ArenaImage.TryLoad(img, out var arena, out _));
                ulong page = pages[pageSel % pages.Length];
                for (int i = 0; i < width && off + i < 4096; i++) arena!.PageForWrite(page >> 12)[off + i] = (byte)(val + i * 37);
                var n = KhoKernel.Boot(arena!, null, h);   // must not throw
                if (!n.Incoming.IsKhoBoot) rejected++;
                n.RetrieveSubtree("LUO", out _, out _);
                n.RestoreFolio(0x8000000, out _);
                return true;
            });
        Check.One(Fast, prop);
        Assert.True(rejected > 0, "no corruption was ever detected: the property is vacuous");
    }

    [Fact]
    public void Corrupted_images_never_throw_and_never_load()
    {
        var prop = Prop.ForAll(Gen.Choose(0, int.MaxValue).ToArbitrary(), Gen.Choose(1, 255).ToArbitrary(), (pos, x) =>
        {
            var img = (byte[])Handover.Value.Image.Clone();
            img[pos % img.Length] ^= (byte)x;
            var rc = ArenaImage.TryLoad(img, out var arena, out string msg);
            var cut = ArenaImage.TryLoad(img.AsSpan(0, pos % img.Length), out var arena2, out _);
            return rc != ArenaImageError.None && arena is null && msg.Length > 0 && cut != ArenaImageError.None && arena2 is null;
        });
        Check.One(Fast, prop);
    }
}
