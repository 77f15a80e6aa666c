using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using System.Text;
using LuoModel.Fdt;
using LuoModel.Kho;
using LuoModel.Testkit;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Cli;

/// <summary><c>luo image ...</c>: inspect saved arena images (issue 4 §5).</summary>
internal static class ImageCommands
{
    /// <summary>Builds the <c>image</c> command with its <c>dump FILE</c> subcommand.</summary>
    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "arena image written by ArenaImage.Save" };
        var dump = new Command("dump", "Print a saved arena's KHO handover as the next kernel reads it") { file };
        dump.SetAction(parseResult => Dump(parseResult.GetValue(file)!.FullName, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));
        var image = new Command("image", "Arena image tools");
        image.Subcommands.Add(dump);
        return image;
    }

    /// <summary>Exit codes: 0 handover printed; 1 unreadable or corrupt image; 2 no handover recorded;
    /// 3 the next kernel would reject the KHO handover (reason printed); 4 the KHO side is fine but the next
    /// kernel would panic or fail its first open of /dev/liveupdate on the LUO side (problems printed).</summary>
    internal static int Dump(string path, TextWriter output, TextWriter error)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (IOException ex) { error.WriteLine($"luo image dump: cannot read {path}: {ex.Message}"); return 1; }
        catch (UnauthorizedAccessException ex) { error.WriteLine($"luo image dump: cannot read {path}: {ex.Message}"); return 1; }
        var rc = ArenaImage.TryLoad(bytes, out var arena, out string msg);
        if (rc != ArenaImageError.None || arena is null)
        {
            error.WriteLine($"luo image dump: {path}: corrupt image ({rc}): {msg}");
            return 1;
        }
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(inv, $"image {path}: DRAM 0x{arena.DramBytes:x}, {arena.PresentPages} stored pages, background 0x{arena.Background:x2}"));
        if (arena.Handoff is not { } h)
        {
            error.WriteLine("luo image dump: the image records no KHO handover (cold boot, KHO disabled or kho-v1 not finalized)");
            return 2;
        }
        output.WriteLine(string.Create(inv, $"handoff: fdt 0x{h.FdtPhys:x} len 0x{h.FdtLen:x}, scratch array 0x{h.ScratchPhys:x} len 0x{h.ScratchLen:x}"));
        var options = HandoverDecoder.KhoOptionsFor(arena, h);
        var view = HandoverReader.Read(arena, h, options);
        if (view.Fdt.Length > 0)
        {
            output.WriteLine($"KHO root FDT as DTS ({view.Fdt.Length} bytes, compatible \"{view.Compatible}\", read as variant {options.Variant}):");
            var sb = new StringWriter(inv);
            int prc = FdtDtsPrinter.Print(view.Fdt, sb);
            foreach (string line in sb.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)) output.WriteLine("  " + line);
            if (prc < 0) output.WriteLine(string.Create(inv, $"  (printer stopped: FDT error {prc})"));
        }
        if (!view.IsKhoBoot)
        {
            error.WriteLine($"luo image dump: invalid handover ({view.Reject}): {view.Reason}");
            return 3;
        }
        output.WriteLine(string.Create(inv, $"preserved-memory-map: 0x{view.MapPhys:x} ({view.MapPages.Count} map pages)"));
        output.WriteLine($"scratch ({view.ScratchArray.Count} regions):");
        for (int i = 0; i < view.ScratchArray.Count; i++)
            output.WriteLine(string.Create(inv, $"  [{i}] 0x{view.ScratchArray[i].Addr:x}-0x{view.ScratchArray[i].Addr + view.ScratchArray[i].Size:x} size 0x{view.ScratchArray[i].Size:x}"));
        output.WriteLine($"preserved blocks ({view.Blocks.Count} keys, walk order; contiguous runs of one order merged):");
        foreach (var (start, end, order, count) in Runs(view.Blocks))
            output.WriteLine(string.Create(inv, $"  0x{start:x}-0x{end:x} order {order}{(count > 1 ? $" ({count} blocks)" : "")}"));
        output.WriteLine("subtrees:");
        ReadOnlySpan<byte> f = view.Fdt;
        for (int c = FdtRo.FirstSubnode(f, 0); c >= 0; c = FdtRo.NextSubnode(f, c))
        {
            string name = Encoding.ASCII.GetString(FdtRo.GetNameSpan(f, c));
            string data = U64(f, c, options.Variant == KhoVariant.KhoV1 ? "fdt"u8 : "preserved-data"u8);
            string size = options.Variant == KhoVariant.KhoV1 ? "n/a (kho-v1)" : U64(f, c, "blob-size"u8);
            output.WriteLine($"  {name}: phys {data}, size {size}");
        }
        var luo = HandoverDecoder.Decode(arena, view);
        foreach (string line in LuoHandoverPrinter.Lines(luo)) output.WriteLine(line);
        if (!luo.Accepted)
        {
            var first = luo.Problems.First(p => p.Kind is HandoverProblemKind.BootPanic or HandoverProblemKind.FirstOpenFails);
            error.WriteLine($"luo image dump: the next kernel would not accept the LUO handover: {first}");
            return 4;
        }
        return 0;
    }

    private static string U64(ReadOnlySpan<byte> f, int node, ReadOnlySpan<byte> prop)
    {
        int len = FdtRo.GetProp(f, node, prop, out ReadOnlySpan<byte> v);
        if (len < 0) return "missing";
        if (len != 8) return string.Create(CultureInfo.InvariantCulture, $"bad length {len}");
        ulong x = BinaryPrimitives.ReadUInt64LittleEndian(v);
        return string.Create(CultureInfo.InvariantCulture, $"0x{x:x} ({x})");
    }

    private static IEnumerable<(ulong Start, ulong End, int Order, int Count)> Runs(IReadOnlyList<(ulong Phys, int Order)> blocks)
    {
        int i = 0;
        while (i < blocks.Count)
        {
            var (start, order) = blocks[i];
            ulong size = 4096UL << order, end = start + size;
            int n = 1;
            while (i + n < blocks.Count && blocks[i + n].Order == order && blocks[i + n].Phys == end) { end += size; n++; }
            yield return (start, end, order, n);
            i += n;
        }
    }
}
