using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Cli.Remote;

/// <summary>How the CLI's --model list reaches a server.</summary>
internal static class RemoteModels
{
    /// <summary>
    /// One id goes in the old single `model` field (so servers from before model sets understand it);
    /// several go in `models`; none leaves both empty for the server's default set.
    /// </summary>
    public static RecognitionConfig Config(IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var config = new RecognitionConfig();
        if (ids.Count == 1)
        {
            config.Model = ids[0];
        }
        else
        {
            config.Models.AddRange(ids);
        }
        return config;
    }
}
