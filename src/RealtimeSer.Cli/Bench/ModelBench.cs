using System.Diagnostics;
using RealtimeSer.Core.Inference;

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

/// <summary>
/// Raw model latency and throughput: the physical limit of this model on this machine, which the pipeline's
/// efficiency is measured against.
/// </summary>
internal static class ModelBench
{
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
