namespace LuoModel.Tests.Fdt;

/// <summary>The vectors folder is part of the project: it must be present, complete and unaltered.</summary>
public class VectorFolderTests
{
    [Fact]
    public void Folder_exists_and_holds_all_twenty_cases()
    {
        Assert.True(Directory.Exists(Vectors.Dir), $"missing {Vectors.Dir}");
        Assert.Equal(20, Vectors.CaseIds().Count());
        Assert.True(Vectors.Crafted().Count() >= 50);
    }

    public static TheoryData<string, long, string> ManifestRows()
    {
        var d = new TheoryData<string, long, string>();
        string path = Path.Combine(Vectors.Dir, "MANIFEST.tsv");
        if (File.Exists(path))
        {
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                string[] f = line.Split('\t');
                if (f.Length >= 3) d.Add(f[0], long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture), f[2]);
            }
        }
        if (d.Count == 0) d.Add("MANIFEST.tsv", -1, "missing");
        return d;
    }

    [Theory]
    [MemberData(nameof(ManifestRows))]
    public void File_matches_manifest(string file, long size, string sha256)
    {
        Assert.True(Vectors.Exists(file), $"{file} listed in MANIFEST.tsv is missing");
        byte[] data = Vectors.Bytes(file);
        Assert.Equal(size, data.LongLength);
        Assert.Equal(sha256, Vectors.Sha256(data));
    }

    [Fact]
    public void Every_file_in_the_folder_is_in_the_manifest()
    {
        var listed = ManifestRows().Select(r => (string)r[0]).ToHashSet(StringComparer.Ordinal);
        listed.Add("MANIFEST.tsv");
        listed.Add("README.md");   // ours: how the files were produced
        var present = Directory.GetFiles(Vectors.Dir).Select(p => Path.GetFileName(p)!).ToList();
        Assert.DoesNotContain(present, p => !listed.Contains(p));
    }
}
