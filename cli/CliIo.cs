using System.CommandLine;
using LuoModel.Fdt;

namespace LuoModel.Cli;

/// <summary>Exit codes and file input shared by the command groups.</summary>
internal static class CliIo
{
    /// <summary>Success.</summary>
    public const int ExitOk = 0;
    /// <summary>The input was read but is invalid (an FDT error code, strict findings).</summary>
    public const int ExitInvalid = 1;
    /// <summary>The input could not be read (missing, unreadable, a directory, too large).</summary>
    public const int ExitIoError = 2;

    /// <summary>Largest input file accepted; read in chunks so that a device file cannot exhaust memory.</summary>
    public const int MaxInputBytes = 64 * 1024 * 1024;

    public static TextWriter Out(ParseResult r) => r.InvocationConfiguration.Output;

    public static TextWriter Err(ParseResult r) => r.InvocationConfiguration.Error;

    /// <summary>"FDT_ERR_NAME (-N)".</summary>
    public static string Code(int err) => $"{FdtErrors.Name(err)} ({err.ToString(System.Globalization.CultureInfo.InvariantCulture)})";

    /// <summary>Reads a whole file; on failure writes <c>luo: PATH: reason</c> to <paramref name="err"/> and returns null.</summary>
    public static byte[]? ReadFile(FileInfo? file, TextWriter err)
    {
        if (file is null)
        {
            err.Write("luo: no input file given\n");
            return null;
        }
        string path = file.ToString();
        string? reason = null;
        try
        {
            if (Directory.Exists(file.FullName))
            {
                reason = "is a directory";
            }
            else
            {
                using var fs = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read);
                using var ms = new MemoryStream();
                byte[] chunk = new byte[81920];
                int n;
                while ((n = fs.Read(chunk, 0, chunk.Length)) > 0)
                {
                    ms.Write(chunk, 0, n);
                    if (ms.Length > MaxInputBytes)
                    {
                        reason = $"file larger than {MaxInputBytes} bytes";
                        break;
                    }
                }
                if (reason is null) return ms.ToArray();
            }
        }
        catch (FileNotFoundException) { reason = "no such file"; }
        catch (DirectoryNotFoundException) { reason = "no such file or directory"; }
        catch (UnauthorizedAccessException) { reason = "permission denied"; }
        catch (IOException e) { reason = e.Message; }
        err.Write($"luo: {path}: {reason}\n");
        return null;
    }
}
