using BenchmarkDotNet.Running;

namespace RealtimeSer.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        // A one-shot comparison with printed figures, not a BenchmarkDotNet suite: it needs sox and a speech clip.
        if (args is ["naudio-compare", .. var rest])
        {
            return NAudioComparison.Run(rest);
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
