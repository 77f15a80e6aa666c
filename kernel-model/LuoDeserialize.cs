using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Luo
{
    /// <summary>First-open deserialization (luo.md §5.7): sessions in chain order, each with its files; the
    /// first error stops, is cached, and makes every open fail EIO. The session blocks are restored-and-freed
    /// in every outcome; sessions deserialized before an error stay (unreachable).</summary>
    private Errno DeserializeIncoming()
    {
        if (!Incoming.Active) return Errno.Ok;
        bool v5 = Options.Abi == LuoAbi.LuoV5;
        var entries = v5 ? Incoming.Blocks!.ReadEntries().ToList() : FdtIncomingSessionEntries();
        Errno err = Errno.Ok;
        Span<byte> raw = stackalloc byte[LuoSessionSer.Size];
        var names = new HashSet<string>(StringComparer.Ordinal); // Incoming is empty before the one-shot run
        foreach (ulong entry in entries)
        {
            Kho.Arena.Read(entry, raw);
            err = Faults.Check(FaultPoint.DeserializeSessionAlloc);
            if (err != Errno.Ok) break;
            var name = new byte[LuoSessionSer.NameLength];
            raw[..(LuoSessionSer.NameLength - 1)].CopyTo(name);
            int nul = Array.IndexOf(name, (byte)0);
            if (nul >= 0) Array.Clear(name, nul, name.Length - nul);
            var s = new LuoSession(name, SessionState.InPending, v5 ? new KhoBlockSet(Kho, Faults, FaultPoint.FileBlockGrow, LuoFileSer.Size) : null);
            if (!names.Add(LuoStrings.FromField(name))) { err = Errno.EEXIST; break; } // same bytes up to the NUL
            Incoming.List.Add(s);
            var ser = LuoSessionSer.ReadFrom(raw);
            err = DeserializeFiles(s, ser.FilesPa, ser.FileCount);
            if (err != Errno.Ok)
            {
                s.FileList.Clear();
                s.FileBlocks?.Destroy();
                if (s.FdtFileArea != 0) { Kho.RestoreFree(s.FdtFileArea); s.FdtFileArea = 0; }
                break;
            }
        }
        if (v5) Incoming.Blocks!.Destroy();
        else FdtReleaseIncomingSessionArea();
        if (err == Errno.Ok) RegistryReserve(Incoming.List.Sum(s => s.FileList.Count)); // each retrieve stores one
        return err;
    }

    /// <summary>luo_file_deserialize(): files == 0 → empty (even with count ≠ 0); chain restore; handler
    /// match by compatible (ENOENT), record allocation (ENOMEM); count mismatch → EINVAL.</summary>
    private Errno DeserializeFiles(LuoSession s, ulong filesPa, ulong count)
    {
        if (filesPa == 0) return Errno.Ok;
        Span<byte> raw = stackalloc byte[LuoFileSer.Size];
        s.FileList.EnsureCapacity((int)Math.Min(count, 64)); // the usual count, without trusting a hostile one
        ulong n = 0;
        if (s.FileBlocks is not null)
        {
            Errno r = s.FileBlocks.Restore(filesPa);
            if (r != Errno.Ok) return r;
            foreach (ulong e in s.FileBlocks.ReadEntries())
            {
                Errno a = DeserializeFile(s, e, raw);
                if (a != Errno.Ok) return a;
                n++;
            }
        }
        else
        {
            if (count > LuoOptions.FdtMaxFiles) return Errno.EINVAL;
            // A file area outside memory is a wild pointer (undefined in the kernel, which maps it and reads);
            // the model stops with a file-level EINVAL, so every open fails EIO (fuzz finding 4).
            if (count > 0 && !Kho.Arena.Contains(filesPa, count * LuoFileSer.Size)) return Errno.EINVAL;
            s.FdtFileArea = filesPa;
            for (; n < count; n++)
            {
                Errno a = DeserializeFile(s, filesPa + (n * LuoFileSer.Size), raw);
                if (a != Errno.Ok) return a;
            }
        }
        return n != count ? Errno.EINVAL : Errno.Ok;
    }

    /// <summary>One file entry of luo_file_deserialize(): handler by compatible (ENOENT, also while its module goes
    /// away), the luo_file allocation (ENOMEM by fault), token and serialized data.</summary>
    private Errno DeserializeFile(LuoSession s, ulong entry, Span<byte> raw)
    {
        Kho.Arena.Read(entry, raw);
        var h = FindHandler(raw[..LuoFileSer.CompatibleLength]);
        if (h is null || h.ModuleGoingAway) return Errno.ENOENT;
        Errno a = Faults.Check(FaultPoint.DeserializeFileAlloc);
        if (a != Errno.Ok) return a;
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(raw[LuoFileSer.TokenOffset..]);
        s.FileList.Add(new LuoFile(h, token) { SerializedData = BinaryPrimitives.ReadUInt64LittleEndian(raw[LuoFileSer.DataOffset..]) });
        return Errno.Ok;
    }
}
