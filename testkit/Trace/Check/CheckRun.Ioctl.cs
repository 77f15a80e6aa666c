using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using LuoModel.Kernel;

namespace LuoModel.Testkit.Trace;

internal sealed partial class CheckRun
{
    /// <summary>Offset of the fd field in the CREATE/RETRIEVE_SESSION, PRESERVE_FD and RETRIEVE_FD structs (luo.md §3.3).</summary>
    private const int FdFieldOffset = 4;
    /// <summary>Largest memfd size the checker gives a model memfd (1 GiB, the model machine's DRAM).</summary>
    private const long MaxMemfdBytes = 1L << 30;

    /// <summary>The spec section of an ioctl command.</summary>
    internal static string SpecOf(uint cmd) => cmd switch
    {
        LiveupdateUapi.CreateSession => "luo.md §3.4 (CREATE_SESSION)",
        LiveupdateUapi.RetrieveSession => "luo.md §3.5 (RETRIEVE_SESSION), §5.7 (sessions handed over)",
        LiveupdateUapi.PreserveFd => "luo.md §3.6 (PRESERVE_FD)",
        LiveupdateUapi.RetrieveFd => "luo.md §3.7 (RETRIEVE_FD)",
        LiveupdateUapi.Finish => "luo.md §3.8 (FINISH)",
        LiveupdateUapi.GetName => "luo.md §3.9 (GET_NAME), §7.6 (its variants)",
        _ => "luo.md §3.2 (ioctl dispatch), §3.3 (command table)",
    };

    private static bool CreatesFd(uint cmd) => cmd is LiveupdateUapi.CreateSession or LiveupdateUapi.RetrieveSession or LiveupdateUapi.RetrieveFd;

    private void Ioctl(Process p, IoctlOp io, TraceResult observed)
    {
        var mem = p.Memory;
        ulong region = _regions[p];
        mem.Poke(region, new byte[TraceTarget.RegionBytes]);
        ulong addr = io.Place switch
        {
            BufPlace.Rw => region,
            BufPlace.Ro => region + (2 * UserMemory.PageSize),
            BufPlace.RwRo => region + (2 * UserMemory.PageSize) - (ulong)io.Split,
            BufPlace.RoHole => region + TraceTarget.RegionBytes - (ulong)io.Split,
            _ => region + TraceTarget.RegionBytes,
        };
        int n = Math.Min(io.Input.Length, TraceTarget.Mapped(io.Place, io.Split));
        if (n > 0) mem.Poke(addr, io.Input.AsSpan(0, n));
        string? session = (p.FileOf(io.Fd) as SessionFile)?.Session.Name;
        var target = io.Cmd == LiveupdateUapi.PreserveFd && io.Input.Length >= 8 ? p.FileOf(BinaryPrimitives.ReadInt32LittleEndian(io.Input.AsSpan(FdFieldOffset))) : null;
        long rc = _kernel.Ioctl(p, io.Fd, io.Cmd, addr);
        int w = TraceTarget.Window(io.Place, io.Split, io.Input.Length);
        byte[] reply = w > 0 ? mem.Peek(addr, w) : [];
        string spec = SpecOf(io.Cmd);
        if (rc != observed.Value)
        {
            _checked++;
            throw Fail("return value", "= " + V(rc) + Output(io, reply), "= " + V(observed.Value) + Output(io, observed.Data ?? []), spec);
        }
        if (rc >= 0 && CreatesFd(io.Cmd) && reply.Length >= 8 && (observed.Data?.Length ?? 0) >= 8)
        {
            int modelFd = BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(FdFieldOffset));
            int realFd = BinaryPrimitives.ReadInt32LittleEndian(observed.Data.AsSpan(FdFieldOffset));
            if (modelFd >= 0 && realFd >= 0 && modelFd != realFd)
            {
                Place(p, modelFd, realFd, spec);
                BinaryPrimitives.WriteInt32LittleEndian(reply.AsSpan(FdFieldOffset), realFd);
            }
        }
        _checked++;
        byte[] seen = observed.Data ?? [];
        int len = Math.Max(reply.Length, seen.Length);
        for (int i = 0; i < len; i++)
        {
            byte m = i < reply.Length ? reply[i] : (byte)0, o = i < seen.Length ? seen[i] : (byte)0;
            if (m == o) continue;
            throw Fail(string.Create(CultureInfo.InvariantCulture, $"reply bytes (first difference at offset {i}: model 0x{m:x2}, observed 0x{o:x2})"),
                "= " + V(rc) + Output(io, reply), "= " + V(observed.Value) + Output(io, seen), spec);
        }
        if (rc < 0) return;
        if (io.Cmd == LiveupdateUapi.PreserveFd && session is not null && target is not null && io.Input.Length >= 16)
        {
            var key = (session, BinaryPrimitives.ReadUInt64LittleEndian(io.Input.AsSpan(8)));
            _preserved[key] = target;
            _stageEnd.Remove(key);
        }
        if (io.Cmd == LiveupdateUapi.RetrieveFd && session is not null && io.Input.Length >= 16 && p.FileOf(BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(FdFieldOffset))) is { } got)
            _retrieved[got] = (session, BinaryPrimitives.ReadUInt64LittleEndian(io.Input.AsSpan(8)));
    }

    /// <summary>" => literal" when the window changed.</summary>
    private static string Output(IoctlOp io, byte[] window)
    {
        var input = TraceFormat.InputWindow(io);
        var w = new byte[Math.Max(window.Length, input.Length)];
        window.CopyTo(w, 0);
        if (w.AsSpan().SequenceEqual(input) || window.Length == 0) return "";
        int end = w.Length;
        int natural = Math.Max(io.Input.Length, 8);
        while (end > natural && w[end - 1] == 0) end--;
        return " => " + TraceFormat.Literal(io.Cmd, w.AsSpan(0, end));
    }

    /// <summary>A model fd that must carry the recorded number: equal, or a gap explained by fds the recorder
    /// does not see (filled with placeholders), or a number the model still holds for another file (divergence).</summary>
    private void Place(Process p, int modelFd, int realFd, string spec)
    {
        if (modelFd == realFd) return;
        if (realFd > MaxFd || (ulong)realFd >= p.NofileSoft)
            throw Fail("fd number", $"fd {modelFd.ToString(CultureInfo.InvariantCulture)} (the lowest free)", $"fd {realFd.ToString(CultureInfo.InvariantCulture)}, at or above RLIMIT_NOFILE ({p.NofileSoft.ToString(CultureInfo.InvariantCulture)})",
                spec + "; fds are the lowest free number below RLIMIT_NOFILE");
        var occupant = p.FileOf(realFd);
        if (_options.StrictFds || IsLuoFile(occupant))
        {
            string held = occupant is null ? "" : $"; the model still holds {realFd.ToString(CultureInfo.InvariantCulture)} for {occupant.PathName}";
            throw Fail("fd number", $"fd {modelFd.ToString(CultureInfo.InvariantCulture)} (the lowest free){held}", $"fd {realFd.ToString(CultureInfo.InvariantCulture)}",
                spec + "; fds are the lowest free number (get_unused_fd_flags)");
        }
        _gaps++;
        bool cloexec = p.IsCloseOnExec(modelFd);
        if (occupant is not null) _kernel.Close(p, realFd);
        _kernel.Dup3(p, modelFd, realFd, cloexec ? OpenFlags.O_CLOEXEC : 0);
        _kernel.Close(p, modelFd);
        // numbers below realFd that the model has free were taken by fds the recorder did not see
        for (int fd = modelFd; fd < realFd; fd++)
            if (p.FileOf(fd) is null) PlaceholderAt(p, fd);
    }

    /// <summary>An fd the model does not model (another path, a pipe…): a /dev/null placeholder at that number.</summary>
    private void Placeholder(Process p, int realFd, int flags)
    {
        if (realFd > MaxFd) return;
        if (p.FileOf(realFd) is { } old)
        {
            if (IsLuoFile(old) && _options.StrictFds)
                throw Fail("fd number", $"fd {realFd.ToString(CultureInfo.InvariantCulture)} still holds {old.PathName}", $"a new file at fd {realFd.ToString(CultureInfo.InvariantCulture)}", "luo.md §3.10 (close)");
            _kernel.Close(p, realFd);
        }
        PlaceholderAt(p, realFd, flags & (OpenFlags.O_PATH | OpenFlags.O_CLOEXEC));
    }

    /// <summary>A /dev/null at <paramref name="fd"/>; with O_PATH it is as invalid for PRESERVE_FD as the
    /// O_PATH fd it stands for (luo.md §3.6).</summary>
    private void PlaceholderAt(Process p, int fd, int flags = 0)
    {
        long got = _kernel.Open(p, "/dev/null", flags);
        if (got < 0 || got == fd) return;
        _kernel.Dup3(p, (int)got, fd, flags & OpenFlags.O_CLOEXEC);
        _kernel.Close(p, (int)got);
    }

    /// <summary>memfd_state: the model's memfd takes the recorded size and position.</summary>
    private void ApplyState(Process p, int fd, long size, long pos)
    {
        if (p.FileOf(fd) is not MemfdFile m) return;
        if (size is < 0 or > MaxMemfdBytes)
        {
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"line {_entry.Line}: memfd {fd} of {size} bytes is not resized in the model"));
            return;
        }
        if (m.Inode.Size != size && _kernel.Ftruncate(p, fd, size) is < 0 and var rc)
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"line {_entry.Line}: the model cannot give memfd {fd} its recorded size {size} (ftruncate = {V(rc)})"));
        if (m.Position != pos) _kernel.Lseek(p, fd, pos, MemfdConsts.SEEK_SET);
    }

    /// <summary>content("session", token) at a stage end: the hash the next boot's retrieve must show; the
    /// model's file takes the size and position (through any fd still open on it).</summary>
    private void StageEndContent(ContentOp c, TraceResult observed)
    {
        _applied++;
        var key = (c.Session!, c.Token);
        _stageEnd[key] = (observed.Value, observed.Facts!.Sha256!);
        if (!_preserved.TryGetValue(key, out var file)) return;
        foreach (var p in _procs.Values)
            foreach (int fd in p.OpenFds)
                if (ReferenceEquals(p.FileOf(fd), file))
                {
                    ApplyState(p, fd, observed.Value, observed.Facts.Pos);
                    return;
                }
    }

    /// <summary>content(FD) after RETRIEVE_FD: size and position against the model's retrieved memfd, content
    /// against the stage-end hash of the file preserved under the same (session, token).</summary>
    private void RetrievedContent(Process p, int fd, TraceResult observed)
    {
        _checked++;
        const string spec = "luo.md §6.5 (memfd retrieve), §6.3 (contents as at the reboot)";
        if (p.FileOf(fd) is not MemfdFile m)
            throw Fail("retrieved file", $"fd {fd.ToString(CultureInfo.InvariantCulture)} is {p.FileOf(fd)?.PathName ?? "not open"}", "a memfd", spec);
        var facts = observed.Facts!;
        bool known = _retrieved.TryGetValue(m, out var key);
        bool hashed = known && _incoming.ContainsKey(key);
        if (!hashed && !(known && _stateKnown.Contains(key)))
        {
            // still open at the kexec and no stage-end line: writes after the last recorded state are invisible
            _unknown++;
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"line {_entry.Line}: size, position and content of retrieved fd {fd} unknown (the file was open at the kexec and no stage-end line describes it)"));
            return;
        }
        if (m.Inode.Size != observed.Value || m.Position != facts.Pos)
            throw Fail("retrieved memfd size/position", Facts(m.Inode.Size, m.Position), Facts(observed.Value, facts.Pos), spec);
        if (!hashed)
        {
            _unknown++;
            _notes.Add(string.Create(CultureInfo.InvariantCulture, $"line {_entry.Line}: content of retrieved fd {fd} unknown (no stage-end hash for it before the kexec)"));
            return;
        }
        var want = _incoming[key];
        if (!want.Hash.AsSpan().SequenceEqual(facts.Sha256))
            throw Fail("retrieved memfd content", $"sha256:{Convert.ToHexStringLower(want.Hash)} (\"{key.Item1}\" token 0x{key.Item2:x} at the stage end)",
                $"sha256:{Convert.ToHexStringLower(facts.Sha256!)}", spec);
    }

    private static string Facts(long size, long pos) => string.Create(CultureInfo.InvariantCulture, $"size {size}, pos {pos}");

    /// <summary>v1 memfd calls (write, pread, lseek, F_ADD_SEALS) of a model-produced trace.</summary>
    private void Memfd(Process p, TraceOp op, TraceResult observed)
    {
        ulong region = _regions[p];
        TraceResult r;
        switch (op)
        {
            case WriteOp w:
                if (w.Data.Length > 2 * UserMemory.PageSize) throw new ArgumentException("write data over 8 KiB");
                p.Memory.Poke(region, w.Data);
                r = new(_kernel.Write(p, w.Fd, region, (ulong)w.Data.Length));
                break;
            case PreadOp rd:
            {
                p.Memory.Poke(region, new byte[Math.Clamp(rd.Count, 0, 2 * UserMemory.PageSize)]);
                long rc = _kernel.Pread(p, rd.Fd, region, (ulong)Math.Clamp(rd.Count, 0, 2 * UserMemory.PageSize), rd.Offset);
                r = new(rc, rc > 0 ? p.Memory.Peek(region, (int)rc) : null);
                break;
            }
            case LseekOp l: r = new(_kernel.Lseek(p, l.Fd, l.Offset, l.Whence)); break;
            default: r = new(_kernel.Fcntl(p, ((AddSealsOp)op).Fd, FcntlCmd.F_ADD_SEALS, ((AddSealsOp)op).Seals)); break;
        }
        _checked++;
        if (!r.Equals(observed))
            throw Fail("result", TraceFormat.Line(op, r).Split(" = ", 2)[^1], TraceFormat.Line(op, observed).Split(" = ", 2)[^1], "luo.md §6 (memfd)");
    }

    /// <summary>SHA-256 of <paramref name="bytes"/> (the recorder's content hash).</summary>
    internal static byte[] Sha256(ReadOnlySpan<byte> bytes) => SHA256.HashData(bytes);
}
