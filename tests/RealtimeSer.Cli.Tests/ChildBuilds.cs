namespace RealtimeSer.Cli.Tests;

/// <summary>
/// Tests that build <c>ser</c> in a child process (the GPU flavour, tools/publish) take turns: two builds at
/// once on a two-core machine starve the timing-sensitive tests running beside them.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ChildBuilds
{
    public const string Name = "child builds";
}
