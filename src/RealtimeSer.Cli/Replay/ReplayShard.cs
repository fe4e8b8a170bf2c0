using System.Globalization;
using System.Text;

namespace RealtimeSer.Cli.Replay;

/// <summary>
/// <c>--shard I/N</c>: worker I of N (0-based) takes the inputs whose output name hashes to I mod N. The hash
/// (64-bit FNV-1a over the UTF-8 output name with '/' separators) depends only on the name, never on list
/// order, machine or .NET version, so N workers started by any scheduler (a Kubernetes Indexed Job, a Slurm
/// array) over the same inputs cover every recording exactly once.
/// </summary>
internal readonly record struct ReplayShard(int Index, int Count)
{
    public static ReplayShard All => new(0, 1);

    /// <summary>"I/N" with 0 ≤ I &lt; N.</summary>
    public static ReplayShard Parse(string text)
    {
        var parts = text.Split('/');
        if (
            parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            && count >= 1
            && index < count
        )
        {
            return new ReplayShard(index, count);
        }
        throw new ArgumentException(
            $"--shard takes I/N with 0 ≤ I < N (e.g. 0/4 for the first of four workers), got '{text}'."
        );
    }

    public bool Contains(ReplayInput input) => Of(input.OutputName, Count) == Index;

    /// <summary>The shard an output name belongs to among <paramref name="count"/>.</summary>
    public static int Of(string outputName, int count) =>
        (int)(Fnv1a(outputName.Replace('\\', '/')) % (ulong)count);

    internal static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }
        return hash;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");
}
