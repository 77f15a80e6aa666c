using System.Buffers.Binary;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;
using FdtRo = LuoModel.Fdt.Fdt;

namespace LuoModel.Testkit;

public static partial class HandoverDecoder
{
    private const int V1SessionHeaderSize = 8;

    /// <summary>luo-v5 (luo.md §5.2–§5.5): luo_ser, session chain, sessions, FLB page.</summary>
    private static void DecodeV5(Ctx c)
    {
        var h = c.Result;
        h.Abi = LuoSerRoot.Compatible;
        string where = "luo_ser @ " + Hex(h.BlobPhys);
        if (h.BlobSize is { } size && size < LuoSerRoot.Size)
        {
            h.Problem(HandoverProblemKind.BootPanic, where, $"blob-size {size} is smaller than 32 (-EINVAL)");
            return;
        }
        Span<byte> raw = stackalloc byte[LuoSerRoot.Size];
        if (!c.TryRead(h.BlobPhys, raw)) { h.Problem(HandoverProblemKind.BootPanic, where, "outside memory"); return; }
        var root = LuoSerRoot.ReadFrom(raw);
        h.Root = new LuoRootInfo(Field(raw[..LuoSerRoot.CompatibleLength]).Text, root.LiveupdateNum, root.SessionsPa, root.FlbsPa);
        if (!LuoSerRoot.CompatibleMatches(raw))
        {
            h.Problem(HandoverProblemKind.BootPanic, where, $"compatible \"{h.Root.Compatible}\" is not \"{LuoSerRoot.Compatible}\" (-EINVAL)");
            return;
        }
        if (!c.Preserved(h.BlobPhys)) h.Problem(HandoverProblemKind.Note, where, "page is not in the KHO preserved map");
        if (root.SessionsPa != 0)
        {
            var blocks = WalkBlocks(c, root.SessionsPa, LuoSessionSer.Size, out string? err);
            h.SessionBlockList.AddRange(blocks);
            if (err is not null) h.Problem(HandoverProblemKind.BootPanic, "session block chain", "kho_block_set_restore " + err);
            var names = new HashSet<string>(StringComparer.Ordinal);
            int i = 0;
            foreach (ulong e in Entries(blocks, LuoSessionSer.Size)) h.SessionList.Add(DecodeSession(c, i++, e, names, v5: true));
        }
        if (root.FlbsPa != 0) h.Flb = DecodeFlb(c, root.FlbsPa);
        else h.Problem(HandoverProblemKind.Note, where, "flbs_pa is 0 (the writer always sets it)");
    }

    private static SessionEntryInfo DecodeSession(Ctx c, int index, ulong phys, HashSet<string> names, bool v5)
    {
        var h = c.Result;
        Span<byte> raw = stackalloc byte[LuoSessionSer.Size];
        string where = $"session [{index}] @ {Hex(phys)}";
        if (!c.TryRead(phys, raw))
        {
            h.Problem(HandoverProblemKind.FirstOpenFails, where, "entry outside memory");
            return new SessionEntryInfo(index, phys, "", true, 0, 0, [], []);
        }
        var (name, terminated) = Field(raw[..LuoSessionSer.NameLength]);
        var ser = LuoSessionSer.ReadFrom(raw);
        string kernelName = name.Length > LuoSessionSer.NameLength - 1 ? name[..(LuoSessionSer.NameLength - 1)] : name;
        where = $"session [{index}] \"{kernelName}\"";
        if (!terminated) h.Problem(HandoverProblemKind.Note, where, "name has no NUL; the kernel keeps the first 63 bytes");
        if (!names.Add(kernelName)) h.Problem(HandoverProblemKind.FirstOpenFails, where, "duplicate session name (-EEXIST)");
        var blocks = new List<BlockInfo>();
        var files = new List<FileEntryInfo>();
        if (ser.FilesPa == 0)
        {
            if (ser.FileCount != 0) h.Problem(HandoverProblemKind.Note, where, $"file count {ser.FileCount} without a file chain (a warning; the session is empty)");
        }
        else if (v5)
        {
            blocks = WalkBlocks(c, ser.FilesPa, LuoFileSer.Size, out string? err);
            if (err is not null) h.Problem(HandoverProblemKind.FirstOpenFails, where, "file chain: kho_block_set_restore " + err);
            int j = 0;
            foreach (ulong e in Entries(blocks, LuoFileSer.Size)) files.Add(DecodeFile(c, where, j++, e));
            if ((ulong)files.Count != ser.FileCount)
                h.Problem(HandoverProblemKind.FirstOpenFails, where, $"{files.Count} file entries but file_set_ser.count is {ser.FileCount} (-EINVAL)");
        }
        else if (ser.FileCount > LuoOptions.FdtMaxFiles)
        {
            h.Problem(HandoverProblemKind.FirstOpenFails, where, $"file count {ser.FileCount} is above {LuoOptions.FdtMaxFiles} (-EINVAL)");
        }
        else
        {
            for (int j = 0; j < (int)ser.FileCount; j++) files.Add(DecodeFile(c, where, j, ser.FilesPa + ((ulong)j * LuoFileSer.Size)));
        }
        return new SessionEntryInfo(index, phys, name, terminated, ser.FilesPa, ser.FileCount, blocks, files);
    }

    private static FileEntryInfo DecodeFile(Ctx c, string session, int index, ulong phys)
    {
        var h = c.Result;
        Span<byte> raw = stackalloc byte[LuoFileSer.Size];
        string where = $"{session} file [{index}]";
        if (!c.TryRead(phys, raw))
        {
            h.Problem(HandoverProblemKind.FirstOpenFails, where, $"entry {Hex(phys)} outside memory");
            return new FileEntryInfo(index, phys, "", 0, 0, null);
        }
        var ser = LuoFileSer.ReadFrom(raw);
        if (!KnownHandlers.Contains(ser.Compatible))
            h.Problem(HandoverProblemKind.FirstOpenFails, where, $"no handler registers \"{ser.Compatible}\" (-ENOENT)");
        MemfdInfo? memfd = ser.Compatible switch
        {
            "memfd-v2" => DecodeMemfd(c, where + $" token {Hex(ser.Token)}", ser.Data, MemfdVersion.V2),
            "memfd-v1" => DecodeMemfd(c, where + $" token {Hex(ser.Token)}", ser.Data, MemfdVersion.V1),
            _ => null,
        };
        return new FileEntryInfo(index, phys, ser.Compatible, ser.Data, ser.Token, memfd);
    }

    /// <summary>The FLB page (luo.md §5.5).</summary>
    private static FlbAreaInfo? DecodeFlb(Ctx c, ulong phys)
    {
        var h = c.Result;
        string where = "FLB page @ " + Hex(phys);
        Span<byte> hdr = stackalloc byte[LuoFlbHeaderSer.Size];
        if (!c.TryRead(phys, hdr)) { h.Problem(HandoverProblemKind.Note, where, "outside memory (FLB retrieval would fail)"); return null; }
        if (!c.Preserved(phys)) h.Problem(HandoverProblemKind.Note, where, "page is not in the KHO preserved map");
        var head = LuoFlbHeaderSer.ReadFrom(hdr);
        if (head.Count > LuoFlbHeaderSer.MaxEntries) h.Problem(HandoverProblemKind.Note, where, $"count {head.Count} above {LuoFlbHeaderSer.MaxEntries}; only {LuoFlbHeaderSer.MaxEntries} entries are read");
        var list = new List<FlbEntryInfo>();
        Span<byte> e = stackalloc byte[LuoFlbSer.Size];
        for (int i = 0; i < (int)Math.Min(head.Count, (ulong)LuoFlbHeaderSer.MaxEntries); i++)
        {
            if (!c.TryRead(phys + LuoFlbHeaderSer.Size + ((ulong)i * LuoFlbSer.Size), e)) break;
            var f = LuoFlbSer.ReadFrom(e);
            list.Add(new FlbEntryInfo(i, f.Name, f.Data, f.Count));
        }
        return new FlbAreaInfo(phys, head.PageCount, head.Count, list);
    }

    /// <summary>luo-v1 (luo.md §5.8): the root FDT, its session area and the FLB page. Every root check the
    /// FDT-era early boot makes is a panic.</summary>
    private static void DecodeV1(Ctx c)
    {
        var h = c.Result;
        h.Abi = LuoFdtV1.Compatible;
        string where = "LUO FDT @ " + Hex(h.BlobPhys);
        Span<byte> head = stackalloc byte[8];
        c.TryRead(h.BlobPhys, head);
        uint total = BinaryPrimitives.ReadUInt32BigEndian(head[4..]);
        if (total < 8 || total > HandoverReader.MaxFdtBytes || !c.Arena.Contains(h.BlobPhys, total))
        {
            h.Problem(HandoverProblemKind.BootPanic, where, $"totalsize {total} does not fit in memory");
            return;
        }
        var fdt = new byte[total];
        c.TryRead(h.BlobPhys, fdt);
        if (FdtRo.CheckHeader(fdt) != 0) { h.Problem(HandoverProblemKind.BootPanic, where, "fdt_check_header failed"); return; }
        h.FdtDts = FdtDtsPrinter.ToText(fdt, out _);
        if (FdtRo.NodeCheckCompatible(fdt, 0, LuoFdtV1.Compatible) != 0) { h.Problem(HandoverProblemKind.BootPanic, where, "root compatible does not list \"luo-v1\""); return; }
        ulong? num = U64Prop(fdt, 0, "liveupdate-number"u8);
        if (num is null) { h.Problem(HandoverProblemKind.BootPanic, where, "liveupdate-number missing or not 8 bytes"); return; }
        int sn = FdtRo.SubnodeOffset(fdt, 0, LuoFdtV1.SessionNode);
        if (sn < 0 || FdtRo.NodeCheckCompatible(fdt, sn, LuoFdtV1.SessionCompatible) != 0)
        {
            h.Problem(HandoverProblemKind.BootPanic, where, "node luo-session missing or not \"luo-session-v2\"");
            return;
        }
        ulong? area = U64Prop(fdt, sn, "luo-session-header"u8);
        if (area is null) { h.Problem(HandoverProblemKind.BootPanic, where, "luo-session-header missing or not 8 bytes"); return; }
        int fn = FdtRo.SubnodeOffset(fdt, 0, LuoFdtV1.FlbNode);
        if (fn < 0) { h.Problem(HandoverProblemKind.BootPanic, where, "node luo-flb missing (-ENOENT)"); return; }
        ulong flb = U64Prop(fdt, fn, "luo-flb-header"u8) ?? 0;
        h.Root = new LuoRootInfo(LuoFdtV1.Compatible, num.Value, area.Value, flb);
        if (area.Value != 0)
        {
            ulong bytes = (ulong)LuoFdtV1.SessionAreaPages * PhysicalArena.PageSize;
            if (!c.Arena.Contains(area.Value, bytes) || c.ReadU64(area.Value) is not { } count)
                h.Problem(HandoverProblemKind.Note, "session area @ " + Hex(area.Value), "outside memory: the kernel sees no incoming sessions");
            else
            {
                h.V1SessionCount = count;
                if (!c.Preserved(area.Value)) h.Problem(HandoverProblemKind.Note, "session area @ " + Hex(area.Value), "not in the KHO preserved map");
                if (count > LuoOptions.FdtMaxSessions)
                    h.Problem(HandoverProblemKind.Note, "session area @ " + Hex(area.Value), $"count {count} above {LuoOptions.FdtMaxSessions}; only {LuoOptions.FdtMaxSessions} are read");
                var names = new HashSet<string>(StringComparer.Ordinal);
                for (int i = 0; i < (int)Math.Min(count, (ulong)LuoOptions.FdtMaxSessions); i++)
                    h.SessionList.Add(DecodeSession(c, i, area.Value + V1SessionHeaderSize + ((ulong)i * LuoSessionSer.Size), names, v5: false));
            }
        }
        if (flb != 0) h.Flb = DecodeFlb(c, flb);
    }
}
