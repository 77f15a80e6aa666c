using System.Buffers.Binary;
using LuoModel.Fdt;
using LuoModel.Kernel;
using LuoModel.Kho;
using LuoModel.Testkit;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Cli;

internal sealed partial class LiveUpdateDemo
{
    private bool Reboot()
    {
        Section("4. Reboot (kexec)");
        var k = _m.Kernel;
        long rc = _m.Sys.Reboot(_p, ModelKernel.LINUX_REBOOT_CMD_KEXEC);
        if (!Ok("reboot(LINUX_REBOOT_CMD_KEXEC)", rc)) return false;
        int files = k.Luo.Outgoing.Sessions.Sum(s => s.Files.Count);
        Say(I($"reboot(LINUX_REBOOT_CMD_KEXEC) = 0: {k.Luo.Outgoing.Count} session(s) and {files} file(s) serialized in creation order into KHO-preserved pages"));
        Say(I($"kernel state: {k.State}; serialize_lock is held for good (any further LUO call would block)"));
        return true;
    }

    private bool NextBoot()
    {
        Section("5. The handover as the next kernel finds it");
        bool dumped = true;
        var k2 = _m.Kexec(null, arena => dumped = DumpHandover(arena));
        if (!dumped) return false;
        Section("6. Boot 2");
        if (k2.Panicked)
        {
            _err.Write("luo demo: the next kernel panicked: " + k2.Outcome.PanicReason + "\n");
            return false;
        }
        Say(I($"kernel {k2.BootNumber}: KHO handover accepted, LUO liveupdate_num {k2.Luo.LiveupdateNum}; new luo_ser @ {H(k2.Luo.OutRootPhys)}"));
        _p = _m.StartProgram();
        var sys = _m.Sys;
        long dev = sys.Open(_p, LibLiveupdate.DevicePath, OpenFlags.O_RDWR);
        if (!Ok("open /dev/liveupdate", dev, -1)) return false;
        Say(I($"open(\"/dev/liveupdate\") = {dev}: the first open deserialized {k2.Luo.Incoming.Count} incoming session(s)"));
        long verified = 0;
        int memfds = 0;
        bool allOk = true;
        foreach (var st in _sessions)
        {
            long s = Retrieve((int)dev, st.Name);
            if (!Ok($"RETRIEVE_SESSION \"{st.Name}\"", s, -1)) return false;
            Say(I($"session \"{st.Name}\": RETRIEVE_SESSION = fd {s}"));
            foreach (var f in st.Memfds)
            {
                long fd = RetrieveFd((int)s, f.Token);
                if (!Ok($"RETRIEVE_FD {H(f.Token)}", fd, -1)) return false;
                long pos = sys.Lseek(_p, (int)fd, 0, MemfdConsts.SEEK_CUR);
                sys.Lseek(_p, (int)fd, 0, MemfdConsts.SEEK_SET);
                long n = sys.Read(_p, (int)fd, f.Data.Length + 1, out byte[] got);
                bool same = n == f.Data.Length && got.AsSpan().SequenceEqual(f.Data);
                ulong[] pfns = [.. ((MemfdFile)_p.FileOf((int)fd)!).Inode.Pages.Select(x => x.Pfn)];
                bool samePages = pfns.AsSpan().SequenceEqual(f.Pfns);
                allOk &= same;
                if (same) { verified += n; memfds++; }
                Say(I($"  RETRIEVE_FD token {H(f.Token)} = fd {fd} ({_p.FdPath((int)fd)}): offset {pos}, {n} bytes read, ")
                    + (same ? "every byte equal" : "MISMATCH") + (samePages ? ", the very same arena pages" : ", different pages"));
                sys.Close(_p, (int)fd);
            }
            long g = RetrieveFd((int)s, GuardToken);
            if (!Ok("RETRIEVE_FD guard", g, -1)) return false;
            ulong payload = ((TestFile)_p.FileOf((int)g)!).Payload;
            allOk &= payload == st.GuardPayload;
            Say(I($"  RETRIEVE_FD token {H(GuardToken)} = fd {g}: test file payload {H(payload)}") + (payload == st.GuardPayload ? " (as preserved)" : " (WRONG)"));
            sys.Close(_p, (int)g);
            if (!Ok($"FINISH \"{st.Name}\"", Finish((int)s)) || !Ok("close", sys.Close(_p, (int)s))) return false;
            Say("  FINISH = 0, close = 0");
        }
        Section("7. Result");
        long expected = _sessions.Sum(x => x.Memfds.Sum(f => (long)f.Data.Length));
        int expectedFiles = _sessions.Sum(x => x.Memfds.Count);
        allOk &= verified == expected && memfds == expectedFiles && _m.Kernel.Luo.Incoming.Count == 0;
        Say(I($"verified {verified} of {expected} bytes in {memfds} of {expectedFiles} memfd(s); incoming sessions left: {_m.Kernel.Luo.Incoming.Count}"));
        Say(allOk ? "live update complete: every byte verified" : "live update FAILED");
        return allOk;
    }

    private bool DumpHandover(PhysicalArena arena)
    {
        var luo = HandoverDecoder.Decode(arena, out var kho);
        if (luo is null || kho is null || !kho.IsKhoBoot)
        {
            _err.Write("luo demo: no KHO handover recorded: " + (kho?.Reason ?? "none") + "\n");
            return false;
        }
        var h = arena.Handoff!.Value;
        Say(I($"handoff: KHO root FDT @ {H(h.FdtPhys)}, scratch array @ {H(h.ScratchPhys)} ({h.ScratchLen / 16} regions)"));
        Say(I($"KHO root FDT ({kho.Fdt.Length} bytes) as DTS:"));
        string dts = FdtDtsPrinter.ToText(kho.Fdt, out _);
        foreach (string line in dts.Split('\n', StringSplitOptions.RemoveEmptyEntries)) Say("  " + line.Replace("\t", "  ", StringComparison.Ordinal));
        ulong pages = (ulong)kho.Blocks.Sum(b => 1L << b.Order);
        Say(I($"preserved memory: {kho.Blocks.Count} block(s), {pages} page(s), read from the preserved-memory-map"));
        foreach (string line in LuoHandoverPrinter.Lines(luo)) Say(line);
        if (_o.SavePath is { } path)
        {
            ArenaImage.Save(arena, path);
            Say("arena image saved to " + path + " (inspect it with `luo image dump`)");
        }
        return luo.Accepted;
    }

    private long Retrieve(int dev, string name)
    {
        var b = LibLiveupdate.SessionStruct(name);
        long rc = _m.Sys.Ioctl(_p, dev, LiveupdateUapi.RetrieveSession, b);
        return rc < 0 ? rc : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
    }

    private long RetrieveFd(int session, ulong token)
    {
        var b = new byte[LiveupdateUapi.FdStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FdStructSize);
        BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(LiveupdateUapi.TokenOffset), token);
        long rc = _m.Sys.Ioctl(_p, session, LiveupdateUapi.RetrieveFd, b);
        return rc < 0 ? rc : BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(LiveupdateUapi.FdOffset));
    }

    private long Finish(int session)
    {
        var b = new byte[LiveupdateUapi.FinishStructSize];
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(LiveupdateUapi.SizeOffset), LiveupdateUapi.FinishStructSize);
        return _m.Sys.Ioctl(_p, session, LiveupdateUapi.Finish, b);
    }
}
