using System.Buffers.Binary;

namespace LuoModel.Serve;

/// <summary>Operations of the shim wire protocol (selftest-shim.md §5) and of the control socket (§7).</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1028", Justification = "u16 on the wire")]
public enum ShimOp : ushort
{
    /// <summary>First message of a connection: payload u64 fork token (0 = none), u32 shim version.</summary>
    Hello = 1,
    /// <summary>open(): cmd = open flags, payload = path bytes; reply new_handle.</summary>
    Open = 2,
    /// <summary>ioctl(): handle, cmd, payload = <see cref="IoctlRequest"/>.</summary>
    Ioctl = 3,
    /// <summary>close() of one fd referring to handle (always answered 0).</summary>
    Release = 4,
    /// <summary>dup()/dup2()/dup3()/F_DUPFD of one fd referring to handle.</summary>
    Dup = 5,
    /// <summary>pthread_atfork prepare: payload = (u64 handle, u32 count)*; header handle = token to extend
    /// (0 = new); reply new_handle = token.</summary>
    ForkPrepare = 6,
    /// <summary>fork failed: header handle = token.</summary>
    ForkCancel = 7,
    /// <summary>fstatfs(): reply ret = f_type for the configured session-inode variant.</summary>
    Fstatfs = 8,
    /// <summary>Control: reboot(KEXEC) of the model and boot of the next kernel in the daemon.</summary>
    Kexec = 16,
    /// <summary>Control: fresh cold boot.</summary>
    Reset = 17,
    /// <summary>Control: text status.</summary>
    Status = 18,
    /// <summary>Control: payload "name=value" lines (variant switches for the next boot).</summary>
    SetVariant = 19,
    /// <summary>Control: payload "point=P nth=N errno=E [repeat=R]", "point=P next errno=E" or "clear".</summary>
    InjectFault = 20,
    /// <summary>Control: the daemon log (text).</summary>
    Log = 21,
    /// <summary>Control: stop the daemon.</summary>
    Shutdown = 22,
}

/// <summary>errno values the daemon puts on the wire besides the model's own (x86-64 numbers).</summary>
public static class WireErrno
{
    /// <summary>EPROTO: malformed request.</summary>
    public const int EPROTO = 71;
    /// <summary>ESHUTDOWN: the boot this connection belonged to is over (kexec/reset), or the model is frozen.</summary>
    public const int ESHUTDOWN = 108;
    /// <summary>EOPNOTSUPP: unknown operation.</summary>
    public const int EOPNOTSUPP = 95;
    /// <summary>EACCES: peer credentials refused.</summary>
    public const int EACCES = 13;
    /// <summary>EBADF: unknown handle.</summary>
    public const int EBADF = 9;
    /// <summary>EIO: internal failure while handling the request (logged).</summary>
    public const int EIO = 5;
}

/// <summary>The 32-byte request header (selftest-shim.md §5), little-endian.</summary>
public readonly record struct RequestHeader(ShimOp Op, uint Seq, int Pid, ulong Handle, uint Cmd, uint PayloadLength)
{
    /// <summary>Bytes.</summary>
    public const int Size = 32;
    /// <summary>"LUSM".</summary>
    public const uint MagicValue = 0x4D53554C;
    /// <summary>Protocol version.</summary>
    public const ushort CurrentVersion = 1;

    private static class FieldOffsets
    {
        public const int Magic = 0, Version = 4, Op = 6, Seq = 8, Pid = 12, Handle = 16, Cmd = 24, PayloadLength = 28;
    }

    /// <summary>Why a request header was rejected.</summary>
    public enum ParseError
    {
        /// <summary>Valid.</summary>
        None,
        /// <summary>Fewer than 32 bytes.</summary>
        Short,
        /// <summary>Wrong magic.</summary>
        BadMagic,
        /// <summary>Unsupported version.</summary>
        BadVersion,
        /// <summary>payload_len differs from the bytes that followed.</summary>
        BadLength,
    }

    /// <summary>Parses a whole message; <paramref name="seq"/> is filled whenever the bytes reach it.</summary>
    public static ParseError TryRead(ReadOnlySpan<byte> message, out RequestHeader header, out uint seq)
    {
        header = default;
        seq = message.Length >= FieldOffsets.Seq + 4 ? BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.Seq..]) : 0;
        if (message.Length < Size) return ParseError.Short;
        uint payload = BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.PayloadLength..]);
        if (BinaryPrimitives.ReadUInt32LittleEndian(message) != MagicValue) return ParseError.BadMagic;
        if (BinaryPrimitives.ReadUInt16LittleEndian(message[FieldOffsets.Version..]) != CurrentVersion) return ParseError.BadVersion;
        if ((ulong)payload != (ulong)(message.Length - Size)) return ParseError.BadLength;
        header = new RequestHeader(
            (ShimOp)BinaryPrimitives.ReadUInt16LittleEndian(message[FieldOffsets.Op..]),
            seq,
            BinaryPrimitives.ReadInt32LittleEndian(message[FieldOffsets.Pid..]),
            BinaryPrimitives.ReadUInt64LittleEndian(message[FieldOffsets.Handle..]),
            BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.Cmd..]),
            payload);
        return ParseError.None;
    }

    /// <summary>Writes the header into <paramref name="destination"/> (≥ 32 bytes).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.PayloadLength..], PayloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, MagicValue);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[FieldOffsets.Version..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[FieldOffsets.Op..], (ushort)Op);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Seq..], Seq);
        BinaryPrimitives.WriteInt32LittleEndian(destination[FieldOffsets.Pid..], Pid);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[FieldOffsets.Handle..], Handle);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Cmd..], Cmd);
    }
}

/// <summary>The 32-byte reply header (selftest-shim.md §5), little-endian.</summary>
public readonly record struct ReplyHeader(uint Seq, int Ret, int Err, ulong NewHandle, uint OutLength, uint Flags)
{
    /// <summary>Bytes.</summary>
    public const int Size = 32;
    /// <summary>flags bit 0: a descriptor is attached.</summary>
    public const uint FlagFd = 1;

    private static class FieldOffsets
    {
        public const int Magic = 0, Seq = 4, Ret = 8, Err = 12, NewHandle = 16, OutLength = 24, Flags = 28;
    }

    /// <summary>Parses a reply; false for a short message or a wrong magic.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out ReplyHeader header)
    {
        header = default;
        if (message.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(message) != RequestHeader.MagicValue) return false;
        header = new ReplyHeader(
            BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.Seq..]),
            BinaryPrimitives.ReadInt32LittleEndian(message[FieldOffsets.Ret..]),
            BinaryPrimitives.ReadInt32LittleEndian(message[FieldOffsets.Err..]),
            BinaryPrimitives.ReadUInt64LittleEndian(message[FieldOffsets.NewHandle..]),
            BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.OutLength..]),
            BinaryPrimitives.ReadUInt32LittleEndian(message[FieldOffsets.Flags..]));
        return true;
    }

    /// <summary>Writes the header.</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Flags..], Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, RequestHeader.MagicValue);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Seq..], Seq);
        BinaryPrimitives.WriteInt32LittleEndian(destination[FieldOffsets.Ret..], Ret);
        BinaryPrimitives.WriteInt32LittleEndian(destination[FieldOffsets.Err..], Err);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[FieldOffsets.NewHandle..], NewHandle);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.OutLength..], OutLength);
    }
}

/// <summary>What the tail of an ioctl struct beyond the 4096-byte window holds (selftest-shim.md §5.1 item 4):
/// the first notable byte in ascending order.</summary>
public enum TailStatus
{
    /// <summary>No tail, or every tail byte is zero.</summary>
    Zero = 0,
    /// <summary>A non-zero byte comes before any unreadable page.</summary>
    NonZero = 1,
    /// <summary>An unreadable page comes before any non-zero byte.</summary>
    Unreadable = 2,
}

/// <summary>How the shim describes the <c>fd</c> field of a PRESERVE_FD struct (selftest-shim.md §6.1).</summary>
public enum PreserveKind
{
    /// <summary>Not a PRESERVE_FD, or the field was not readable.</summary>
    None = 0,
    /// <summary>The descriptor itself is attached with SCM_RIGHTS.</summary>
    Passed = 1,
    /// <summary>Not open in the test process, or opened with O_PATH.</summary>
    BadFd = 2,
    /// <summary>One of the shim's own placeholders (device or session): <see cref="IoctlRequest.OwnedHandle"/>.</summary>
    Owned = 3,
}

/// <summary>
/// The IOCTL payload (selftest-shim.md §5.1): facts the shim probed about the caller's memory and descriptor
/// table, then the readable head of the struct. Layout (little-endian): flags u32 @0 (bit 0 size readable,
/// bit 1 the shim tried to reserve an fd slot, bit 2 that reservation failed), size u32 @4, arg_page_offset u32
/// @8, readable_len u32 @12, writable_len u32 @16, tail_status u32 @20, preserve_kind u32 @24, reserved u32 @28,
/// owned_handle u64 @32, data @40.
/// </summary>
public readonly record struct IoctlRequest(
    bool SizeReadable, bool SlotTried, bool SlotFailed, uint UserSize, uint ArgPageOffset, uint ReadableLength,
    uint WritableLength, TailStatus Tail, PreserveKind Preserve, ulong OwnedHandle)
{
    /// <summary>Fixed part before the data.</summary>
    public const int FixedSize = 40;
    /// <summary>The window of struct bytes shipped (selftest-shim.md §5.1 item 3).</summary>
    public const int Window = 4096;
    /// <summary>flags bits.</summary>
    public const uint FlagSizeReadable = 1, FlagSlotTried = 2, FlagSlotFailed = 4;

    private static class FieldOffsets
    {
        public const int Flags = 0, Size = 4, ArgPageOffset = 8, ReadableLength = 12, WritableLength = 16, Tail = 20,
            Preserve = 24, Reserved = 28, OwnedHandle = 32, Data = 40;
    }

    /// <summary>Parses the payload; false when it is short, inconsistent or out of range.</summary>
    public static bool TryRead(ReadOnlySpan<byte> payload, out IoctlRequest request, out ReadOnlySpan<byte> data)
    {
        request = default;
        data = default;
        if (payload.Length < FixedSize) return false;
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.Flags..]);
        uint readable = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.ReadableLength..]);
        uint writable = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.WritableLength..]);
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.Tail..]);
        uint kind = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.Preserve..]);
        uint pageOffset = BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.ArgPageOffset..]);
        if ((flags & ~(FlagSizeReadable | FlagSlotTried | FlagSlotFailed)) != 0) return false;
        if (readable > Window || writable > readable || tail > 2 || kind > 3 || pageOffset >= Window) return false;
        if ((ulong)(payload.Length - FixedSize) != readable) return false;
        request = new IoctlRequest(
            (flags & FlagSizeReadable) != 0, (flags & FlagSlotTried) != 0, (flags & FlagSlotFailed) != 0,
            BinaryPrimitives.ReadUInt32LittleEndian(payload[FieldOffsets.Size..]), pageOffset, readable, writable,
            (TailStatus)tail, (PreserveKind)kind, BinaryPrimitives.ReadUInt64LittleEndian(payload[FieldOffsets.OwnedHandle..]));
        data = payload[FieldOffsets.Data..];
        return true;
    }

    /// <summary>Writes the fixed part (the data follows at <see cref="FixedSize"/>).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(destination[FieldOffsets.OwnedHandle..], OwnedHandle);
        uint flags = (SizeReadable ? FlagSizeReadable : 0) | (SlotTried ? FlagSlotTried : 0) | (SlotFailed ? FlagSlotFailed : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Flags..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Size..], UserSize);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.ArgPageOffset..], ArgPageOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.ReadableLength..], ReadableLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.WritableLength..], WritableLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Tail..], (uint)Tail);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Preserve..], (uint)Preserve);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[FieldOffsets.Reserved..], 0);
    }
}
