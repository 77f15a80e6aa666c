using System.CommandLine;
using System.Globalization;
using LuoModel.Fdt;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo demo</c>: until the kernel model exists, shows the FDT library on a KHO-shaped root tree (the kho-v1
/// shape of fdt.md §7 and vector 15-kho): built with the sequential writer, then edited in place with the
/// read-write API inside one 4096-byte page, printed as DTS and tree text, and checked.
/// </summary>
internal static class DemoCommand
{
    /// <summary>Size of the page the blob is opened into (one 4 KiB page, as KHO hands sub-FDTs over).</summary>
    public const int PageSize = 4096;

    /// <summary>Physical addresses stored (little-endian, fdt.md §7) in the demo tree; the first three are 15-kho's.</summary>
    public const ulong PreservedMemoryMap = 0x1_fe00_0000, LuoFdt = 0x1_fd00_0000, MemblockFdt = 0x1_fc00_0000, DemoFdt = 0x1_fb00_0000;

    /// <summary>Name of the subsystem node added with fdt_add_subnode().</summary>
    public const string AddedNode = "luo-demo";

    public static Command Create()
    {
        var cmd = new Command("demo", "Build and edit a KHO-shaped FDT and print it (DTS, tree text, check result)");
        cmd.SetAction(r => Run(CliIo.Out(r), CliIo.Err(r)));
        return cmd;
    }

    /// <summary>The KHO root with the sequential writer: compatible, preserved-memory-map, subnodes LUO and memblock with an fdt u64.</summary>
    internal static int BuildKhoRoot(out byte[] blob)
    {
        blob = [];
        using var w = new FdtWriter();
        int err = w.CreateGrowable();
        if (err == 0) err = w.FinishReservemap();
        if (err == 0) err = w.BeginNode("");
        if (err == 0) err = w.PropertyString("compatible", "kho-v1");
        if (err == 0) err = w.PropertyU64Le("preserved-memory-map"u8, PreservedMemoryMap);
        if (err == 0) err = w.BeginNode("LUO");
        if (err == 0) err = w.PropertyU64Le("fdt"u8, LuoFdt);
        if (err == 0) err = w.EndNode();
        if (err == 0) err = w.BeginNode("memblock");
        if (err == 0) err = w.PropertyU64Le("fdt"u8, MemblockFdt);
        if (err == 0) err = w.EndNode();
        if (err == 0) err = w.EndNode();
        if (err == 0) err = w.Finish();
        if (err == 0) blob = w.ToArray();
        return err;
    }

    /// <summary>fdt_open_into() a page, fdt_add_subnode(), fdt_setprop() of a little-endian u64, fdt_pack().</summary>
    internal static int EditInPage(byte[] blob, out byte[] packed)
    {
        packed = [];
        byte[] page = new byte[PageSize];
        int err = FdtRw.OpenInto(blob, page);
        if (err < 0) return err;
        int node = FdtRw.AddSubnode(page, 0, AddedNode);
        if (node < 0) return node;
        err = FdtRw.SetPropU64Le(page, node, "fdt"u8, DemoFdt);
        if (err < 0) return err;
        err = FdtRw.Pack(page);
        if (err < 0) return err;
        packed = page.AsSpan(0, (int)LuoModel.Fdt.Fdt.TotalSize(page)).ToArray();
        return 0;
    }

    internal static int Run(TextWriter output, TextWriter error)
    {
        var c = CultureInfo.InvariantCulture;
        int err = BuildKhoRoot(out byte[] built);
        if (err < 0) return Fail(error, "building the KHO root", err);
        output.Write(string.Create(c, $"== 1. KHO root built with the sequential writer ({built.Length} bytes) ==\n"));
        err = FdtDtsPrinter.Print(built, output);
        if (err < 0) return Fail(error, "printing the built blob", err);

        err = EditInPage(built, out byte[] packed);
        if (err < 0) return Fail(error, "editing in a page", err);
        output.Write(string.Create(c,
            $"\n== 2. After fdt_open_into({PageSize}-byte page), fdt_add_subnode(\"/{AddedNode}\"), fdt_setprop(\"fdt\", u64 0x{DemoFdt:x} little-endian), fdt_pack ({packed.Length} bytes) ==\n"));
        err = FdtDtsPrinter.Print(packed, output);
        if (err < 0) return Fail(error, "printing the edited blob", err);

        output.Write("\n== 3. Tree text of the packed blob ==\n");
        err = FdtTreePrinter.Print(packed, output);
        if (err < 0) return Fail(error, "printing the tree text", err);

        err = LuoModel.Fdt.Fdt.CheckFull(packed);
        output.Write(err == 0 ? "\n== 4. fdt_check_full: OK ==\n" : $"\n== 4. fdt_check_full: {CliIo.Code(err)} ==\n");
        return err == 0 ? CliIo.ExitOk : CliIo.ExitInvalid;
    }

    private static int Fail(TextWriter error, string step, int err)
    {
        error.Write($"luo demo: {step} failed: {CliIo.Code(err)}\n");
        return CliIo.ExitInvalid;
    }
}
