using System.Buffers.Binary;
using LuoModel.Kho;
using LuoModel.Serve;
using LuoModel.Serve.Native;

namespace LuoModel.Tests.Shim;

/// <summary>A daemon on a private socket for one test.</summary>
internal sealed class TestDaemon : IDisposable
{
    public TestDaemon(bool verbose = false)
    {
        string dir = Path.Combine(Path.GetTempPath(), "luo-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        Dir = dir;
        Daemon = new LuoDaemon(new DaemonOptions { SocketPath = Path.Combine(dir, "s"), Verbose = verbose });
        Daemon.Start();
        Control = ControlClient.Connect(Daemon.ControlPath);
    }

    public string Dir { get; }
    public LuoDaemon Daemon { get; }
    public ControlClient Control { get; }

    public WireClient Client() => WireClient.Connect(Daemon.SocketPath);

    public void Dispose()
    {
        Control.Dispose();
        Daemon.Dispose();
        try { Directory.Delete(Dir, true); }
        catch (IOException) { }
    }
}

/// <summary>The daemon over its wire protocol, driven by <see cref="WireClient"/> (no gcc needed):
/// open-file-description lifetimes, SCM_RIGHTS, fork tokens, the EOF rule, probes, control operations and
/// hostile clients (selftest-shim.md §4–§7).</summary>
public class DaemonTests
{
    private const int EBUSY = (int)Errno.EBUSY;

    [Fact]
    public void Device_is_exclusive_until_the_last_reference_goes()
    {
        using var d = new TestDaemon();
        using var a = d.Client();
        var r = a.Open();
        Assert.Equal((0, 0), (r.Ret, r.Err));
        ulong dev = r.NewHandle;
        Assert.Equal(EBUSY, a.Open().Err);                                  // A2
        Assert.Equal(0, a.Request(ShimOp.Dup, dev).Ret);                    // two fds, one description
        Assert.Equal(0, a.Request(ShimOp.Release, dev).Ret);
        Assert.Equal(EBUSY, a.Open().Err);                                  // the dup still holds it
        Assert.Equal(0, a.Request(ShimOp.Release, dev).Ret);
        Assert.Equal(0, a.Open().Ret);                                      // A1 / E4
        Assert.Equal(WireErrno.EBADF, a.Request(ShimOp.Release, 12345).Err);
    }

    [Fact]
    public void A_dead_client_releases_before_the_next_open()
    {
        using var d = new TestDaemon();
        using var b = d.Client();
        for (int i = 0; i < 20; i++)
        {
            var a = d.Client();
            Assert.Equal(0, a.Open().Ret);
            a.Dispose();                                                     // process exit: EOF queued
            var r = b.Open();                                                // EOF drained first (§4.3)
            Assert.Equal(0, r.Ret);
            Assert.Equal(0, b.Request(ShimOp.Release, r.NewHandle).Ret);
        }
    }

    [Fact]
    public void Session_create_name_and_release_follow_the_model()
    {
        using var d = new TestDaemon();
        using var a = d.Client();
        ulong dev = a.Open().NewHandle;
        var r = a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("get-name-test-session"));
        Assert.Equal(0, r.Ret);
        Assert.Equal(72, r.Out.Length);
        ulong s = r.NewHandle;
        Assert.Equal((int)Errno.EEXIST, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("get-name-test-session")).Err);
        var name = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(name, 72);
        var g = a.Ioctl(s, 0xBA43, name);
        Assert.Equal(0, g.Ret);
        Assert.Equal("get-name-test-session", System.Text.Encoding.ASCII.GetString(g.Out, 8, 21));
        Assert.Equal(0, g.Out[8 + 21]);
        Assert.Equal("1", d.Control.Status().Field("sessions_out"));
        Assert.Equal(0, a.Request(ShimOp.Release, s).Ret);
        Assert.Equal("0", d.Control.Status().Field("sessions_out"));
        Assert.Equal((int)Errno.EINVAL, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("")).Err);        // B4
        Assert.Equal((int)Errno.EINVAL, a.Ioctl(dev, 0xBA40, WireClient.FdStruct(0, 1)).Err);         // nr out of range
    }

    [Fact]
    public void Probed_faults_reach_the_model_in_its_own_order()
    {
        using var d = new TestDaemon();
        using var a = d.Client();
        ulong dev = a.Open().NewHandle;
        // size unreadable: the nr check still comes first, then EFAULT
        var none = new IoctlRequest(false, true, false, 0, 0x10, 0, 0, TailStatus.Zero, PreserveKind.None, 0);
        Assert.Equal((int)Errno.EINVAL, a.IoctlRaw(dev, 0xBA05, none, default).Err);
        Assert.Equal((int)Errno.EFAULT, a.IoctlRaw(dev, 0xBA00, none, default).Err);
        // a zero tail beyond the window is accepted, a non-zero one is E2BIG, an unreadable one EFAULT
        var big = WireClient.SessionStruct("tail", 8192);
        Assert.Equal(0, a.Ioctl(dev, 0xBA00, big).Ret);
        var nz = a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("tail2", 8192), tail: TailStatus.NonZero);
        Assert.Equal((int)Errno.E2BIG, nz.Err);
        Assert.Equal((int)Errno.EFAULT, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("tail3", 8192), tail: TailStatus.Unreadable, argPageOffset: 0x123).Err);
        // the reply cannot be written: EFAULT and no session (luo.md §3.4 step 8)
        Assert.Equal((int)Errno.EFAULT, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("ro"), writable: 0).Err);
        // no free fd slot in the caller: EMFILE comes before the name check (§3.4 step 2)
        Assert.Equal((int)Errno.EMFILE, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct(""), slotFailed: true).Err);
        Assert.Equal("1", d.Control.Status().Field("sessions_out"));
    }

    [Fact]
    public void Memfd_crosses_with_scm_rights_and_writes_after_preserve_survive_kexec()
    {
        using var d = new TestDaemon();
        int m = WireClient.HostMemfd("before preserve");
        using (var a = d.Client())
        {
            ulong dev = a.Open().NewHandle;
            ulong s = a.CreateSession(dev, "mem");
            Assert.Equal(0, a.Ioctl(s, 0xBA40, WireClient.FdStruct(m, 0x1A), PreserveKind.Passed, m).Ret);
            Assert.Equal(EBUSY, a.Ioctl(s, 0xBA40, WireClient.FdStruct(m, 0x1B), PreserveKind.Passed, m).Err);   // C5: same inode
            Assert.Equal((int)Errno.EBADF, a.Ioctl(s, 0xBA40, WireClient.FdStruct(77, 0x1C), PreserveKind.BadFd).Err);
            Assert.Equal((int)Errno.ENOENT, a.Ioctl(s, 0xBA40, WireClient.FdStruct(3, 0x1D), PreserveKind.Owned, owned: s).Err);
            using var nulHandle = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.ReadWrite);
            int nul = (int)nulHandle.DangerousGetHandle();
            Assert.Equal((int)Errno.ENOENT, a.Ioctl(s, 0xBA40, WireClient.FdStruct(nul, 0xDEAD), PreserveKind.Passed, nul).Err); // C4
            WireClient.WriteAt(m, 0, "written after preserve\0");                                                   // J1 shape
            Assert.Equal("1", d.Control.Status().Field("host_files"));
            Libc.Close(m);                                                                                          // C6
            string img = Path.Combine(d.Dir, "handover.img");
            Assert.False(d.Control.Send(ShimOp.Kexec, "bogus").Ok);
            var k = d.Control.Send(ShimOp.Kexec, "image=" + img);
            Assert.True(k.Ok, k.Text);
            Assert.Equal(img, k.Field("image"));
            Assert.Equal(LuoModel.Kho.ArenaImageError.None, LuoModel.Kho.ArenaImage.TryLoad(img, out var arena, out _));
            Assert.NotNull(arena!.Handoff);
            Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), k.Field("holders"));
            Assert.Equal(WireErrno.ESHUTDOWN, a.Open().Err);                                                        // stale connection
        }
        using var b = d.Client();
        ulong dev2 = b.Open().NewHandle;
        ulong s2 = b.RetrieveSession(dev2, "mem");
        var r = b.Ioctl(s2, 0xBA41, WireClient.FdStruct(0, 0x1A));
        Assert.Equal(0, r.Ret);
        Assert.True(r.Fd >= 0);
        Assert.Equal("written after preserve", WireClient.ReadCString(r.Fd));
        var again = b.Ioctl(s2, 0xBA41, WireClient.FdStruct(0, 0x1A));                                            // same description
        Assert.True(HostFile.Stat(r.Fd, out _, out long size, out var id1));
        Assert.True(HostFile.Stat(again.Fd, out _, out _, out var id2));
        Assert.Equal(4096, size);
        Assert.Equal(id1, id2);
        Libc.Close(r.Fd);
        Libc.Close(again.Fd);
        var fin = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(fin, 8);
        Assert.Equal(0, b.Ioctl(s2, 0xBA42, fin).Ret);
        Assert.Equal("0", d.Control.Status().Field("host_files"));                                                 // FINISH dropped LUO's reference
    }

    [Fact]
    public void A_retrieved_memfd_is_preserved_again_for_the_next_kexec()
    {
        using var d = new TestDaemon();
        var fin = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(fin, 8);
        int m = WireClient.HostMemfd("generation 1");
        using (var a = d.Client())
        {
            ulong s = a.CreateSession(a.Open().NewHandle, "chain");
            Assert.Equal(0, a.Ioctl(s, 0xBA40, WireClient.FdStruct(m, 1), PreserveKind.Passed, m).Ret);
            Libc.Close(m);
            Assert.True(d.Control.Kexec().Ok);
        }
        int got;
        using (var b = d.Client())
        {
            ulong dev = b.Open().NewHandle;
            ulong s = b.RetrieveSession(dev, "chain");
            got = b.Ioctl(s, 0xBA41, WireClient.FdStruct(0, 1)).Fd;
            Assert.Equal("generation 1", WireClient.ReadCString(got));
            ulong next = b.CreateSession(dev, "chain-2");
            // still owned by LUO until FINISH: the same inode cannot be preserved again (luo.md §3.7)
            Assert.Equal(EBUSY, b.Ioctl(next, 0xBA40, WireClient.FdStruct(got, 2), PreserveKind.Passed, got).Err);
            Assert.Equal(0, b.Ioctl(s, 0xBA42, fin).Ret);
            WireClient.WriteAt(got, 0, "generation 2\0");
            Assert.Equal(0, b.Ioctl(next, 0xBA40, WireClient.FdStruct(got, 2), PreserveKind.Passed, got).Ret);
            Libc.Close(got);
            var k = d.Control.Kexec();
            Assert.True(k.Ok, k.Text);
            Assert.Equal("3", k.Field("boot"));
        }
        using var c = d.Client();
        ulong s3 = c.RetrieveSession(c.Open().NewHandle, "chain-2");
        var r = c.Ioctl(s3, 0xBA41, WireClient.FdStruct(0, 2));
        Assert.Equal("generation 2", WireClient.ReadCString(r.Fd));
        Libc.Close(r.Fd);
    }

    [Fact]
    public void Fork_token_keeps_sessions_when_the_parent_exits()
    {
        using var d = new TestDaemon();
        var parent = d.Client();
        ulong dev = parent.Open().NewHandle;
        ulong s = parent.CreateSession(dev, "held");
        Assert.Equal(0, parent.Request(ShimOp.Release, dev).Ret);
        var entry = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(entry, s);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(8), 1);
        var prep = parent.Request(ShimOp.ForkPrepare, 0, 0, entry);
        Assert.Equal(0, prep.Ret);
        Assert.Equal("1", d.Control.Status().Field("pending_forks"));
        parent.Dispose();                                                   // E6: the parent exits first
        Assert.Equal("1", d.Control.Status().Field("sessions_out"));
        using var child = d.Client();
        Assert.Equal(0, child.Hello(prep.NewHandle).Ret);
        Assert.Equal((int)Errno.ENOENT, d.Client().Hello(prep.NewHandle).Err);   // a token is used once
        Assert.Equal("1", d.Control.Status().Field("sessions_out"));
        Assert.Equal(0, child.Request(ShimOp.Release, s).Ret);
        Assert.Equal("0", d.Control.Status().Field("sessions_out"));
    }

    [Fact]
    public void Garbage_gets_an_error_and_nobody_else_notices()
    {
        using var d = new TestDaemon();
        using var good = d.Client();
        ulong dev = good.Open().NewHandle;
        ulong s = good.CreateSession(dev, "survivor");
        using var bad = d.Client();
        var rnd = new Random(8);
        for (int i = 0; i < 50; i++)
        {
            var junk = new byte[rnd.Next(1, 200)];
            rnd.NextBytes(junk);
            var r = bad.RawRequest(junk);
            Assert.Equal(-1, r.Ret);
            Assert.Equal(WireErrno.EPROTO, r.Err);
        }
        var hdr = new byte[RequestHeader.Size];
        new RequestHeader(ShimOp.Ioctl, 1, 1, dev, 0xBA00, 3).WriteTo(hdr);
        Assert.Equal(WireErrno.EPROTO, bad.RawRequest(hdr).Err);            // payload_len lies
        Assert.Equal(WireErrno.EPROTO, bad.Request(ShimOp.Ioctl, dev, 0xBA00, new byte[5]).Err);
        Assert.Equal(WireErrno.EBADF, bad.Request(ShimOp.Dup, s).Err);      // another process's handle
        Assert.Equal(WireErrno.EOPNOTSUPP, bad.Request((ShimOp)999).Err);
        var crash = d.Client();
        ulong cdev = crash.Open().NewHandle;
        var hdr2 = new byte[RequestHeader.Size + IoctlRequest.FixedSize + 72];
        new RequestHeader(ShimOp.Ioctl, 9, 1, cdev, 0xBA00, IoctlRequest.FixedSize + 72).WriteTo(hdr2);
        new IoctlRequest(true, true, false, 72, 0, 72, 72, TailStatus.Zero, PreserveKind.None, 0).WriteTo(hdr2.AsSpan(RequestHeader.Size));
        WireClient.SessionStruct("orphan").CopyTo(hdr2, RequestHeader.Size + IoctlRequest.FixedSize);
        Assert.Equal(0, Seqpacket.Send(crash.Fd, hdr2, default, -1, dontWait: false));
        crash.Dispose();                                                    // exits mid-call, never reads the reply
        Assert.Equal("1", d.Control.Status().Field("sessions_out"));
        var name = new byte[72];
        BinaryPrimitives.WriteUInt32LittleEndian(name, 72);
        Assert.Equal(0, good.Ioctl(s, 0xBA43, name).Ret);
    }

    [Fact]
    public void Variants_and_faults_apply_from_the_next_boot()
    {
        using var d = new TestDaemon();
        Assert.False(d.Control.SetVariant("no_such_switch=on").Ok);
        Assert.True(d.Control.SetVariant("name_check=off\ndouble_preserve=none").Ok);
        Assert.Contains("name_check=off", d.Control.SetVariant("memfd=v2").Text, StringComparison.Ordinal);
        Assert.True(d.Control.Reset().Ok);
        using var a = d.Client();
        ulong dev = a.Open().NewHandle;
        Assert.Equal(0, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("")).Ret);   // B4 flips
        Assert.True(d.Control.InjectFault("point=SessionAlloc next errno=ENOMEM").Ok);
        Assert.Equal((int)Errno.ENOMEM, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("x")).Err);
        Assert.Equal(0, a.Ioctl(dev, 0xBA00, WireClient.SessionStruct("x")).Ret);
        Assert.False(d.Control.InjectFault("point=Nope next").Ok);
        Assert.True(d.Control.SetVariant("liveupdate=off").Ok);
        Assert.True(d.Control.Reset().Ok);
        using var b = d.Client();
        Assert.Equal((int)Errno.ENOENT, b.Open().Err);                              // A3: no device
    }
}
