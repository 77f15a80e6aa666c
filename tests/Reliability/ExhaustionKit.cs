using LuoModel.Kernel;
using LuoModel.Kho;
using ModelKernel = LuoModel.Kernel.Kernel;

namespace LuoModel.Tests.Reliability;

/// <summary>
/// A machine with a small arena where physical memory really runs out (issue 9 §4). Memory is consumed and
/// returned only through syscalls: a "hog" memfd whose page cache is grown one page per pwrite() until the
/// kernel answers ENOMEM, and shrunk with ftruncate() to give back an exact number of pages.
/// </summary>
/// <remarks>
/// With the N variant the three cold-boot scratch regions (4, 8 and 8 MiB, 4 MiB-aligned) are placed top-down, so a 24 MiB
/// arena has [4 MiB, 24 MiB) as scratch and [1 MiB, 4 MiB) as ordinary memory. The model places every kernel
/// allocation LUO makes (blocks, memfd records, folios, vmalloc arrays, radix nodes) outside scratch (scratch
/// is MIGRATE_CMA: only movable memory may use it, kho.md §1.2), so "free pages" below means free pages
/// outside scratch — the memory that actually runs out.
/// </remarks>
internal sealed class ExhaustionKit
{
    public const int Page = PhysicalArena.PageSize;

    public ExhaustionKit(ulong dramMiB = 24, KernelConfig? config = null)
    {
        Config = (config ?? new KernelConfig()) with { DramBytes = dramMiB << 20 };
        K = ModelKernel.ColdBoot(Config);
        Assert.False(K.Panicked);
        P = K.CreateProcess();
    }

    public KernelConfig Config { get; }
    public ModelKernel K { get; private set; }
    public Process P { get; private set; }
    /// <summary>The hog memfd (-1 until <see cref="Exhaust"/>).</summary>
    public int Hog { get; private set; } = -1;
    /// <summary>Pages in the hog's page cache (indices 0..HogPages-1).</summary>
    public int HogPages { get; private set; }

    public static long E(Errno e) => -(long)e;

    /// <summary>Free pages outside the scratch regions (what unmovable kernel allocations can still get).</summary>
    public int FreePages
    {
        get
        {
            var pages = K.Kho.Pages;
            int free = 0;
            for (ulong pfn = 0; pfn < pages.PageCount; pfn++)
            {
                if (pages.IsUsed(pfn)) continue;
                ulong a = pfn << PhysicalArena.PageShift;
                bool scratch = false;
                foreach (var r in pages.Scratch)
                    if (a >= r.Start && a < r.End) { scratch = true; break; }
                if (!scratch) free++;
            }
            return free;
        }
    }

    /// <summary>Writes one byte into page <paramref name="index"/> of the hog (allocating that page).</summary>
    private long TouchHog(int index)
    {
        ulong buf = LuoSyscalls.Scratch(P);
        P.Memory.Poke(buf, [0x48]);
        return K.Pwrite(P, Hog, buf, 1, (long)index * Page);
    }

    /// <summary>Grows the hog until write() fails ENOMEM; afterwards no ordinary page is free. Returns the
    /// number of pages the hog took.</summary>
    public int Exhaust()
    {
        if (Hog < 0)
        {
            long fd = K.MemfdCreate(P, "hog", 0);
            Assert.True(fd >= 0);
            Hog = (int)fd;
        }
        int before = HogPages;
        while (true)
        {
            long rc = TouchHog(HogPages);
            if (rc == E(Errno.ENOMEM)) break;
            Assert.Equal(1, rc);
            HogPages++;
        }
        Assert.Equal(0, FreePages);
        return HogPages - before;
    }

    /// <summary>Gives <paramref name="pages"/> hog pages back (ftruncate): exactly that many pages become free.</summary>
    public void Release(int pages)
    {
        Assert.True(pages <= HogPages);
        int free = FreePages;
        HogPages -= pages;
        Assert.Equal(0, K.Ftruncate(P, Hog, (long)HogPages * Page));
        Assert.Equal(free + pages, FreePages);
    }

    /// <summary>Takes <paramref name="pages"/> free pages back into the hog.</summary>
    public void Consume(int pages)
    {
        for (int i = 0; i < pages; i++)
        {
            Assert.Equal(1, TouchHog(HogPages));
            HogPages++;
        }
    }

    /// <summary>Leaves exactly <paramref name="pages"/> free ordinary pages.</summary>
    public void SetFree(int pages)
    {
        int free = FreePages;
        if (free < pages) Release(pages - free);
        else Consume(free - pages);
        Assert.Equal(pages, FreePages);
    }

    public int OpenDev()
    {
        long fd = LuoSyscalls.OpenDevice(K, P);
        Assert.True(fd >= 0, $"open /dev/liveupdate = {fd}");
        return (int)fd;
    }

    public int Create(int dev, string name)
    {
        Assert.Equal(0, LuoSyscalls.CreateSession(K, P, dev, name, out int fd));
        return fd;
    }

    /// <summary>A memfd of <paramref name="pages"/> written pages with a recognisable pattern (seed).</summary>
    public int DataMemfd(int pages, byte seed)
    {
        long fd = K.MemfdCreate(P, "data", 0);
        Assert.True(fd >= 0);
        if (pages > 0) Assert.Equal((long)pages * Page, LuoSyscalls.WriteBytes(K, P, (int)fd, Pattern(pages, seed)));
        return (int)fd;
    }

    public static byte[] Pattern(int pages, byte seed)
    {
        var b = new byte[pages * Page];
        for (int i = 0; i < b.Length; i++) b[i] = (byte)(seed + (i * 7) + (i >> 12));
        return b;
    }

    /// <summary>Whole contents of a memfd via pread.</summary>
    public byte[] Contents(int fd)
    {
        long size = K.Lseek(P, fd, 0, MemfdConsts.SEEK_END);
        Assert.True(size >= 0);
        var result = new byte[size];
        ulong buf = LuoSyscalls.Scratch(P);
        for (long off = 0; off < size; off += Page)
        {
            int n = (int)Math.Min(Page, size - off);
            Assert.Equal(n, K.Pread(P, fd, buf, (ulong)n, off));
            P.Memory.Peek(buf, n).CopyTo(result, off);
        }
        return result;
    }

    /// <summary>Everything a failed call must leave unchanged: LUO state (sessions, files, tokens, registry, FLB
    /// counts, block pages, KHO's preserved set), the fd table, the radix node pages and the free page count.</summary>
    public State Snap() => new(K.Luo.Snapshot(), string.Join(",", P.OpenFds), K.Kho.Tree?.NodePages.Count ?? 0, FreePages);

    public sealed record State(LuoStateSnapshot Luo, string Fds, int RadixNodes, int FreePages);

    /// <summary>reboot(KEXEC) + kexec into a fresh boot of the same arena, with a new process.</summary>
    public void KexecNext()
    {
        Assert.Equal(0, K.Reboot(P, ModelKernel.LINUX_REBOOT_CMD_KEXEC));
        K = K.Kexec();
        Assert.False(K.Panicked, K.Outcome.PanicReason);
        P = K.CreateProcess();
        Hog = -1;
        HogPages = 0;
    }
}
