using System.CommandLine;
using RealtimeSer.Cli.Commands;

namespace RealtimeSer.Cli;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var parse = CreateRoot().Parse(args);
        var problems = CommandLineChecks.Problems(parse);
        if (problems.Count > 0)
        {
            return CommandLineChecks.Report(problems, Console.Error);
        }
        return await parse.InvokeAsync();
    }

    /// <summary>Every command of <c>ser</c>.</summary>
    internal static RootCommand CreateRoot()
    {
        var root = new RootCommand("RealtimeSer: real-time speech emotion recognition.");
        root.Subcommands.Add(VadCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(StreamCommand.Create());
        root.Subcommands.Add(ModelsCommand.Create());
        root.Subcommands.Add(ClassifyCommand.Create());
        root.Subcommands.Add(ReplayCommand.Create());
        root.Subcommands.Add(ListenCommand.Create());
        root.Subcommands.Add(DevicesCommand.Create());
        return root;
    }
}
