using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using RealtimeSer.Audio;
using RealtimeSer.Core.Pipeline;
using RealtimeSer.Core.Vad;
using RealtimeSer.Grpc;
using RealtimeSer.Grpc.V1;

namespace RealtimeSer.Benchmarks;

/// <summary>Resampling one 20 ms block of telephone and studio audio to 16 kHz, as every live stream does.</summary>
[MemoryDiagnoser]
public class ResamplerBenchmarks
{
    private readonly float[] _output = new float[2048];
    private Resampler _resampler = null!;
    private float[] _block = [];

    [Params(8000, 44100, 48000)]
    public int InputRate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _resampler = new Resampler(InputRate, 16000);
        _block = new float[InputRate / 50];
        var random = new Random(1);
        for (var i = 0; i < _block.Length; i++)
        {
            _block[i] = (float)(random.NextDouble() - 0.5);
        }
    }

    [Benchmark]
    public int Block20ms() => _resampler.Process(_block, _output);
}

/// <summary>One Silero frame (32 ms) for one stream, and the segmenter's bookkeeping per frame.</summary>
[MemoryDiagnoser]
public class VadBenchmarks
{
    private readonly float[] _frame = new float[SileroVadModel.FrameSamples];
    private readonly List<VadEvent> _events = [];
    private SileroVadModel _model = null!;
    private SileroVadState _state = null!;
    private VadSegmenter _segmenter = null!;
    private int _i;

    [GlobalSetup]
    public void Setup()
    {
        _model = SileroVadModel.Load();
        _state = new SileroVadState();
        _segmenter = new VadSegmenter(VadOptions.Default);
        var random = new Random(2);
        for (var i = 0; i < _frame.Length; i++)
        {
            _frame[i] = (float)((random.NextDouble() - 0.5) * 0.2);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _model.Dispose();

    [Benchmark]
    public float SileroFrame() => _model.Process(_state, _frame);

    [Benchmark]
    public int SegmenterFrame()
    {
        _events.Clear();
        _segmenter.Push((_i++ / 20 % 2 == 0) ? 0.9f : 0.1f, _events);
        return _events.Count;
    }
}

/// <summary>Window assembly downstream of the VAD: smoothing one window's scores into the running state.</summary>
[MemoryDiagnoser]
public class SmootherBenchmarks
{
    private readonly EmotionSmoother _smoother = new(6, 1.0, 0.1f);
    private readonly float[] _scores = [0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.1f];

    [Benchmark]
    public int AddWindow()
    {
        _smoother.Add(_scores, 0.5, 2.0);
        return _smoother.Current;
    }
}
