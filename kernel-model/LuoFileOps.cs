using System.Buffers.Binary;
using LuoModel.Kho;

namespace LuoModel.Kernel;

public sealed partial class Luo
{
    /// <summary>A file reference dropped under LUO's locks: like the kernel's fput() from a syscall (task_work),
    /// its release runs only when the syscall has left every lock (<see cref="RunDeferredFput"/>). Only a
    /// session fd offered to PRESERVE_FD and closed meanwhile by another thread can need this.</summary>
    [ThreadStatic] private static OpenFile? t_deferredFput;

    private static void DeferFput(OpenFile f)
    {
        if (t_deferredFput is null) t_deferredFput = f;
        else f.Put();
    }

    /// <summary>task_work: runs the deferred fput of this thread; <paramref name="rc"/> unless the release would
    /// block forever.</summary>
    private static long RunDeferredFput(long rc)
    {
        var f = t_deferredFput;
        if (f is null) return rc;
        t_deferredFput = null;
        return f.Put() == Errno.Frozen ? Fail(Errno.Frozen) : rc;
    }

    /// <summary>LIVEUPDATE_SESSION_PRESERVE_FD (luo.md §3.6). Reply fault keeps the preservation. Runs under
    /// serialize_lock (shared) and the session mutex; takes register_lock (handler search, FLB links) and the
    /// model's mm lock.</summary>
    private long PreserveFdIoctl(Process p, LuoSession s, Ucmd u)
    {
        int fd = BinaryPrimitives.ReadInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapi.FdOffset));
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(u.Buf.AsSpan(LiveupdateUapi.TokenOffset));
        Errno rc;
        using (RegisterLock.Hold())
        using (Kernel.Mm.Hold())
            rc = PreserveFile(p, s, fd, token);
        if (rc != Errno.Ok) return Fail(rc);
        return Respond(p, u) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>luo_preserve_file(): the checks and steps of §3.6 in order, undone in reverse on failure.</summary>
    internal Errno PreserveFile(Process p, LuoSession s, int fd, ulong token)
    {
        bool used = s.State == SessionState.Out ? s.OutTokens?.Contains(token) == true : s.FileList.Any(f => f.Token == token);
        if (used) return Errno.EEXIST;                                                        // 1
        bool v5 = s.FileBlocks is not null;
        if (v5)
        {
            Errno g = s.FileBlocks!.Grow(s.FileList.Count + 1);                             // 2
            if (g != Errno.Ok) return g;
        }
        else if (s.FileList.Count == LuoOptions.FdtMaxFiles) return Errno.ENOSPC;
        OpenFile? file = fd >= 0 ? p.GetFile(fd) : null;                                     // 3: fget()
        if (file is null) return Undo(Errno.EBADF);
        if (file.IsPath) return UndoFile(Errno.EBADF);
        if (!v5 && s.FdtFileArea == 0)
        {
            if (AllocPreserve(2UL * PhysicalArena.PageSize, out ulong area, "fdt file area") != Errno.Ok) return UndoFile(Errno.ENOMEM);
            s.FdtFileArea = area;
        }
        LiveupdateFileHandler? h = _handlers.FirstOrDefault(x => x.CanPreserve(file));    // 4
        if (h is null || h.ModuleGoingAway) return UndoFile(Errno.ENOENT);
        var lf = new LuoFile(h, token) { File = file };
        object id = IdOf(h, file);
        Errno rc = RegistryInsert(lf, id);                                                    // 5
        if (rc != Errno.Ok) return UndoFile(rc);
        rc = FlbFilePreserve(h);                                                              // 6
        if (rc != Errno.Ok) { RegistryErase(lf); return UndoFile(rc); }
        rc = Faults.Check(FaultPoint.FileRecordAlloc);                                        // 7
        if (rc == Errno.Ok)
        {
            var args = lf.Args();
            rc = h.Preserve(args);                                                            // 8
            if (rc == Errno.Ok)
            {
                lf.SerializedData = args.SerializedData;
                lf.PrivateData = args.PrivateData;
                s.FileList.Add(lf);                                                           // 9
                if (s.State == SessionState.Out) (s.OutTokens ??= []).Add(token);
                return Errno.Ok;
            }
        }
        FlbFileUnpreserve(h);
        RegistryErase(lf);
        return UndoFile(rc);

        Errno UndoFile(Errno e)
        {
            DeferFput(file!);
            return Undo(e);
        }

        Errno Undo(Errno e)
        {
            s.FileBlocks?.Shrink(s.FileList.Count);
            return e;
        }
    }

    [ThreadStatic] private static LiveupdateFileOpArgs? t_scratchArgs;

    /// <summary>The argument block for one retrieve / can_finish / finish call, refilled from <paramref name="f"/>
    /// (the kernel's struct lives on the stack for the call, so the model keeps one per thread; handlers must not
    /// keep it).</summary>
    private static LiveupdateFileOpArgs ScratchArgs(LuoFile f) => (t_scratchArgs ??= new LiveupdateFileOpArgs(f.Handler)).Reset(f);

    /// <summary>LIVEUPDATE_SESSION_RETRIEVE_FD (luo.md §3.7).</summary>
    private long RetrieveFdIoctl(Process p, LuoSession s, Ucmd u)
    {
        int fd = p.Reserve(0, true);
        if (fd < 0) return Fail(Errno.EMFILE);
        return RetrieveIntoFd(p, s, u, fd);
    }

    /// <summary>The common tail of RETRIEVE_FD (and v4 RESTORE_FD) once the fd is reserved: retrieve the token's
    /// file, reply with the fd, install it; on failure or a reply fault the reserved fd is released (luo.md §3.7).</summary>
    private long RetrieveIntoFd(Process p, LuoSession s, Ucmd u, int fd)
    {
        ulong token = BinaryPrimitives.ReadUInt64LittleEndian(u.Buf.AsSpan(LiveupdateUapi.TokenOffset));
        Errno rc = RetrieveFile(s, token, out OpenFile? file);
        if (rc != Errno.Ok) { p.Unreserve(fd); return Fail(rc); }
        file!.Get();
        BinaryPrimitives.WriteInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapi.FdOffset), fd);
        if (!Respond(p, u))
        {
            p.Unreserve(fd);
            file.Put();
            return Fail(Errno.EFAULT);
        }
        p.Install(fd, file);
        return 0;
    }

    /// <summary>luo_retrieve_file(): ENOENT, sticky status, repeat → same description, handler retrieve.</summary>
    internal Errno RetrieveFile(LuoSession s, ulong token, out OpenFile? file)
    {
        file = null;
        LuoFile? lf = null;
        foreach (var f in s.FileList)
            if (f.Token == token) { lf = f; break; }
        if (lf is null) return Errno.ENOENT;
        using var fm = lf.Mutex.Hold();                                                       // luo_file->mutex
        using var mm = Kernel.Mm.Hold();
        if (lf.RetrieveStatus < 0 && Options.RetrieveSticky && !Mut(LuoMutant.RetrieveNotSticky)) return (Errno)(-lf.RetrieveStatus);
        if (lf.RetrieveStatus > 0) { file = lf.File; return Errno.Ok; }
        var args = ScratchArgs(lf);
        args.RetrieveStatus = 0;
        Errno rc = lf.Handler.Retrieve(args);
        if (rc != Errno.Ok)
        {
            lf.RetrieveStatus = -(int)rc;
            return rc;
        }
        lf.File = args.File ?? throw new InvalidOperationException($"{lf.Handler} retrieve returned no file");
        lf.PrivateData = args.PrivateData;
        lf.RetrieveStatus = 1;
        if (Options.DoublePreserve == DoublePreserveCheck.Registry)
        {
            RegistryStore(lf, IdOf(lf.Handler, lf.File));
        }
        file = lf.File;
        return Errno.Ok;
    }

    /// <summary>LIVEUPDATE_SESSION_FINISH (luo.md §3.8); reserved is not validated.</summary>
    private long FinishIoctl(Process p, LuoSession s, Ucmd u)
    {
        Errno rc;
        using (RegisterLock.Hold())
        using (Kernel.Mm.Hold())
            rc = FinishSession(s);
        if (rc != Errno.Ok) return Fail(rc);
        return Respond(p, u) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>luo_file_finish(): can_finish forward (stop at the first refusal → EBUSY), then finish
    /// backward, then destroy the file blocks.</summary>
    internal Errno FinishSession(LuoSession s)
    {
        if (s.FileList.Count == 0) return Errno.Ok;
        bool refused = false;
        foreach (var f in s.FileList)
        {
            if (!f.Handler.HasCanFinish) continue;
            if (!f.Handler.CanFinish(ScratchArgs(f))) refused = true;
            if (refused && !Mut(LuoMutant.CanFinishContinues)) break; // mutant: CanFinishContinues
        }
        if (refused) return Errno.EBUSY;
        while (s.FileList.Count > 0)
        {
            int i = Mut(LuoMutant.FinishForward) ? 0 : s.FileList.Count - 1; // mutant: FinishForward
            var f = s.FileList[i];
            f.Handler.Finish(ScratchArgs(f));
            FlbFileFinish(f.Handler);
            if (f.RetrieveStatus == 1)
            {
                RegistryErase(f);
                f.File?.Put();
            }
            s.FileList.RemoveAt(i);
            s.FileBlocks?.Shrink(s.FileList.Count);
        }
        s.OutTokens = null;                          // FINISH on an outgoing session (direction_check off)
        s.FileBlocks?.Destroy();
        if (s.FdtFileArea != 0)
        {
            Kho.RestoreFree(s.FdtFileArea);
            s.FdtFileArea = 0;
        }
        return Errno.Ok;
    }

    /// <summary>LIVEUPDATE_SESSION_GET_NAME (luo.md §3.9; the seed layout of §7.6 under get_name=seed: no
    /// reserved field, name at offset 4).</summary>
    private long GetNameIoctl(Process p, LuoSession s, Ucmd u)
    {
        bool seed = Options.GetName == GetNameVariant.Seed;
        if (!seed && BinaryPrimitives.ReadUInt32LittleEndian(u.Buf.AsSpan(LiveupdateUapi.ReservedOffset)) != 0) return Fail(Errno.EINVAL);
        int nameOffset = seed ? LiveupdateUapi.SeedNameOffset : LiveupdateUapi.NameOffset;
        int len = Array.IndexOf(s.NameBytes, (byte)0);
        if (len < 0) len = 63;
        s.NameBytes.AsSpan(0, len).CopyTo(u.Buf.AsSpan(nameOffset));
        u.Buf[nameOffset + len] = 0;
        var reply = Mut(LuoMutant.GetNameReplyKsize) ? u.Retarget(u.Op with { ReplySize = u.Op.KSize }) : u; // mutant: GetNameReplyKsize
        return Respond(p, reply) ? 0 : Fail(Errno.EFAULT);
    }

    /// <summary>Release of a session file (luo.md §3.10). Frozen when serialize_lock is held forever. Under
    /// serialize_lock (shared): the files are released under the session mutex (with register_lock and the mm
    /// lock), then the session leaves its list under the list rwsem.</summary>
    internal Errno SessionRelease(LuoSession s)
    {
        if (!SerializeLock.EnterShared()) return Errno.Frozen;
        try
        {
            bool remove;
            using (s.Mutex.Hold())
            using (RegisterLock.Hold())
            using (Kernel.Mm.Hold())
            {
                if (Options.Uapi != LuoUapi.Simplified) UapiBeforeRelease(s);                       // LuoUapiState.cs
                s.File = null;
                if (s.State == SessionState.Out)
                {
                    UnpreserveAll(s);
                    remove = true;
                }
                else if (s.State == SessionState.InOpen)
                {
                    remove = FinishSession(s) == Errno.Ok;
                    if (!remove) s.State = SessionState.InLeaked;
                }
                else return Errno.Ok;
            }
            if (!remove) return Errno.Ok;
            var sh = s.State == SessionState.Out ? Outgoing : Incoming;
            using (sh.Lock.Hold())
            using (Kernel.Mm.Hold())
            {
                if (sh == Outgoing) RemoveOutgoing(s);
                else
                {
                    Incoming.List.Remove(s);
                    s.State = SessionState.Destroyed;
                }
            }
            return Errno.Ok;
        }
        finally { SerializeLock.ExitShared(); }
    }

    /// <summary>luo_file_unpreserve_files(): backward; handler unpreserve, FLB unpreserve, registry erase,
    /// remove, shrink, drop LUO's reference; then destroy the file blocks (or the FDT-era area).</summary>
    private void UnpreserveAll(LuoSession s)
    {
        for (int i = s.FileList.Count - 1; i >= 0; i--)
        {
            var f = s.FileList[i];
            f.Handler.Unpreserve(f.Args());
            FlbFileUnpreserve(f.Handler);
            if (!Mut(LuoMutant.LeakRegistryEntry)) RegistryErase(f); // mutant: LeakRegistryEntry
            s.FileList.RemoveAt(i);
            s.FileBlocks?.Shrink(s.FileList.Count);
            f.File?.Put();
        }
        s.OutTokens = null;
        s.FileBlocks?.Destroy();
        if (s.FdtFileArea != 0)
        {
            Kho.UnpreserveFree(s.FdtFileArea);
            s.FdtFileArea = 0;
        }
    }
}
