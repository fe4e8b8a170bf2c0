using System.Diagnostics;
using RealtimeSer.Core.Inference;
using RealtimeSer.Onnx;

namespace RealtimeSer.Cli.Bench;

internal sealed record ModelPoint(
    string Provider,
    double WindowSeconds,
    int Batch,
    int Runs,
    double P50Ms,
    double P95Ms,
    double WindowsPerSecond,
    double AudioSecondsPerSecond
);

/// <summary>What <c>ser bench model</c> measured: every point, and the shapes each session ran.</summary>
internal sealed record ModelResults(IReadOnlyList<ModelPoint> Points, SortedDictionary<string, int> Shapes);

/// <summary>
/// Raw model latency and throughput: the physical limit of this model on this machine, which the pipeline's
/// efficiency is measured against.
/// </summary>
internal static class ModelBench
{
    /// <summary>
    /// Every window length × batch size on the CPU, then on CUDA when <paramref name="cuda"/>, each provider with a
    /// model of its own from <paramref name="load"/>; <paramref name="measured"/> hears of each point as it ends.
    /// </summary>
    public static ModelResults Run(
        Func<ExecutionProviderKind, OnnxEmotionClassifier> load,
        bool cuda,
        IReadOnlyList<double> windows,
        IReadOnlyList<int> batches,
        TimeSpan perPoint,
        Action<ModelPoint> measured,
        CancellationToken ct
    )
    {
        List<(string Name, ExecutionProviderKind Kind)> providers = [("CPU", ExecutionProviderKind.Cpu)];
        if (cuda)
        {
            providers.Add(("CUDA", ExecutionProviderKind.Cuda));
        }
        var points = new List<ModelPoint>();
        var shapes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, kind) in providers)
        {
            using var classifier = load(kind);
            foreach (var window in windows)
            {
                foreach (var batch in batches)
                {
                    ct.ThrowIfCancellationRequested();
                    var point = Measure(classifier, name, window, batch, perPoint);
                    measured(point);
                    points.Add(point);
                }
            }
            foreach (var (session, count) in BenchFormat.Shapes(classifier.Sessions))
            {
                shapes[providers.Count > 1 ? $"{session}@{name}" : session] = count;
            }
        }
        return new ModelResults(points, shapes);
    }

    public static ModelPoint Measure(
        OnnxEmotionClassifier classifier,
        string provider,
        double windowSeconds,
        int batch,
        TimeSpan budget,
        int minRuns = 3
    )
    {
        var length = (int)(windowSeconds * 16000);
        var labels = classifier.Manifest.Labels.Count;
        var source = SpeechLikeNoise(length * batch, seed: batch);
        var input = new float[source.Length];
        var scores = new float[batch * labels];
        // Warm-up: the first runs at a new shape pay for memory planning inside ONNX Runtime.
        for (var i = 0; i < 2; i++)
        {
            source.CopyTo(input, 0);
            classifier.Classify(input, batch, scores);
        }
        var latencies = new List<double>();
        var total = Stopwatch.StartNew();
        while (latencies.Count < minRuns || total.Elapsed < budget)
        {
            source.CopyTo(input, 0);
            var run = Stopwatch.GetTimestamp();
            classifier.Classify(input, batch, scores);
            latencies.Add(Stopwatch.GetElapsedTime(run).TotalMilliseconds);
        }
        var seconds = latencies.Sum() / 1000;
        var windowsPerSecond = latencies.Count * batch / seconds;
        return new ModelPoint(
            provider,
            windowSeconds,
            batch,
            latencies.Count,
            Stats.Percentile(latencies, 50),
            Stats.Percentile(latencies, 95),
            windowsPerSecond,
            windowsPerSecond * windowSeconds
        );
    }

    /// <summary>Deterministic noise with a speech-like level; the model's cost does not depend on content.</summary>
    internal static float[] SpeechLikeNoise(int samples, int seed)
    {
        var random = new Random(seed);
        var data = new float[samples];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)((random.NextDouble() * 2 - 1) * 0.1);
        }
        return data;
    }
}
