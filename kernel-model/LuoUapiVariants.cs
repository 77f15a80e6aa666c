namespace LuoModel.Kernel;

/// <summary>Which /dev/liveupdate uAPI the kernel offers (luo.md §7.9 uapi = {rfc, v4, simplified}).</summary>
public enum LuoUapi
{
    /// <summary>Mainline N: CREATE/RETRIEVE_SESSION and the session commands, no global state machine (luo.md §3).</summary>
    Simplified,
    /// <summary>v4 series (luo.md §7.3): GET_STATE / SET_EVENT global state machine, sessions with their own state,
    /// UNPRESERVE_FD, RESTORE_FD, 56-byte CREATE_SESSION names.</summary>
    V4,
    /// <summary>RFC (luo.md §7.2): device-only FD_PRESERVE / FD_UNPRESERVE / FD_RESTORE with kernel-generated
    /// tokens, GET_STATE, EVENT_* commands; no sessions.</summary>
    Rfc,
}

/// <summary>The global live-update state of the rfc and v4 uAPIs (luo.md §7.2, §7.3). The wire values differ
/// between the two (<see cref="LiveupdateUapiV4"/>, <see cref="LiveupdateUapiRfc"/>).</summary>
public enum LiveupdateState
{
    /// <summary>No update in progress.</summary>
    Normal,
    /// <summary>PREPARE done: handover built, handlers' freeze ran.</summary>
    Prepared,
    /// <summary>Frozen (reboot ran the freeze step, or rfc EVENT_FREEZE / v4 session FREEZE).</summary>
    Frozen,
    /// <summary>Booted with incoming LUO data, FINISH not yet sent.</summary>
    Updated,
}

/// <summary>uAPI constants of the v4 series (luo.md §7.3; seed 004 = v4 12/30).</summary>
public static class LiveupdateUapiV4
{
    /// <summary>LIVEUPDATE_IOCTL_GET_STATE.</summary>
    public const uint GetState = 0xBA00;
    /// <summary>LIVEUPDATE_IOCTL_SET_EVENT.</summary>
    public const uint SetEvent = 0xBA01;
    /// <summary>LIVEUPDATE_IOCTL_CREATE_SESSION (56-byte name).</summary>
    public const uint CreateSession = 0xBA02;
    /// <summary>LIVEUPDATE_IOCTL_RETRIEVE_SESSION (64-byte name).</summary>
    public const uint RetrieveSession = 0xBA03;
    /// <summary>LIVEUPDATE_SESSION_PRESERVE_FD.</summary>
    public const uint PreserveFd = 0xBA40;
    /// <summary>LIVEUPDATE_SESSION_UNPRESERVE_FD.</summary>
    public const uint UnpreserveFd = 0xBA41;
    /// <summary>LIVEUPDATE_SESSION_RESTORE_FD.</summary>
    public const uint RestoreFd = 0xBA42;
    /// <summary>LIVEUPDATE_SESSION_GET_STATE.</summary>
    public const uint SessionGetState = 0xBA43;
    /// <summary>LIVEUPDATE_SESSION_SET_EVENT.</summary>
    public const uint SessionSetEvent = 0xBA44;
    /// <summary>Number of device commands (nr 0..3); nr ≥ 4 → EINVAL.</summary>
    public const int DeviceCommands = 4;
    /// <summary>Number of session commands (nr 0x40..0x44); others → EINVAL.</summary>
    public const int SessionCommands = 5;

    /// <summary>sizeof(liveupdate_ioctl_get_state), set_event, session_set_event: {size, u32}.</summary>
    public const int StateStructSize = 8;
    /// <summary>sizeof(liveupdate_ioctl_create_session): {size, fd, name[56]}.</summary>
    public const int CreateStructSize = 64;
    /// <summary>sizeof(liveupdate_ioctl_retrieve_session): {size, fd, name[64]} (the header disagrees with 56).</summary>
    public const int RetrieveStructSize = 72;
    /// <summary>sizeof preserve_fd / unpreserve_fd / restore_fd.</summary>
    public const int FdStructSize = 16;
    /// <summary>sizeof(liveupdate_session_get_state): {size, incoming u8, reserved u8[3], state u32}.</summary>
    public const int SessionStateStructSize = 12;
    /// <summary>LIVEUPDATE_SESSION_NAME_LENGTH in the v4 series (including the NUL).</summary>
    public const int NameLength = 56;
    /// <summary>Offsets: state/event @4; session get_state: incoming @4, reserved @5..7, state @8; unpreserve reserved @4.</summary>
    public const int ValueOffset = 4, IncomingOffset = 4, SessionReservedOffset = 5, SessionStateOffset = 8, ReservedOffset = 4;

    /// <summary>enum liveupdate_state (v4): UNDEFINED.</summary>
    public const uint StateUndefined = 0;
    /// <summary>NORMAL.</summary>
    public const uint StateNormal = 1;
    /// <summary>PREPARED.</summary>
    public const uint StatePrepared = 2;
    /// <summary>FROZEN.</summary>
    public const uint StateFrozen = 3;
    /// <summary>UPDATED.</summary>
    public const uint StateUpdated = 4;

    /// <summary>enum liveupdate_event: PREPARE.</summary>
    public const uint EventPrepare = 0;
    /// <summary>FREEZE (not accepted by the device SET_EVENT → EOPNOTSUPP).</summary>
    public const uint EventFreeze = 1;
    /// <summary>FINISH.</summary>
    public const uint EventFinish = 2;
    /// <summary>CANCEL.</summary>
    public const uint EventCancel = 3;

    /// <summary>Wire value of a state.</summary>
    public static uint Wire(LiveupdateState s) => s switch
    {
        LiveupdateState.Normal => StateNormal,
        LiveupdateState.Prepared => StatePrepared,
        LiveupdateState.Frozen => StateFrozen,
        _ => StateUpdated,
    };
}

/// <summary>uAPI constants of the RFC (luo.md §7.2): commands carry size/direction bits.</summary>
public static class LiveupdateUapiRfc
{
    /// <summary>LIVEUPDATE_IOCTL_FD_PRESERVE = _IOWR(0xBA, 0, struct liveupdate_fd).</summary>
    public const uint FdPreserve = 0xC010BA00;
    /// <summary>LIVEUPDATE_IOCTL_FD_UNPRESERVE = _IOW(0xBA, 1, u64).</summary>
    public const uint FdUnpreserve = 0x4008BA01;
    /// <summary>LIVEUPDATE_IOCTL_FD_RESTORE = _IOWR(0xBA, 2, struct liveupdate_fd).</summary>
    public const uint FdRestore = 0xC010BA02;
    /// <summary>LIVEUPDATE_IOCTL_GET_STATE = _IOR(0xBA, 3, u32).</summary>
    public const uint GetState = 0x8004BA03;
    /// <summary>LIVEUPDATE_IOCTL_EVENT_PREPARE = _IO(0xBA, 4).</summary>
    public const uint EventPrepare = 0xBA04;
    /// <summary>LIVEUPDATE_IOCTL_EVENT_FREEZE.</summary>
    public const uint EventFreeze = 0xBA05;
    /// <summary>LIVEUPDATE_IOCTL_EVENT_CANCEL.</summary>
    public const uint EventCancel = 0xBA06;
    /// <summary>LIVEUPDATE_IOCTL_EVENT_FINISH.</summary>
    public const uint EventFinish = 0xBA07;
    /// <summary>LIVEUPDATE_IOCTL_SELFTESTS = _IOWR(0xBA, 8, 16 bytes); not built in the model → ENOTTY.</summary>
    public const uint Selftests = 0xC010BA08;
    /// <summary>sizeof(struct liveupdate_fd): {fd s32 @0, flags u32 @4, token u64 @8}.</summary>
    public const int FdStructSize = 16;
    /// <summary>Offsets in struct liveupdate_fd.</summary>
    public const int FdOffset = 0, FlagsOffset = 4, TokenOffset = 8;
    /// <summary>Name of the single hidden session that carries the rfc's preserved fds through the model's
    /// handover format (model decision: the rfc had no sessions).</summary>
    public const string HiddenSessionName = "luo-rfc";

    /// <summary>Wire values: NORMAL=0, PREPARED=1, FROZEN=2, UPDATED=3.</summary>
    public static uint Wire(LiveupdateState s) => (uint)s;
}
