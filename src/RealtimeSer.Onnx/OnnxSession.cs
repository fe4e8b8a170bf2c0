using System.Collections.Frozen;
using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>
/// One loaded ONNX model over the package's <see cref="InferenceSession"/>. Everything about the model is
/// read at load; <see cref="Run"/> is thread-safe (ORT allows concurrent runs on one session) and touches no
/// mutable state of its own.
/// </summary>
public sealed partial class OnnxSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;
    private readonly RunGate _gate;
    private readonly FrozenDictionary<string, int> _inputIndex;
    private readonly FrozenDictionary<string, int> _outputIndex;
    private readonly OnnxSessionOptions _options;

    private OnnxSession(
        string modelPath,
        OnnxSessionOptions options,
        InferenceSession session,
        ExecutionProviderKind provider,
        string? fallbackReason
    )
    {
        ModelPath = modelPath;
        _options = options;
        _session = session;
        ExecutionProvider = provider;
        FallbackReason = fallbackReason;

        Inputs = session.InputNames.Select(n => Describe(n, session.InputMetadata[n])).ToArray();
        Outputs = session.OutputNames.Select(n => Describe(n, session.OutputMetadata[n])).ToArray();
        var metadata = session.ModelMetadata;
        CustomMetadata = metadata.CustomMetadataMap.ToFrozenDictionary();
        ProducerName = metadata.ProducerName;
        GraphName = metadata.GraphName;

        _inputIndex = Inputs.Select((info, i) => KeyValuePair.Create(info.Name, i)).ToFrozenDictionary();
        _outputIndex = Outputs.Select((info, i) => KeyValuePair.Create(info.Name, i)).ToFrozenDictionary();
        _runOptions = new RunOptions();
        _gate = new RunGate(ReleaseNative);
    }

    public IReadOnlyList<TensorInfo> Inputs { get; }

    public IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>The model's <c>metadata_props</c>.</summary>
    public IReadOnlyDictionary<string, string> CustomMetadata { get; }

    public string ProducerName { get; }

    public string GraphName { get; }

    /// <summary>The provider the session was actually built with (never Auto).</summary>
    public ExecutionProviderKind ExecutionProvider { get; }

    /// <summary>Why Auto ended up on CPU, or null when it did not fall back.</summary>
    public string? FallbackReason { get; }

    /// <summary>Full path of the loaded model.</summary>
    public string ModelPath { get; }

    /// <summary>What benchmarks and metrics call this session: its <see cref="OnnxSessionOptions.LogId"/>, else the file name.</summary>
    public string Name =>
        string.IsNullOrEmpty(_options.LogId) ? Path.GetFileNameWithoutExtension(ModelPath) : _options.LogId;

    /// <summary>The distinct input shapes this session has run.</summary>
    public ShapeLog Shapes { get; } = new();

    private long _busyTicks;

    /// <summary>Time spent in this session's runs, summed over the threads that ran them.</summary>
    public TimeSpan BusyTime =>
        System.Diagnostics.Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks));

    private void AddBusy(long started)
    {
        Interlocked.Add(ref _busyTicks, System.Diagnostics.Stopwatch.GetTimestamp() - started);
    }

    /// <summary>Loads a model file. Missing files throw <see cref="FileNotFoundException"/>; files ORT rejects throw <see cref="OnnxException"/>; both name the file.</summary>
    public static OnnxSession Load(string modelPath, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"ONNX model not found: {fullPath}", fullPath);
        }
        return Load(new ModelSource(fullPath, null), options ?? new OnnxSessionOptions());
    }

    /// <summary>
    /// Loads a model built in memory from the file <paramref name="derivedFrom"/> (a part of its graph, say);
    /// the session is named, logged and reported as that file.
    /// </summary>
    public static OnnxSession Load(string derivedFrom, byte[] model, OnnxSessionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(derivedFrom);
        ArgumentNullException.ThrowIfNull(model);
        return Load(
            new ModelSource(Path.GetFullPath(derivedFrom), model),
            options ?? new OnnxSessionOptions()
        );
    }

    /// <summary>A model file, or a model in memory that was made from one (<see cref="Bytes"/> set).</summary>
    private readonly record struct ModelSource(string Path, byte[]? Bytes);

    private static OnnxSession Load(ModelSource source, OnnxSessionOptions options)
    {
        var fullPath = source.Path;
        var context = source.Bytes is null
            ? $"Cannot load ONNX model '{fullPath}'"
            : $"Cannot load the model derived from '{fullPath}'";
        return options.Provider switch
        {
            ExecutionProviderKind.Cpu => Create(source, options, ExecutionProviderKind.Cpu, null, context),
            ExecutionProviderKind.Cuda => LoadCuda(source, options, context),
            ExecutionProviderKind.Auto => LoadAuto(source, options, context),
            _ => throw new ArgumentOutOfRangeException(
                nameof(options),
                options.Provider,
                "Unknown execution provider."
            ),
        };
    }

    private static OnnxSession LoadCuda(ModelSource source, OnnxSessionOptions options, string context)
    {
        var session = TryCuda(source, options, context, out var reason);
        return session
            ?? throw new OnnxException(
                OnnxErrorCode.EpFail,
                $"{context}: CUDA was requested (device {options.CudaDeviceId}) but is unavailable: {reason}. "
                    + $"To fix: {OnnxRuntime.GpuHint}; or use the Cpu or Auto provider.",
                reason
            );
    }

    private static OnnxSession LoadAuto(ModelSource source, OnnxSessionOptions options, string context)
    {
        var session = TryCuda(source, options, context, out var reason);
        if (session is not null)
        {
            return session;
        }
        options.Log?.Invoke($"onnx: {Path.GetFileName(source.Path)}: {reason}; using CPU");
        return Create(source, options, ExecutionProviderKind.Cpu, reason, context);
    }

    /// <summary>A CUDA session, or null and why not (in ORT's words); model problems still throw.</summary>
    private static OnnxSession? TryCuda(
        ModelSource source,
        OnnxSessionOptions options,
        string context,
        out string reason
    )
    {
        reason = OnnxRuntime.CudaUnavailableReason ?? "";
        if (OnnxRuntime.CudaUnavailableReason is not null)
        {
            return null;
        }
        using var log = OrtLog.Capture();
        try
        {
            return Create(source, options, ExecutionProviderKind.Cuda, null, context);
        }
        catch (OnnxException ex) when (!IsModelProblem(ex))
        {
            // No GPU, missing cuDNN, out of device memory: the model may still run on CPU.
            reason = $"CUDA failed to initialize: {OnnxRuntime.WithLog(ex, log)}";
            return null;
        }
    }

    /// <summary>Errors a different provider would not fix, so retrying on CPU only hides them.</summary>
    private static bool IsModelProblem(OnnxException ex) =>
        ex.ErrorCode
            is OnnxErrorCode.InvalidProtobuf
                or OnnxErrorCode.NoSuchFile
                or OnnxErrorCode.InvalidGraph;

    private static OnnxSession Create(
        ModelSource source,
        OnnxSessionOptions options,
        ExecutionProviderKind provider,
        string? fallbackReason,
        string context
    )
    {
        using var sessionOptions = SessionOptionsFactory.Create(
            options,
            provider == ExecutionProviderKind.Cuda
        );
        var session = OrtErrors.Call(
            () =>
                source.Bytes is null
                    ? new InferenceSession(source.Path, sessionOptions)
                    : new InferenceSession(source.Bytes, sessionOptions),
            context
        );
        try
        {
            return new OnnxSession(source.Path, options, session, provider, fallbackReason);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Dynamic dimensions come back as -1, as ORT reports them; non-tensors as Undefined.</summary>
    private static TensorInfo Describe(string name, NodeMetadata metadata) =>
        new(
            name,
            metadata.IsTensor
                ? (TensorElementType)(int)metadata.ElementDataType
                : TensorElementType.Undefined,
            metadata.IsTensor ? metadata.Dimensions.Select(d => (long)d).ToArray() : []
        );

    /// <summary>One line for the app's log, e.g. "onnx: model silero_vad.onnx on CPU (ORT 1.30.0, intra 1 / inter 1 threads)".</summary>
    public string Describe()
    {
        static string Threads(int n) =>
            n == 0 ? "auto" : n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var provider =
            ExecutionProvider == ExecutionProviderKind.Cuda ? $"CUDA device {_options.CudaDeviceId}" : "CPU";
        var fallback = FallbackReason is null ? "" : $" [auto fallback: {FallbackReason}]";
        return $"onnx: model {Path.GetFileName(ModelPath)} on {provider}{fallback} "
            + $"(ORT {OnnxRuntime.Version}, intra {Threads(_options.IntraOpThreads)} / inter {Threads(_options.InterOpThreads)} threads, "
            + $"optimization {_options.Optimization}, spinning {(_options.AllowSpinning ? "on" : "off")}; "
            + $"inputs {string.Join(", ", Inputs)}; outputs {string.Join(", ", Outputs)})";
    }

    public override string ToString() => Describe();

    /// <summary>Idempotent; a run still in flight finishes first (the native session goes when it leaves).</summary>
    public void Dispose() => _gate.Dispose();

    private void ReleaseNative()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
