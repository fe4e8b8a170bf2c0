using RealtimeSer.Core.Models;
using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Inference;

/// <summary>An emotion model run by ONNX Runtime. The graph is checked against the manifest at load, so a
/// mismatch is an error at start-up, not at the first request.</summary>
public sealed class OnnxEmotionClassifier : IEmotionClassifier
{
    private readonly OnnxSession _session;

    private OnnxEmotionClassifier(ModelManifest manifest, OnnxSession session)
    {
        Manifest = manifest;
        _session = session;
        CheckGraph();
    }

    public ModelManifest Manifest { get; }

    public ExecutionProviderKind ExecutionProvider => _session.ExecutionProvider;

    /// <summary>Why the Auto provider ended up on CPU (ONNX Runtime's own reason), or null.</summary>
    public string? FallbackReason => _session.FallbackReason;

    /// <summary>The execution provider in use and thread settings, for the start-up log line.</summary>
    public string Describe() => _session.Describe();

    public static OnnxEmotionClassifier Load(ModelManifest manifest, OnnxSessionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var session = OnnxSession.Load(manifest.ModelPath, options ?? new OnnxSessionOptions());
        try
        {
            return new OnnxEmotionClassifier(manifest, session);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public ValueTask ClassifyAsync(
        Memory<float> windows,
        int count,
        Memory<float> probabilities,
        CancellationToken cancellationToken = default
    )
    {
        cancellationToken.ThrowIfCancellationRequested();
        Classify(windows, count, probabilities);
        return ValueTask.CompletedTask;
    }

    /// <summary>Synchronous form, for callers already on a worker thread.</summary>
    public void Classify(Memory<float> windows, int count, Memory<float> probabilities)
    {
        ComputeOutputs(windows, count, probabilities);
        if (Manifest.OutputKind == ModelOutputKind.Logits)
        {
            var labels = Manifest.Labels.Count;
            for (var i = 0; i < count; i++)
            {
                AudioMath.SoftmaxInPlace(probabilities.Span.Slice(i * labels, labels));
            }
        }
    }

    /// <summary>
    /// The model's raw outputs (logits or probabilities, as the manifest says) for <paramref name="count"/>
    /// equal windows, after the manifest's input normalization. ORT reads the windows and writes the scores
    /// in place (no copies, no per-batch buffers).
    /// </summary>
    public void ComputeOutputs(Memory<float> windows, int count, Memory<float> outputs)
    {
        if (count <= 0 || windows.Length % count != 0)
        {
            throw new ArgumentException($"{windows.Length} samples do not split into {count} equal windows.");
        }
        var labels = Manifest.Labels.Count;
        if (outputs.Length < count * labels)
        {
            throw new ArgumentException($"room for {count * labels} outputs is needed.");
        }
        var length = windows.Length / count;
        if (Manifest.Normalization == InputNormalization.ZeroMeanUnitVariance)
        {
            for (var i = 0; i < count; i++)
            {
                AudioMath.NormalizeZeroMeanUnitVariance(windows.Span.Slice(i * length, length));
            }
        }
        try
        {
            _session.RunInto(
                [NamedTensor.Float(Manifest.Input, windows, [count, length])],
                [new OutputBuffer(Manifest.Output, outputs[..(count * labels)], [count, labels])]
            );
        }
        // ORT names the output when the scores it computed do not fit [count, labels].
        catch (OnnxException e)
            when (e.ErrorCode == OnnxErrorCode.InvalidArgument
                && e.NativeMessage.Contains(Manifest.Output, StringComparison.Ordinal)
            )
        {
            throw new InvalidDataException(
                $"{Manifest.ModelPath} did not return [{count}, {labels}] scores for {count} windows "
                    + $"(its manifest lists {labels} labels): {e.NativeMessage}",
                e
            );
        }
    }

    public void Dispose() => _session.Dispose();

    private void CheckGraph()
    {
        var input = _session.Inputs.FirstOrDefault(i => i.Name == Manifest.Input);
        var output = _session.Outputs.FirstOrDefault(o => o.Name == Manifest.Output);
        string Problem(string what) =>
            $"{Manifest.ModelPath} disagrees with its manifest: {what} "
            + $"(graph inputs: {string.Join(", ", _session.Inputs.Select(Describe))}; "
            + $"outputs: {string.Join(", ", _session.Outputs.Select(Describe))}).";
        if (input is null || input.ElementType != TensorElementType.Float || input.Shape.Count != 2)
        {
            throw new InvalidDataException(
                Problem($"no float input '{Manifest.Input}' of shape [batch, samples]")
            );
        }
        if (output is null || output.ElementType != TensorElementType.Float || output.Shape.Count != 2)
        {
            throw new InvalidDataException(
                Problem($"no float output '{Manifest.Output}' of shape [batch, labels]")
            );
        }
        if (output.Shape[1] > 0 && output.Shape[1] != Manifest.Labels.Count)
        {
            throw new InvalidDataException(
                Problem(
                    $"the output has {output.Shape[1]} classes but the manifest lists {Manifest.Labels.Count} labels"
                )
            );
        }
    }

    private static string Describe(TensorInfo t) => $"{t.Name} {t.ElementType} [{string.Join(",", t.Shape)}]";
}
