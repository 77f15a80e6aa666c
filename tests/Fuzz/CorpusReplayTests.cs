using LuoModel.Testkit.Fuzz;

namespace LuoModel.Tests.Fuzz;

/// <summary>
/// CI replay of the fuzzing corpora (issue 9 §1): every file committed under fuzz/corpus/TARGET/ (minimised
/// with afl-cmin, crashing inputs included) runs through its target as an ordinary test; inside the target a
/// property violation or any escaping exception fails the test. A missing or empty folder fails too.
/// </summary>
public class CorpusReplayTests
{
    private static string Root => Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");

    private static string[] Files(string target)
    {
        string dir = Path.Combine(Root, target);
        return Directory.Exists(dir) ? [.. Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal)!] : [];
    }

    /// <summary>(target, file name) for every committed input; a target without inputs gives one failing row.</summary>
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string t in FuzzTargets.All.Keys.Order(StringComparer.Ordinal))
        {
            string[] files = Files(t);
            if (files.Length == 0) data.Add(t, "(no corpus)");
            foreach (string f in files) data.Add(t, f);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Corpus_input_replays(string target, string file)
    {
        string path = Path.Combine(Root, target, file);
        Assert.True(File.Exists(path), $"fuzz/corpus/{target}/ is missing or empty");
        FuzzTargets.All[target](File.ReadAllBytes(path));
    }

    [Fact]
    public void Every_target_has_a_committed_corpus()
    {
        Assert.Equal(7, FuzzTargets.All.Count);
        foreach (string t in FuzzTargets.All.Keys) Assert.True(Files(t).Length > 0, $"fuzz/corpus/{t}/ is missing or empty");
    }
}
