namespace LuoModel.Kho;

/// <summary>
/// Kernel error numbers with their kernel spellings and values (include/uapi/asm-generic/errno-base.h,
/// errno.h, include/linux/errno.h). A kernel function that returns <c>-EINVAL</c> is modelled as returning
/// <see cref="EINVAL"/>; <see cref="ErrnoExtensions.ToKernel"/> gives the negative int the C code would see.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707", Justification = "kernel spelling")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1028", Justification = "int like the kernel")]
public enum Errno
{
    /// <summary>Success (0).</summary>
    Ok = 0,
    /// <summary>EPERM.</summary>
    EPERM = 1,
    /// <summary>ENOENT.</summary>
    ENOENT = 2,
    /// <summary>ESRCH.</summary>
    ESRCH = 3,
    /// <summary>EIO.</summary>
    EIO = 5,
    /// <summary>E2BIG.</summary>
    E2BIG = 7,
    /// <summary>EBADF.</summary>
    EBADF = 9,
    /// <summary>EAGAIN.</summary>
    EAGAIN = 11,
    /// <summary>ENOMEM.</summary>
    ENOMEM = 12,
    /// <summary>EFAULT.</summary>
    EFAULT = 14,
    /// <summary>EACCES.</summary>
    EACCES = 13,
    /// <summary>EBUSY.</summary>
    EBUSY = 16,
    /// <summary>EEXIST.</summary>
    EEXIST = 17,
    /// <summary>ENODEV.</summary>
    ENODEV = 19,
    /// <summary>EINVAL.</summary>
    EINVAL = 22,
    /// <summary>EMFILE.</summary>
    EMFILE = 24,
    /// <summary>ENOTTY.</summary>
    ENOTTY = 25,
    /// <summary>EFBIG.</summary>
    EFBIG = 27,
    /// <summary>ENOSPC.</summary>
    ENOSPC = 28,
    /// <summary>ESPIPE.</summary>
    ESPIPE = 29,
    /// <summary>ERANGE.</summary>
    ERANGE = 34,
    /// <summary>ENAMETOOLONG.</summary>
    ENAMETOOLONG = 36,
    /// <summary>ENODATA.</summary>
    ENODATA = 61,
    /// <summary>EOPNOTSUPP.</summary>
    EOPNOTSUPP = 95,
    /// <summary>EADDRNOTAVAIL.</summary>
    EADDRNOTAVAIL = 99,
    /// <summary>ENOTSUPP (kernel-internal 524).</summary>
    ENOTSUPP = 524,
    /// <summary>Not a kernel errno: the call would block forever because a successful reboot serialization
    /// holds serialize_lock exclusively (luo.md §4.2 step 5). Model-only sentinel.</summary>
    Frozen = 0x10000,
}

/// <summary>Helpers for <see cref="Errno"/>.</summary>
public static class ErrnoExtensions
{
    /// <summary>The value the C function returns: 0 or the negative errno.</summary>
    public static int ToKernel(this Errno e) => -(int)e;

    /// <summary>Maps a C return value (0 or negative errno) back to <see cref="Errno"/>.</summary>
    public static Errno FromKernel(int rc) => rc >= 0 ? Errno.Ok : (Errno)(-rc);
}
