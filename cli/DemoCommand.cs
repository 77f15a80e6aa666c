using System.CommandLine;

namespace LuoModel.Cli;

/// <summary>
/// <c>luo demo</c>: the story of one live update on the model (issue 5 §6), told by <see cref="LiveUpdateDemo"/>:
/// sessions with memfds of known data, an injected freeze failure rolled back, the reboot, the handover as the
/// next kernel finds it, the next boot retrieving and verifying every byte, finish.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var sessions = new Option<int>("--sessions") { Description = "sessions to preserve (1-4096)", DefaultValueFactory = _ => LiveUpdateDemo.DefaultSessions };
        var files = new Option<int>("--files") { Description = "memfds per session (0-64)", DefaultValueFactory = _ => LiveUpdateDemo.DefaultFiles };
        var size = new Option<long>("--size") { Description = "bytes per memfd (0-16777216)", DefaultValueFactory = _ => LiveUpdateDemo.DefaultSize };
        var seed = new Option<int>("--seed") { Description = "seed of the memfd contents", DefaultValueFactory = _ => LiveUpdateDemo.DefaultSeed };
        var save = new Option<FileInfo?>("--save") { Description = "write the arena image as the next kernel finds it (for `luo image dump`)" };
        var cmd = new Command("demo", "Tell the story of one live update: preserve, rollback, reboot, handover, retrieve, verify, finish")
        {
            sessions, files, size, seed, save,
        };
        cmd.SetAction(r =>
        {
            var options = new LiveUpdateDemo.Options(r.GetValue(sessions), r.GetValue(files), r.GetValue(size), r.GetValue(seed), r.GetValue(save)?.FullName);
            return LiveUpdateDemo.Run(options, CliIo.Out(r), CliIo.Err(r));
        });
        return cmd;
    }
}
