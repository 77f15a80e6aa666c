namespace LuoModel.Kernel;

public sealed partial class ShmemInode
{
    /// <summary>Permission bits of i_mode (memfd_create gives S_IRWXUGO, 0777); the type is always S_IFREG.
    /// Changed by <see cref="Kernel.Fchmod"/>.</summary>
    public uint Permissions { get; internal set; } = 0x1FF;
}
