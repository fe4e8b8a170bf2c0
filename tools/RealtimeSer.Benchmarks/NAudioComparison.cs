using System.Diagnostics;
using System.Globalization;
using NAudio.Codecs;
using NAudio.Dsp;
using NAudio.Wave;
using NAudio.Wave.SampleProviders;
using RealtimeSer.Audio;

namespace RealtimeSer.Benchmarks;

/// <summary>
/// Our resampler and G.711 codec against NAudio.Core's, in one run, so that docs/architecture.md can say which one
/// the project keeps and why. Resampling is scored against sox <c>rate -v</c> (an independent reference) on real
/// speech and a sine sweep, and timed on a minute of audio fed in 20 ms blocks as a live stream is.
/// </summary>
/// <remarks>
/// NAudio's resampler is measured twice: as <see cref="WdlResamplingSampleProvider"/> ships (WDL in its
/// interpolating IIR mode) and as the same <see cref="WdlResampler"/> switched to its windowed-sinc mode, so
/// neither loses to a setting the provider merely does not expose.
/// </remarks>
internal static class NAudioComparison
{
    private const int TargetRate = 16000;
    private static readonly int[] s_sourceRates = [8000, 22050, 44100, 48000];

    // Every file sox writes here: one channel of 32-bit float, so nothing is quantised before the comparison.
    private static readonly string[] s_monoFloat = ["-c", "1", "-b", "32", "-e", "floating-point"];

    public static int Run(string[] args)
    {
        if (FindOnPath("sox") is null)
        {
            Console.Error.WriteLine("naudio-compare needs sox on PATH (apt-get install sox).");
            return 2;
        }

        string? clip = args.Length > 0 ? args[0] : DefaultClip();
        if (clip is null || !File.Exists(clip))
        {
            Console.Error.WriteLine(
                "naudio-compare: give a speech WAV file (the default ../shared/data/fixtures/clips/1004_TSI_ANG_XX.wav is not here)."
            );
            return 2;
        }

        string dir = Directory.CreateTempSubdirectory("ser-naudio-").FullName;
        try
        {
            Console.WriteLine(
                $"SNR against sox rate -v {TargetRate} (dB, best lag in ±64 samples; higher is better)"
            );
            Console.WriteLine(
                "signal  rate    ours (lag)   WDL provider (lag)   WDL sinc-64 (lag)   WDL sinc-256 (lag)"
            );
            foreach (int rate in s_sourceRates)
            {
                CompareSnr("speech", rate, Speech(dir, clip, rate), dir);
                CompareSnr("sweep", rate, Sweep(dir, rate), dir);
            }

            Console.WriteLine();
            Console.WriteLine(
                "Speed: 60 s of speech at 44.1 kHz → 16 kHz in 20 ms blocks, best of 5 (× real time)"
            );
            float[] minute = Tile(Speech(dir, clip, 44100), 60 * 44100);
            Speed("ours (High)", minute, OursStreaming);
            Speed("WDL provider", minute, x => WdlStreaming(x, sincSize: 0));
            Speed("WDL sinc-64", minute, x => WdlStreaming(x, sincSize: 64));
            Speed("WDL sinc-256", minute, x => WdlStreaming(x, sincSize: 256));

            Console.WriteLine();
            G711Report();
            return 0;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void CompareSnr(string what, int rate, float[] source, string dir)
    {
        string sourcePath = Path.Combine(dir, $"{what}-{rate}.wav");
        string referencePath = Path.Combine(dir, $"{what}-{rate}-ref.wav");
        WriteFloatWav(sourcePath, source, rate);
        Sox([sourcePath, .. s_monoFloat, referencePath, "rate", "-v", $"{TargetRate}"]);
        float[] reference = ReadWav(referencePath);
        var ours = BestSnr(reference, Ours(source, rate));
        var provider = BestSnr(reference, Wdl(source, rate, sincSize: 0));
        var sinc = BestSnr(reference, Wdl(source, rate, sincSize: 64));
        var sinc256 = BestSnr(reference, Wdl(source, rate, sincSize: 256));
        Console.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"{what, -7} {rate, -7} {ours.Snr, 5:0.0} ({ours.Lag, 3})  {provider.Snr, 10:0.0} ({provider.Lag, 3})  {sinc.Snr, 15:0.0} ({sinc.Lag, 3})  {sinc256.Snr, 16:0.0} ({sinc256.Lag, 3})"
            )
        );
    }

    private static float[] Ours(float[] input, int rate)
    {
        var resampler = new Resampler(rate, TargetRate);
        var output = new float[resampler.MaxOutputFor(input.Length) + resampler.MaxFlushOutput];
        int n = resampler.Process(input, output);
        n += resampler.Flush(output.AsSpan(n));
        return output[..n];
    }

    private static int OursStreaming(float[] input)
    {
        var resampler = new Resampler(44100, TargetRate);
        int block = 44100 / 50;
        var output = new float[resampler.MaxOutputFor(block) + resampler.MaxFlushOutput];
        int total = 0;
        for (int i = 0; i < input.Length; i += block)
        {
            total += resampler.Process(input.AsSpan(i, Math.Min(block, input.Length - i)), output);
        }

        return total + resampler.Flush(output);
    }

    /// <param name="sincSize">0: the provider as shipped; else WDL's sinc mode with that many taps.</param>
    private static ISampleProvider NAudioResampler(float[] input, int rate, int sincSize)
    {
        var source = new ArraySampleProvider(input, rate);
        return sincSize > 0
            ? new WdlSincProvider(source, TargetRate, sincSize)
            : new WdlResamplingSampleProvider(source, TargetRate);
    }

    private static int WdlStreaming(float[] input, int sincSize)
    {
        ISampleProvider resampled = NAudioResampler(input, 44100, sincSize);
        var block = new float[TargetRate / 50];
        int total = 0;
        int n;
        while ((n = resampled.Read(block)) > 0)
        {
            total += n;
        }

        return total;
    }

    /// <summary>Pulls the whole input through NAudio's resampler in 20 ms output blocks until it runs dry.</summary>
    private static float[] Wdl(float[] input, int rate, int sincSize)
    {
        ISampleProvider resampled = NAudioResampler(input, rate, sincSize);
        var output = new List<float>();
        var block = new float[TargetRate / 50];
        int n;
        while ((n = resampled.Read(block)) > 0)
        {
            output.AddRange(block.AsSpan(0, n));
        }

        return [.. output];
    }

    private static void Speed(string name, float[] input, Func<float[], int> run)
    {
        run(input); // JIT and tables.
        double best = double.MaxValue;
        long allocated = 0;
        for (int i = 0; i < 5; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            run(input);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        double seconds = input.Length / 44100.0;
        Console.WriteLine(
            string.Create(
                CultureInfo.InvariantCulture,
                $"{name, -14} {seconds / best, 7:0} × real time  ({best * 1000:0} ms, {allocated / 1024} KiB allocated per run, set-up included)"
            )
        );
    }

    private static void G711Report()
    {
        int muDecode = 0,
            aDecode = 0;
        for (int code = 0; code < 256; code++)
        {
            muDecode +=
                MuLawDecoder.MuLawToLinearSample((byte)code) != G711.MuLawToLinear((byte)code) ? 1 : 0;
            aDecode += ALawDecoder.ALawToLinearSample((byte)code) != G711.ALawToLinear((byte)code) ? 1 : 0;
        }

        int muEncode = 0,
            aEncode = 0;
        for (int x = short.MinValue; x <= short.MaxValue; x++)
        {
            muEncode += MuLawEncoder.LinearToMuLawSample((short)x) != G711.LinearToMuLaw((short)x) ? 1 : 0;
            aEncode += ALawEncoder.LinearToALawSample((short)x) != G711.LinearToALaw((short)x) ? 1 : 0;
        }

        Console.WriteLine(
            "G.711: NAudio against ours (ours matches the ITU segment formulas on all 256 codes)"
        );
        Console.WriteLine($"  decode, codes that differ of 256:   μ-law {muDecode}, A-law {aDecode}");
        Console.WriteLine(
            $"  μ-law 0x7F (−0): NAudio {MuLawDecoder.MuLawToLinearSample(0x7F)}, ours {G711.MuLawToLinear(0x7F)}"
        );
        Console.WriteLine($"  encode, inputs that differ of 65536: μ-law {muEncode}, A-law {aEncode}");
        Console.WriteLine(
            $"  encode −32768: NAudio μ 0x{MuLawEncoder.LinearToMuLawSample(short.MinValue):X2} A 0x{ALawEncoder.LinearToALawSample(short.MinValue):X2}, "
                + $"ours μ 0x{G711.LinearToMuLaw(short.MinValue):X2} A 0x{G711.LinearToALaw(short.MinValue):X2}"
        );
    }

    private static (double Snr, int Lag) BestSnr(float[] reference, float[] test)
    {
        const int edge = 320;
        int n = Math.Min(reference.Length, test.Length);
        return Enumerable
            .Range(-64, 129)
            .Select(lag =>
            {
                double signal = 0,
                    noise = 0;
                for (int i = Math.Max(edge, edge - lag); i < Math.Min(n, n - lag) - edge; i++)
                {
                    double d = reference[i] - (double)test[i + lag];
                    signal += reference[i] * (double)reference[i];
                    noise += d * d;
                }

                return (Snr: 10 * Math.Log10(signal / Math.Max(noise, 1e-30)), Lag: lag);
            })
            .MaxBy(r => r.Snr);
    }

    private static float[] Speech(string dir, string clip, int rate)
    {
        string path = Path.Combine(dir, $"speech-source-{rate}.wav");
        if (!File.Exists(path))
        {
            Sox([clip, .. s_monoFloat, path, "rate", "-v", $"{rate}"]);
        }

        return ReadWav(path);
    }

    private static float[] Sweep(string dir, int rate)
    {
        string path = Path.Combine(dir, $"sweep-source-{rate}.wav");
        // The sweeps of ResamplerSoxTests, so the figures line up with the Audio README's.
        int top = rate switch
        {
            8000 => 3900,
            22050 => 11000,
            _ => 20000,
        };
        Sox(["-n", "-r", $"{rate}", .. s_monoFloat, path, "synth", "3", "sine", $"50-{top}", "vol", "0.5"]);
        return ReadWav(path);
    }

    private static float[] Tile(float[] x, int length)
    {
        var y = new float[length];
        for (int i = 0; i < length; i += x.Length)
        {
            x.AsSpan(0, Math.Min(x.Length, length - i)).CopyTo(y.AsSpan(i));
        }

        return y;
    }

    /// <summary>A whole mono WAV file through our reader (what the pipeline uses).</summary>
    private static float[] ReadWav(string path)
    {
        using var reader = WavReader.Open(path);
        var all = new List<float>();
        var block = new float[4096];
        int frames;
        while ((frames = reader.Read(block)) > 0)
        {
            all.AddRange(block.AsSpan(0, frames));
        }

        return [.. all];
    }

    private static void WriteFloatWav(string path, float[] samples, int rate)
    {
        using var writer = new WaveFileWriter(path, WaveFormat.CreateIeeeFloatWaveFormat(rate, 1));
        writer.WriteSamples(samples, 0, samples.Length);
    }

    private static void Sox(params string[] args)
    {
        using var process = Process.Start(
            new ProcessStartInfo("sox", args) { RedirectStandardError = true, UseShellExecute = false }
        )!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"sox {string.Join(' ', args)} failed: {error}");
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name))
            .FirstOrDefault(File.Exists);

    private static string? DefaultClip()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RealtimeSer.sln")))
            {
                return Path.GetFullPath(
                    Path.Combine(
                        dir.FullName,
                        "..",
                        "shared",
                        "data",
                        "fixtures",
                        "clips",
                        "1004_TSI_ANG_XX.wav"
                    )
                );
            }
        }

        return null;
    }

    /// <summary>A mono float signal in memory as an NAudio source.</summary>
    private sealed class ArraySampleProvider(float[] samples, int rate) : ISampleProvider
    {
        private int _position;

        public WaveFormat WaveFormat { get; } = WaveFormat.CreateIeeeFloatWaveFormat(rate, 1);

        public int Read(Span<float> buffer)
        {
            int n = Math.Min(buffer.Length, samples.Length - _position);
            samples.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }
    }

    /// <summary>What <see cref="WdlResamplingSampleProvider"/> does, with WDL in its windowed-sinc mode.</summary>
    private sealed class WdlSincProvider : ISampleProvider
    {
        private readonly ISampleProvider _source;
        private readonly WdlResampler _resampler = new();

        public WdlSincProvider(ISampleProvider source, int rate, int sincSize)
        {
            _source = source;
            WaveFormat = WaveFormat.CreateIeeeFloatWaveFormat(rate, 1);
            _resampler.SetMode(true, 0, true, sincSize, 32);
            _resampler.SetFeedMode(false);
            _resampler.SetRates(source.WaveFormat.SampleRate, rate);
        }

        public WaveFormat WaveFormat { get; }

        public int Read(Span<float> buffer)
        {
            int needed = _resampler.ResamplePrepare(buffer.Length, 1, out Span<float> input);
            int available = _source.Read(input[..needed]);
            return _resampler.ResampleOut(buffer, available, buffer.Length, 1);
        }
    }
}
