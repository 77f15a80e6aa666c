namespace LuoModel.Cli;

/// <summary>
/// Stand-in for <c>FdtStrictCheck.Check(ReadOnlySpan&lt;byte&gt;)</c> (the strict checks of fdt.md §12, written on
/// another branch). It reports no findings, so <c>luo fdt check --strict</c> currently answers like the plain check.
/// </summary>
// TODO(lead): wire FdtStrictCheck — replace the body of Check with a call to FdtStrictCheck.Check(blob),
// mapping each finding to its name, and delete this placeholder.
internal static class StrictCheckPlaceholder
{
    /// <summary>Named findings of the strict check; empty when the blob passes.</summary>
    public static IReadOnlyList<string> Check(ReadOnlySpan<byte> blob)
    {
        _ = blob;
        return [];
    }
}
