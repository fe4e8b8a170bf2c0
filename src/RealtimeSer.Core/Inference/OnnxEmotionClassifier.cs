using RealtimeSer.Core.Models;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Onnx;

namespace RealtimeSer.Core.Inference;

/// <summary>An emotion model run by ONNX Runtime. The graph is checked against the manifest at load, so a
/// mismatch is an error at start-up, not at the first request.</summary>
public sealed class OnnxEmotionClassifier : IChannelAdaptiveClassifier
{
    private readonly OnnxSession _session;

    // The head of a model with per-channel adaptation (manifest "adaptation"), null otherwise.
    private readonly OnnxSession? _head;

    // The cold-start head of such a model (manifest "adaptation.cold_start"), null otherwise.
    private readonly OnnxSession? _coldHead;

    private OnnxEmotionClassifier(
        ModelManifest manifest,
        OnnxSession session,
        OnnxSession? head,
        OnnxSession? coldHead,
        bool? padShapes
    )
    {
        Manifest = manifest;
        _session = session;
        _head = head;
        _coldHead = coldHead;
        CheckGraph();
        Shapes = new ShapePlan(
            padShapes ?? session.ExecutionProvider == ExecutionProviderKind.Cuda,
            (int)(manifest.MinWindowSeconds * 16000),
            (int)(manifest.RecommendedWindowSeconds * 16000),
            (int)(ClipClassifier.MaxSingleWindowSeconds * 16000)
        );
        if (Shapes.Pad)
        {
            WarmUp();
        }
    }

    /// <summary>The input shapes the model's graph is run with.</summary>
    public ShapePlan Shapes { get; }

    /// <summary>The ONNX sessions behind this model (the graph, and the heads of an adaptive model).</summary>
    public IReadOnlyList<OnnxSession> Sessions =>
        [_session, .. _head is null ? [] : new[] { _head }, .. _coldHead is null ? [] : new[] { _coldHead }];

    public ModelManifest Manifest { get; }

    public ExecutionProviderKind ExecutionProvider => _session.ExecutionProvider;

    /// <summary>Why the Auto provider ended up on CPU (ONNX Runtime's own reason), or null.</summary>
    public string? FallbackReason => _session.FallbackReason;

    /// <summary>The execution provider in use and thread settings, for the start-up log line.</summary>
    public string Describe() => _session.Describe();

    /// <param name="padShapes">
    /// Pad batches and windows to the shape buckets (<see cref="ShapePlan"/>); null decides by provider: padded on
    /// CUDA, split on the CPU.
    /// </param>
    public static OnnxEmotionClassifier Load(
        ModelManifest manifest,
        OnnxSessionOptions? options = null,
        bool? padShapes = null
    )
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var session = OnnxSession.Load(
            manifest.ModelPath,
            (options ?? new OnnxSessionOptions()) with
            {
                LogId = options?.LogId ?? manifest.Id,
            }
        );
        OnnxSession? head = null;
        OnnxSession? coldHead = null;
        try
        {
            if (manifest.Adaptation is { } adaptation)
            {
                // The head is a few thousand multiply-adds per window, run one window at a time in channel
                // order: on the CPU, one thread, whatever provider the feature graph uses.
                head = LoadHead(adaptation.HeadPath, manifest.Id + "/head");
                if (adaptation.ColdStart is { } cold)
                {
                    coldHead = LoadHead(cold.HeadPath, manifest.Id + "/cold_head");
                }
            }
            return new OnnxEmotionClassifier(manifest, session, head, coldHead, padShapes);
        }
        catch
        {
            coldHead?.Dispose();
            head?.Dispose();
            session.Dispose();
            throw;
        }
    }

    private static OnnxSession LoadHead(string path, string name) =>
        OnnxSession.Load(path, new OnnxSessionOptions { Provider = ExecutionProviderKind.Cpu, LogId = name });

    public bool AdaptsPerChannel => _head is not null;

    public int FeatureCount => Manifest.Adaptation?.FeatureCount ?? Manifest.Labels.Count;

    public IChannelAdapter CreateChannelAdapter() =>
        _head is null ? new PassThroughAdapter(this) : new ChannelHead(this, Manifest.Adaptation!);

    public void ComputeFeatures(Memory<float> windows, int count, Memory<float> features) =>
        RunGraph(windows, count, features, FeatureCount);

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
        if (_head is null)
        {
            RunGraph(windows, count, outputs, Manifest.Labels.Count);
            return;
        }
        // Without a channel, each window is judged as the first of a new one: normalised with the prior only, and
        // blended with the cold-start head as a channel's first window is.
        var labels = Manifest.Labels.Count;
        if (outputs.Length < count * labels)
        {
            throw new ArgumentException($"room for {count * labels} outputs is needed.");
        }
        var features = new float[count * FeatureCount];
        RunGraph(windows, count, features, FeatureCount);
        for (var i = 0; i < count; i++)
        {
            new ChannelHead(this, Manifest.Adaptation!).Logits(
                features.AsSpan(i * FeatureCount, FeatureCount),
                outputs.Span.Slice(i * labels, labels)
            );
        }
    }

    private void RunGraph(Memory<float> windows, int count, Memory<float> outputs, int labels)
    {
        if (count <= 0 || windows.Length % count != 0)
        {
            throw new ArgumentException($"{windows.Length} samples do not split into {count} equal windows.");
        }
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
        foreach (var (start, n) in Shapes.Pad ? ShapePlan.Chunks(count) : ShapePlan.Pieces(count))
        {
            var pieceWindows = windows.Slice(start * length, n * length);
            var pieceOutputs = outputs.Slice(start * labels, n * labels);
            if (Shapes.Pad)
            {
                RunPadded(pieceWindows, n, length, pieceOutputs, labels);
            }
            else
            {
                Run(pieceWindows, n, length, pieceOutputs, labels);
            }
        }
    }

    /// <summary>
    /// One run at a bucketed shape: the windows copied into a zeroed buffer of the padded batch and length,
    /// the padding rows' outputs thrown away.
    /// </summary>
    private void RunPadded(Memory<float> windows, int count, int length, Memory<float> outputs, int labels)
    {
        var batch = ShapePlan.PaddedBatch(count);
        var padded = Shapes.PaddedLength(length);
        if (batch == count && padded == length)
        {
            Run(windows, count, length, outputs, labels);
            return;
        }
        var input = EnginePool.Floats.Rent(batch * padded);
        var output = EnginePool.Floats.Rent(batch * labels);
        try
        {
            input.AsSpan(0, batch * padded).Clear();
            for (var i = 0; i < count; i++)
            {
                windows.Span.Slice(i * length, length).CopyTo(input.AsSpan(i * padded));
            }
            Run(input.AsMemory(0, batch * padded), batch, padded, output.AsMemory(0, batch * labels), labels);
            output.AsSpan(0, count * labels).CopyTo(outputs.Span);
        }
        finally
        {
            EnginePool.Floats.Return(input);
            EnginePool.Floats.Return(output);
        }
    }

    /// <summary>Runs every bucket once, so that no live request pays for a shape's first run.</summary>
    private void WarmUp()
    {
        var width = FeatureCount;
        foreach (var length in Shapes.Lengths.Where(l => l <= Manifest.RecommendedWindowSeconds * 16000))
        {
            foreach (var batch in ShapePlan.Batches())
            {
                Run(new float[batch * length], batch, length, new float[batch * width], width);
            }
        }
    }

    private void Run(Memory<float> windows, int count, int length, Memory<float> outputs, int labels)
    {
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

    public void Dispose()
    {
        _coldHead?.Dispose();
        _head?.Dispose();
        _session.Dispose();
    }

    /// <summary>
    /// One channel of an adaptive model: its speaker statistics and the head run on each window, blended with the
    /// cold-start head (when the model has one) by the weight the manifest gives for the windows heard so far.
    /// Depends only on the windows' features and their order, so replay stays deterministic.
    /// </summary>
    private sealed class ChannelHead(OnnxEmotionClassifier owner, SpeakerAdaptation adaptation)
        : IChannelAdapter
    {
        private readonly SpeakerNormalizer _normalizer = new(adaptation);
        private readonly float[] _normalized = new float[adaptation.FeatureCount];
        private readonly float[] _logits = new float[owner.Manifest.Labels.Count];
        private readonly float[] _coldLogits = new float[owner.Manifest.Labels.Count];
        private readonly float[] _raw = new float[adaptation.FeatureCount];

        public void Adapt(ReadOnlySpan<float> features, Span<float> probabilities)
        {
            Logits(features, probabilities);
            AudioMath.SoftmaxInPlace(probabilities[..owner.Manifest.Labels.Count]);
        }

        public void Logits(ReadOnlySpan<float> features, Span<float> logits)
        {
            _normalizer.AddAndNormalize(features, _normalized);
            owner._head!.RunInto(
                [NamedTensor.Float(adaptation.HeadInput, _normalized, [1, _normalized.Length])],
                [new OutputBuffer(adaptation.HeadOutput, _logits, [1, _logits.Length])]
            );
            if (adaptation.ColdStart is not { } cold)
            {
                _logits.AsSpan().CopyTo(logits);
                return;
            }
            var weight = cold.Blend.WeightAt(_normalizer.Windows);
            if (weight > 0)
            {
                features[.._raw.Length].CopyTo(_raw);
                owner._coldHead!.RunInto(
                    [NamedTensor.Float(cold.HeadInput, _raw, [1, _raw.Length])],
                    [new OutputBuffer(cold.HeadOutput, _coldLogits, [1, _coldLogits.Length])]
                );
            }
            ColdStartBlending.Blend(
                cold.Blend.Space,
                weight,
                cold.Blend.TemperatureAt(_normalizer.Windows),
                _coldLogits,
                _logits,
                logits
            );
        }
    }

    /// <summary>A model without adaptation: the window's outputs are its scores.</summary>
    private sealed class PassThroughAdapter(OnnxEmotionClassifier owner) : IChannelAdapter
    {
        public void Adapt(ReadOnlySpan<float> features, Span<float> probabilities)
        {
            var labels = owner.Manifest.Labels.Count;
            features[..labels].CopyTo(probabilities);
            if (owner.Manifest.OutputKind == ModelOutputKind.Logits)
            {
                AudioMath.SoftmaxInPlace(probabilities[..labels]);
            }
        }
    }

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
        if (Manifest.Adaptation is { } adaptation)
        {
            if (output.Shape[1] > 0 && output.Shape[1] != adaptation.FeatureCount)
            {
                throw new InvalidDataException(
                    Problem(
                        $"the output has {output.Shape[1]} features but the adaptation prior has {adaptation.FeatureCount}"
                    )
                );
            }
            CheckHead(_head!, adaptation.HeadPath, adaptation.HeadInput, adaptation.HeadOutput, adaptation);
            if (adaptation.ColdStart is { } cold)
            {
                CheckHead(_coldHead!, cold.HeadPath, cold.HeadInput, cold.HeadOutput, adaptation);
            }
            return;
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

    private void CheckHead(
        OnnxSession head,
        string headPath,
        string headInput,
        string headOutput,
        SpeakerAdaptation adaptation
    )
    {
        var input = head.Inputs.FirstOrDefault(i => i.Name == headInput);
        var output = head.Outputs.FirstOrDefault(o => o.Name == headOutput);
        if (
            input is null
            || input.Shape.Count != 2
            || (input.Shape[1] > 0 && input.Shape[1] != adaptation.FeatureCount)
            || output is null
            || output.Shape.Count != 2
            || (output.Shape[1] > 0 && output.Shape[1] != Manifest.Labels.Count)
        )
        {
            throw new InvalidDataException(
                $"{headPath} disagrees with its manifest: it must map '{headInput}' "
                    + $"[batch, {adaptation.FeatureCount}] to '{headOutput}' [batch, {Manifest.Labels.Count}] "
                    + $"(graph inputs: {string.Join(", ", head.Inputs.Select(Describe))}; "
                    + $"outputs: {string.Join(", ", head.Outputs.Select(Describe))})."
            );
        }
    }

    private static string Describe(TensorInfo t) => $"{t.Name} {t.ElementType} [{string.Join(",", t.Shape)}]";
}
