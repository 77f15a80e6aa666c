using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Luo
{
    /// <summary>Argument block reused by every freeze call of a reboot (no allocation per file).</summary>
    private LiveupdateFileOpArgs? _freezeArgs;

    /// <summary>liveupdate_reboot() (luo.md §4.1): session serialization (rollback on failure), FLB
    /// serialization, and in the FDT era with kho-v1 kho_finalize() (failure → EAGAIN, files stay frozen).
    /// Success leaves serialize_lock held forever (<see cref="IsFrozen"/>).</summary>
    internal Errno Reboot()
    {
        if (!Enabled) return Errno.Ok;
        if (IsFrozen) return Errno.Frozen;
        if (Options.Uapi != LuoUapi.Simplified) return UapiReboot();                                // LuoUapiState.cs
        SerializeAttempts++;
        Errno rc = SerializeSessions();
        if (rc != Errno.Ok) return rc;
        SerializeFlbs(OutFlbPhys);
        if (Options.Abi == LuoAbi.FdtV1 && Kho.Options.Variant == KhoVariant.KhoV1)
        {
            rc = Faults.Check(FaultPoint.KhoFinalize);
            if (rc == Errno.Ok) rc = Kho.Finalize();
            if (rc != Errno.Ok) return Errno.EAGAIN;
        }
        IsFrozen = true;
        return Errno.Ok;
    }

    private ulong FdtSessionEntry(int i) => FdtSessionArea + FdtSessionHeaderSize + ((ulong)i * LuoSessionSer.Size);

    /// <summary>luo_session_serialize() (luo.md §4.2, §4.4): creation order, forward file freeze, name after
    /// the files; on failure at session k the earlier sessions are rolled back in reverse.</summary>
    private Errno SerializeSessions()
    {
        var sh = Outgoing;
        bool v5 = sh.Blocks is not null;
        if (v5)
        {
            Kho.Arena.WriteU64(OutRootPhys + LuoSerRoot.SessionsPaOffset, 0);
            sh.Blocks!.BeginWrite();
        }
        Errno err = Errno.Ok;
        int k = 0;
        for (; k < sh.List.Count; k++)
        {
            var s = sh.List[k];
            ulong entry;
            if (v5)
            {
                err = Faults.Check(FaultPoint.SessionReserveEntry, Faults.Logging ? s.Name : "");
                entry = err == Errno.Ok ? sh.Blocks!.ReserveEntry() : 0;
                if (err == Errno.Ok && entry == 0) err = Errno.ENOSPC;
                if (err != Errno.Ok) break;
            }
            else entry = FdtSessionEntry(k);
            err = FreezeFiles(s, entry + LuoSessionSer.FileSetOffset);
            if (err != Errno.Ok)
            {
                if (v5) sh.Blocks!.Prev();
                break;
            }
            Kho.Arena.Write(entry + LuoSessionSer.NameOffset, s.NameBytes.AsSpan(0, LuoSessionSer.NameLength));
        }
        if (err != Errno.Ok)
        {
            bool forward = Mut(LuoMutant.UnfreezeSessionsForward);
            for (int r = 0; r < k; r++)
            {
                int i = forward ? r : k - 1 - r; // mutant: UnfreezeSessionsForward
                var s = sh.List[i];
                ulong entry = v5 ? sh.Blocks!.SlotAddress(i) : FdtSessionEntry(i);
                if (s.FileList.Count > 0)
                {
                    UnfreezeFiles(s, s.FileList.Count);
                    Kho.Arena.Fill(entry + LuoSessionSer.FileSetOffset, LuoSessionSer.FileSetSize, 0);
                }
                if (!Mut(LuoMutant.KeepNameOnRollback)) Kho.Arena.Fill(entry + LuoSessionSer.NameOffset, LuoSessionSer.NameLength, 0); // mutant: KeepNameOnRollback
            }
            return err;
        }
        if (v5)
        {
            if (sh.Count > 0) Kho.Arena.WriteU64(OutRootPhys + LuoSerRoot.SessionsPaOffset, sh.Blocks!.HeadPa);
        }
        else Kho.Arena.WriteU64(FdtSessionArea, (ulong)sh.Count);
        return Errno.Ok;
    }

    /// <summary>luo_file_freeze() (luo.md §4.3): per file forward reserve → freeze → write the entry; then
    /// file_set_ser. On failure at file j: forward unfreeze of 0..j-1 and clear.</summary>
    private Errno FreezeFiles(LuoSession s, ulong fileSetSer)
    {
        var files = s.FileList;
        if (files.Count == 0) return Errno.Ok;
        var fb = s.FileBlocks;
        fb?.BeginWrite();
        var args = _freezeArgs ??= new LiveupdateFileOpArgs(files[0].Handler);
        for (int j = 0; j < files.Count; j++)
        {
            var f = files[j];
            Errno err;
            ulong entry;
            if (fb is not null)
            {
                err = Faults.Check(FaultPoint.FileReserveEntry);
                entry = err == Errno.Ok ? fb.ReserveEntry() : 0;
                if (err == Errno.Ok && entry == 0) err = Errno.ENOSPC;
            }
            else
            {
                err = Errno.Ok;
                entry = s.FdtFileArea + ((ulong)j * LuoFileSer.Size);
            }
            if (err == Errno.Ok && f.Handler.HasFreeze)
            {
                err = f.Handler.FreezeFile(f, args);
            }
            if (err != Errno.Ok)
            {
                UnfreezeFiles(s, j);
                return err;
            }
            // entries never straddle a page (blocks are pages; the FDT-era area is two pages of 64-byte slots)
            LuoFileSer.Write(Kho.Arena.PageSpanForWrite(entry, LuoFileSer.Size), f.Handler.CompatibleField, f.SerializedData, f.Token);
        }
        Span<byte> set = stackalloc byte[LuoSessionSer.FileSetSize];
        BinaryPrimitives.WriteUInt64LittleEndian(set, fb is not null ? fb.HeadPa : s.FdtFileArea);
        BinaryPrimitives.WriteUInt64LittleEndian(set[8..], (ulong)files.Count);
        Kho.Arena.Write(fileSetSer, set);
        return Errno.Ok;
    }

    /// <summary>luo_file_unfreeze(): unfreeze of the first <paramref name="n"/> files forward, then the file
    /// blocks (or the FDT-era area) are cleared.</summary>
    private void UnfreezeFiles(LuoSession s, int n)
    {
        for (int r = 0; r < n; r++)
        {
            int j = Mut(LuoMutant.UnfreezeFilesBackward) ? n - 1 - r : r; // mutant: UnfreezeFilesBackward
            if (Mut(LuoMutant.SkipLastUnfreeze) && j == n - 1) continue;  // mutant: SkipLastUnfreeze
            var f = s.FileList[j];
            if (f.Handler.HasUnfreeze) f.Handler.Unfreeze(f.Args());
            if (Options.UnfreezeZeroesData) f.SerializedData = 0;
        }
        if (s.FileBlocks is not null) s.FileBlocks.Clear();
        else if (s.FdtFileArea != 0) Kho.Arena.Fill(s.FdtFileArea, 2UL * PhysicalArena.PageSize, 0);
    }
}
