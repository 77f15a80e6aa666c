namespace LuoModel.Kernel;

/// <summary>
/// TEST-ONLY deliberately wrong behaviours ("mutants") used by property-tests/ to prove that the property
/// suite can fail (issue 6 §4). Every flag makes the model violate the spec in one small, named way. The
/// default <see cref="None"/> is the correct model; nothing outside the tests may set a flag. Each switch
/// point in the model is a single guarded line marked <c>// mutant:</c>.
/// </summary>
[Flags]
public enum LuoMutant : long
{
    /// <summary>The correct model.</summary>
    None = 0,
    /// <summary>Rollback skips unfreeze of the last frozen file of a session (luo.md §4.3, §8 inv. 11).</summary>
    SkipLastUnfreeze = 1L << 0,
    /// <summary>Rollback unfreezes earlier sessions in creation order instead of reverse (§4.4, inv. 12).</summary>
    UnfreezeSessionsForward = 1L << 1,
    /// <summary>Rollback unfreezes the files of a session backward instead of forward (§4.3, inv. 12).</summary>
    UnfreezeFilesBackward = 1L << 2,
    /// <summary>Rollback forgets to zero the name slot of a rolled-back session entry (§4.4 step 2, inv. 11).</summary>
    KeepNameOnRollback = 1L << 3,
    /// <summary>A failed RETRIEVE_FD is retried instead of returning the sticky errno (§3.7 step 3).</summary>
    RetrieveNotSticky = 1L << 4,
    /// <summary>FINISH calls the handlers' finish forward instead of backward (§3.8 step 3).</summary>
    FinishForward = 1L << 5,
    /// <summary>Closing an OUT session leaves the files' registry entries behind (§3.10, inv. 4).</summary>
    LeakRegistryEntry = 1L << 6,
    /// <summary>An outgoing block set re-adopts the block it freed last instead of allocating and preserving a
    /// new one (§2.6 grow, inv. 19).</summary>
    ReuseFreedBlock = 1L << 7,
    /// <summary>The outgoing root carries liveupdate_num + 2 (§5.2, inv. 15).</summary>
    LiveupdateNumPlusTwo = 1L << 8,
    /// <summary>CREATE_SESSION checks for a duplicate name before growing the block set (§3.4 step 6, inv. 16).</summary>
    EexistBeforeGrow = 1L << 9,
    /// <summary>GET_NAME replies min(size, ksize = 16) bytes instead of min(size, 72) (§3.9 step 5, inv. 7).</summary>
    GetNameReplyKsize = 1L << 10,
    /// <summary>Releasing /dev/liveupdate does not clear in_use (§3.1, inv. 1).</summary>
    DeviceInUseSticky = 1L << 11,
    /// <summary>Closing an OUT session does not shrink the session block set (§2.6, inv. 9).</summary>
    NoShrinkOnClose = 1L << 12,
    /// <summary>A CREATE_SESSION reply fault keeps the new session instead of releasing it (§3.4 step 8, inv. 5).</summary>
    CreateReplyFaultKeepsSession = 1L << 13,
    /// <summary>FINISH keeps asking can_finish after the first refusal (§3.8 step 2).</summary>
    CanFinishContinues = 1L << 14,
    /// <summary>The session direction check runs after the size and tail checks (§3.2 step 4, inv. 6).</summary>
    DirectionCheckAfterCopy = 1L << 15,
    /// <summary>An FLB is unpreserved when its outgoing count reaches 1 instead of 0 (§2.5, inv. 10).</summary>
    FlbUnpreserveAtOne = 1L << 16,
    /// <summary>memfd freeze does not record the current file offset (§6.3, inv. 18).</summary>
    MemfdFreezeSkipsPos = 1L << 17,
    /// <summary>The size-extensible copy skips the zero check of the tail (§3.2 step 6, E2BIG).</summary>
    TailCheckSkipped = 1L << 18,
}
