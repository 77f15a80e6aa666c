using System.Globalization;
using System.Text;
using LuoModel.Kernel;
using LuoModel.Kho;

namespace LuoModel.Serve;

public sealed partial class LuoDaemon
{
    private const int MaxTextReply = 192 * 1024;

    private readonly VariantSettings _variants;
    private KernelConfig _config;
    private Kernel.Kernel _kernel;
    private int _generation;

    private void HandleControl(Connection c, in RequestHeader h, ReadOnlySpan<byte> payload)
    {
        string arg = Encoding.UTF8.GetString(payload);
        int ret;
        int err = 0;
        string text;
        try
        {
            switch (h.Op)
            {
                case ShimOp.Kexec: (ret, err, text) = DoKexec(arg); break;
                case ShimOp.Reset: (ret, text) = (0, DoReset()); break;
                case ShimOp.Status: (ret, text) = (0, Status()); break;
                case ShimOp.SetVariant: (ret, err, text) = SetVariant(arg); break;
                case ShimOp.InjectFault: (ret, err, text) = InjectFault(arg); break;
                case ShimOp.Log: (ret, text) = (0, LogTail((int)h.Handle)); break;
                case ShimOp.Shutdown:
                    Log($"{c}: shutdown requested");
                    _stop = true;
                    (ret, text) = (0, "stopping\n");
                    break;
                default:
                    (ret, err, text) = (-1, WireErrno.EOPNOTSUPP, $"unknown control operation {(ushort)h.Op}\n");
                    break;
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or InsufficientMemoryException)
        {
            Log($"{c}: {h.Op} failed: {ex.GetType().Name}: {ex.Message}");
            (ret, err, text) = (-1, WireErrno.EIO, $"{h.Op} failed: {ex.Message}\n");
        }
        byte[] output = Encoding.UTF8.GetBytes(text);
        if (output.Length > MaxTextReply) output = output[^MaxTextReply..];
        Reply(c, h.Seq, ret, err, (ulong)_generation, output);
    }

    /// <summary>The daemon's boot generation (1 at start, +1 per KEXEC or RESET).</summary>
    public int Generation => _generation;

    /// <summary>KEXEC (selftest-shim.md §7): pending EOFs first, then the model's reboot(KEXEC) (freeze: host
    /// memfds are snapshot into arena pages), then the holders' pids are reported, every old connection goes
    /// stale (ESHUTDOWN), host files are closed and the next kernel boots from the handover.</summary>
    private (int Ret, int Err, string Text) DoKexec(string arg)
    {
        string? image = null;
        foreach (string word in arg.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!word.StartsWith("image=", StringComparison.Ordinal) || word.Length == 6) return (-1, (int)Errno.EINVAL, "usage: KEXEC [image=PATH]\n");
            image = word[6..];
        }
        DrainHangups(null);
        if (_kernel.State != KernelState.Running)
            return (-1, WireErrno.ESHUTDOWN, $"kexec: boot {_generation} is {_kernel.State}{(_kernel.Panicked ? " (" + _kernel.Outcome.PanicReason + ")" : "")}; RESET first\n");
        var init = _kernel.CreateProcess();
        long rc = _kernel.Reboot(init, Kernel.Kernel.LINUX_REBOOT_CMD_KEXEC);
        _kernel.Exit(init);
        if (rc < 0)
        {
            var e = (Errno)(-rc);
            Log($"kexec: reboot(KEXEC) failed with {e}; staying on boot {_generation}");
            return (-1, Fail(rc), $"reboot failed {e}\n");
        }
        var holders = _conns.Values
            .Where(x => !x.Control && x.Generation == _generation && x.FdCount > 0)
            .Select(x => x.Pid).Distinct().OrderBy(x => x).ToList();
        int sessions = _kernel.Luo.Outgoing.Count;
        int pending = _pendingForks.Count;
        var old = _kernel;
        var next = old.Kexec(_variants.Build());
        old.ReleaseHostBackings();
        _pendingForks.Clear();
        _kernel = next;
        _config = next.Config;
        _generation++;
        string holderText = string.Join(' ', holders.Select(x => x.ToString(CultureInfo.InvariantCulture)));
        Log($"kexec: {sessions} outgoing session(s) handed over; boot {_generation}{(next.Panicked ? " PANICKED: " + next.Outcome.PanicReason : "")}; holders [{holderText}]{(pending > 0 ? $"; {pending} fork(s) never greeted" : "")}");
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"boot {_generation}\n");
        sb.Append(CultureInfo.InvariantCulture, $"sessions {sessions}\n");
        sb.Append(CultureInfo.InvariantCulture, $"holders {holderText}\n");
        sb.Append(CultureInfo.InvariantCulture, $"pending_forks {pending}\n");
        if (next.Panicked) sb.Append(CultureInfo.InvariantCulture, $"panic {next.Outcome.PanicReason}\n");
        if (image is not null)
        {
            // the handover as the next kernel found it (for `luo image dump` and golden vectors)
            try
            {
                ArenaImage.Save(next.Arena, image);
                sb.Append(CultureInfo.InvariantCulture, $"image {image}\n");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                sb.Append(CultureInfo.InvariantCulture, $"image_error {ex.Message}\n");
            }
        }
        return (0, 0, sb.ToString());
    }

    private string DoReset()
    {
        try { _kernel.ReleaseHostBackings(); }
        catch (InvalidOperationException) { }
        _pendingForks.Clear();
        _config = _variants.Build();
        _config.Faults.Reset();
        _kernel = Kernel.Kernel.ColdBoot(_config);
        _generation++;
        Log($"reset: cold boot {_generation}{(_kernel.Luo.Enabled ? "" : " (LUO disabled)")}");
        return $"boot {_generation}\n";
    }

    private (int, int, string) SetVariant(string arg)
    {
        var lines = arg.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (string line in lines)
        {
            string? why = _variants.Apply(line);
            if (why is not null) return (-1, (int)Errno.EINVAL, why + "\n");
            Log($"variant {line} (from the next boot)");
        }
        return (0, 0, _variants.Describe());
    }

    private (int, int, string) InjectFault(string arg)
    {
        var faults = _config.Faults;
        string a = arg.Trim();
        if (a.Equals("clear", StringComparison.OrdinalIgnoreCase))
        {
            faults.ClearRules();
            Log("faults cleared");
            return (0, 0, "cleared\n");
        }
        FaultPoint? point = null;
        Errno error = Errno.ENOMEM;
        int nth = 0, repeat = 1;
        bool next = false;
        foreach (string tok in a.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = tok.IndexOf('=', StringComparison.Ordinal);
            string k = eq < 0 ? tok : tok[..eq], v = eq < 0 ? "" : tok[(eq + 1)..];
            switch (k.ToUpperInvariant())
            {
                case "POINT":
                    if (!Enum.TryParse(v.Replace("_", "", StringComparison.Ordinal), true, out FaultPoint fp) || !Enum.IsDefined(fp))
                        return (-1, (int)Errno.EINVAL, $"unknown fault point \"{v}\" (known: {string.Join(", ", Enum.GetNames<FaultPoint>())})\n");
                    point = fp;
                    break;
                case "ERRNO":
                    if (!Enum.TryParse(v, true, out error) || !Enum.IsDefined(error)) return (-1, (int)Errno.EINVAL, $"unknown errno \"{v}\"\n");
                    break;
                case "NTH":
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out nth) || nth <= 0) return (-1, (int)Errno.EINVAL, "nth must be ≥ 1\n");
                    break;
                case "REPEAT":
                    if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out repeat) || repeat <= 0) return (-1, (int)Errno.EINVAL, "repeat must be ≥ 1\n");
                    break;
                case "NEXT":
                    next = true;
                    break;
                default:
                    return (-1, (int)Errno.EINVAL, $"unknown word \"{tok}\"\n");
            }
        }
        if (point is null || (nth == 0 && !next)) return (-1, (int)Errno.EINVAL, "usage: point=P (nth=N | next) [errno=E] [repeat=R] | clear\n");
        if (next) nth = faults.Count(point.Value) + 1;
        faults.FailNth(point.Value, nth, error, repeat);
        Log($"fault: call {nth} of {point} fails with {error} (×{repeat})");
        return (0, 0, $"{point} nth={nth} errno={error} repeat={repeat}\n");
    }

    private string Status()
    {
        DrainHangups(null);
        var k = _kernel;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"boot {_generation}\n");
        sb.Append(CultureInfo.InvariantCulture, $"model_boot {k.BootNumber}\n");
        sb.Append(CultureInfo.InvariantCulture, $"state {k.State}{(k.Panicked ? " panic: " + k.Outcome.PanicReason : "")}\n");
        if (k.State == KernelState.Running)
        {
            sb.Append(CultureInfo.InvariantCulture, $"luo {(k.Luo.Enabled ? "enabled" : "disabled")}\n");
            sb.Append(CultureInfo.InvariantCulture, $"device_in_use {(k.Luo.DeviceInUse ? 1 : 0)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"sessions_out {k.Luo.Outgoing.Count}\n");
            sb.Append(CultureInfo.InvariantCulture, $"sessions_in {k.Luo.Incoming.Count}\n");
            sb.Append(CultureInfo.InvariantCulture, $"preserved_files {k.Luo.RegisteredFiles.Count}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"host_files {_openHostFiles}\n");
        sb.Append(CultureInfo.InvariantCulture, $"pending_forks {_pendingForks.Count}\n");
        foreach (var c in _conns.Values.Where(x => !x.Control).OrderBy(x => x.Pid))
            sb.Append(CultureInfo.InvariantCulture, $"connection pid={c.Pid} uid={c.Uid} fds={c.FdCount} handles={c.Handles.Count()} {(c.Generation == _generation ? "current" : "stale")}\n");
        return sb.ToString();
    }

    private string LogTail(int from)
    {
        var lines = LogLines;
        var sb = new StringBuilder();
        foreach (string l in lines.Skip(Math.Max(0, from))) sb.Append(l).Append('\n');
        return sb.ToString();
    }
}
