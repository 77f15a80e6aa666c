using LuoModel.Cli;
using LuoModel.Kho;

namespace LuoModel.Tests.Kho;

/// <summary>`luo image dump` (issue 4 §5).</summary>
public class ImageDumpTests
{
    [Fact]
    public void Dump_prints_handover_and_rejects_corruption()
    {
        var k = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(1UL << 30));
        k.PreservePages(0x4000, 8);
        k.PreserveFolio(new Folio(0x8000, 9));
        k.AllocPreserve(100, out ulong blob);
        k.AddSubtree("LUO", blob, 100);
        Assert.Equal(Errno.Ok, k.Kexec(out _));
        string path = Path.Combine(Path.GetTempPath(), $"kho-{Guid.NewGuid():N}.img");
        try
        {
            ArenaImage.Save(k.Arena, path);
            var o = new StringWriter();
            var e = new StringWriter();
            // the "LUO" blob here is 100 zero bytes, not a luo_ser: the KHO side is printed, then the LUO
            // decoder reports that the next kernel would panic (exit 4)
            Assert.Equal(4, ImageCommands.Dump(path, o, e));
            Assert.Contains("compatible \"\" is not \"luo-v5\" (-EINVAL)", e.ToString());
            string text = o.ToString();
            Assert.Contains("compatible \"kho-v4\"", text);
            Assert.Contains("kexec-metadata {", text);                 // DTS of the KHO root
            Assert.Contains("compatible = \"kho-v4\";", text);
            Assert.Contains("0x4000000-0x4008000 order 3", text);
            Assert.Contains("0x8000000-0x8200000 order 9", text);
            Assert.Contains("kexec-metadata: phys 0x107000 (1077248), size 0x49 (73)", text);
            Assert.Contains("LUO: phys", text);
            Assert.Contains("scratch (3 regions)", text);

            var bytes = File.ReadAllBytes(path);
            bytes[100] ^= 0xFF;
            File.WriteAllBytes(path, bytes);
            e = new StringWriter();
            Assert.Equal(1, ImageCommands.Dump(path, new StringWriter(), e));
            Assert.Contains("corrupt image (ChecksumMismatch)", e.ToString());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Dump_reports_invalid_handover_and_missing_handover()
    {
        var k = LuoModel.Kho.Kho.ColdBoot(new PhysicalArena(1UL << 30));
        Assert.Equal(Errno.Ok, k.Kexec(out var h));
        k.Arena.WriteU64(h!.Value.FdtPhys + 0x60, 0);          // preserved-memory-map = 0
        string path = Path.Combine(Path.GetTempPath(), $"kho-{Guid.NewGuid():N}.img");
        try
        {
            ArenaImage.Save(k.Arena, path);
            var e = new StringWriter();
            Assert.Equal(3, ImageCommands.Dump(path, new StringWriter(), e));
            Assert.Contains("invalid handover (BadMemoryMap)", e.ToString());
            ArenaImage.Save(new PhysicalArena(1UL << 20), path);
            Assert.Equal(2, ImageCommands.Dump(path, new StringWriter(), new StringWriter()));
            Assert.Equal(1, ImageCommands.Dump(path + ".missing", new StringWriter(), new StringWriter()));
        }
        finally { File.Delete(path); }
    }
}
