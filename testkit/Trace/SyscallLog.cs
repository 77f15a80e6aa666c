using System.Globalization;
using System.Text;

namespace LuoModel.Testkit;

/// <summary>
/// One recorded call of a scenario: which simulated machine, boot and process made it, the call name, its
/// arguments as text, the raw return value and its text, and the bytes the call handed back (ioctl reply
/// struct, data read, user memory loaded) as lowercase hex, or null.
/// </summary>
/// <remarks>
/// The text form (<see cref="ToString"/>) is the stable, line-oriented trace format:
/// <c>m{Machine}.b{Boot}.p{Pid} {Call}({Args}) = {ResultText}</c> followed by <c> &lt;- {Data}</c> when data
/// came back. Negative results print as <c>-ENAME</c>. Pid 0 marks calls made by kernel code (the KHO test
/// module). Calls are syscalls except <c>load</c>/<c>store</c> (user-memory accesses through a mapping),
/// <c>kexec</c> (the jump into the next kernel: result = new boot number) and <c>kho_*</c>/<c>folio_*</c>
/// (in-kernel API calls of row I).
/// </remarks>
public sealed record SyscallRecord(int Seq, int Machine, int Boot, int Pid, string Call, string Args, long Result, string ResultText, string? Data)
{
    /// <summary>The record without its sequence number, used for step-by-step comparison.</summary>
    public string Line
    {
        get
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"m{Machine}.b{Boot}.p{Pid} {Call}({Args}) = {ResultText}");
            if (Data is not null) sb.Append(" <- ").Append(Data);
            return sb.ToString();
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Line;
}

/// <summary>Result of comparing two traces call by call (see <see cref="SyscallLog.Compare"/>).</summary>
/// <param name="Index">0-based index of the first differing call, or -1 when the traces are equal.</param>
/// <param name="Left">The left call at <paramref name="Index"/> (null when the left trace ended).</param>
/// <param name="Right">The right call at <paramref name="Index"/> (null when the right trace ended).</param>
/// <param name="LeftCount">Number of calls in the left trace.</param>
/// <param name="RightCount">Number of calls in the right trace.</param>
public sealed record TraceDivergence(int Index, SyscallRecord? Left, SyscallRecord? Right, int LeftCount, int RightCount)
{
    /// <summary>True when both traces have the same calls in the same order.</summary>
    public bool Equal => Index < 0;
}

/// <summary>
/// An append-only list of <see cref="SyscallRecord"/>s. Disabled logs (<see cref="Enabled"/> false) accept
/// calls and record nothing.
/// </summary>
public sealed class SyscallLog
{
    private readonly List<SyscallRecord> _records = [];

    /// <summary>Creates a log.</summary>
    public SyscallLog(bool enabled = true) => Enabled = enabled;

    /// <summary>Whether calls are recorded.</summary>
    public bool Enabled { get; }

    /// <summary>Records in call order.</summary>
    public IReadOnlyList<SyscallRecord> Records => _records;

    /// <summary>Number of records.</summary>
    public int Count => _records.Count;

    /// <summary>Appends one record (no-op when disabled).</summary>
    public void Add(int machine, int boot, int pid, string call, string args, long result, string resultText, string? data = null)
    {
        if (!Enabled) return;
        _records.Add(new SyscallRecord(_records.Count, machine, boot, pid, call, args, result, resultText, data));
    }

    /// <summary>The trace as text, one <see cref="SyscallRecord.Line"/> per line.</summary>
    public IEnumerable<string> Lines() => _records.Select(r => r.Line);

    /// <summary>Writes the trace, one line per call, each line ending in '\n'.</summary>
    public void WriteTo(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var r in _records) writer.Write(r.Line + "\n");
    }

    /// <summary>Compares two traces call by call (by <see cref="SyscallRecord.Line"/>) and returns the first
    /// position where they differ.</summary>
    public static TraceDivergence Compare(SyscallLog left, SyscallLog right)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        int n = Math.Max(left.Count, right.Count);
        for (int i = 0; i < n; i++)
        {
            var a = i < left.Count ? left._records[i] : null;
            var b = i < right.Count ? right._records[i] : null;
            if (a is null || b is null || a.Line != b.Line) return new TraceDivergence(i, a, b, left.Count, right.Count);
        }
        return new TraceDivergence(-1, null, null, left.Count, right.Count);
    }
}
