using LuoModel.Testkit.Concurrency;
using Xunit.Abstractions;

namespace LuoModel.Tests.Concurrency;

/// <summary>
/// Free-running threads (issue 9 §3): workers of one process issue random session operations on own, contended
/// and shared sessions while another thread reboots. The run must end within its bound, keep the luo.md §8
/// invariants, complete no session operation after the freeze, and equal a serial replay of the operations in
/// the order they took effect, down to the decoded handover.
/// </summary>
public class StressTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 6, 300, 600)]
    [InlineData(2, 8, 250, 1200)]
    [InlineData(3, 4, 400, 200)]
    public void Concurrent_session_operations_and_reboot_equal_a_serial_replay(int seed, int threads, int ops, int rebootAfter)
    {
        var r = StressRun.Run(new StressOptions(threads, ops, seed, rebootAfter, TimeoutSeconds: 30));
        output.WriteLine(r.Summary());
        Assert.True(r.Failures.Count == 0, string.Join("\n", r.Failures.Take(5)));
        Assert.Equal(0, r.RebootResult);
        Assert.True(r.Replayed > 0, "no operation took effect before the reboot");
        Assert.Contains(r.Ops, o => o.Result == -(long)LuoModel.Kho.Errno.Frozen);
    }
}
