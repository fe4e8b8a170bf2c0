using System.CommandLine;

namespace RealtimeSer.Cli.Commands;

/// <summary>
/// How a command with many options is put together: a holder declares each option once, adding it to the
/// command as it goes (so help lists them in the order they are written), and the action reads them by name.
/// </summary>
internal static class CliCommand
{
    /// <summary>
    /// A command whose options <paramref name="declare"/> adds and whose action is <paramref name="run"/>, with
    /// the failures a user can act on reported by <see cref="CliErrors"/>.
    /// </summary>
    public static Command Create<TOptions>(
        string name,
        string description,
        Func<Command, TOptions> declare,
        Func<TOptions, ParseResult, CancellationToken, Task<int>> run
    )
    {
        var command = new Command(name, description);
        var options = declare(command);
        command.SetAction((parse, ct) => CliErrors.RunAsync(() => run(options, parse, ct)));
        return command;
    }

    /// <summary>Adds an option with this name and help, and no default, to the command.</summary>
    public static Option<T> AddOption<T>(this Command command, string name, string? description) =>
        command.AddOption(new Option<T>(name) { Description = description });

    /// <summary>Adds an option with this name, help and default to the command.</summary>
    public static Option<T> AddOption<T>(
        this Command command,
        string name,
        string? description,
        T defaultValue
    ) =>
        command.AddOption(
            new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue }
        );

    /// <summary>Refuses, before the command runs, a value below <paramref name="minimum"/>, saying what it may be.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, T minimum, string? meaning = null)
        where T : struct, IComparable<T>
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<T>() is var value && value.CompareTo(minimum) < 0)
            {
                result.AddError(
                    string.Create(
                        System.Globalization.CultureInfo.InvariantCulture,
                        $"{result.Option.Name} must be at least {minimum}{meaning}; got {value}."
                    )
                );
            }
        });
        return option;
    }

    /// <summary>Adds the option to the command and returns it.</summary>
    public static Option<T> AddOption<T>(this Command command, Option<T> option)
    {
        command.Options.Add(option);
        return option;
    }

    /// <summary>Adds the argument to the command and returns it.</summary>
    public static Argument<T> AddArgument<T>(this Command command, Argument<T> argument)
    {
        command.Arguments.Add(argument);
        return argument;
    }

    /// <summary>Adds <c>--model</c> and <c>--threads</c> to the command and returns them.</summary>
    public static ModelOptions AddModelOptions(this Command command)
    {
        var model = new ModelOptions();
        model.AddTo(command);
        return model;
    }
}
