using System.Collections.Concurrent;

namespace RealtimeSer.Audio;

/// <summary>
/// An immutable Kaiser-windowed sinc low-pass split into polyphase rows. Rows are stored time-reversed and
/// zero-padded to a multiple of the widest SIMD vector so the hot loop is one contiguous dot product.
/// Tables are shared between resamplers of the same ratio: a server with many streams builds each only once.
/// </summary>
/// <remarks>
/// A table has one row per phase. Common ratios need few (44.1 kHz→16 kHz: 160), but an odd rate such as
/// 44 101 Hz reduces to 16 000/44 101 and would need 16 000 rows (megabytes, and tens of milliseconds to
/// design); a client may ask for any rate, so rows are capped at <see cref="MaxPhases"/> and such ratios use
/// the nearest row at or below the exact fractional position, an error under 1/<see cref="MaxPhases"/> of an
/// input sample (about −65 dB for a 6 kHz tone, far less for speech). The shared cache is bounded in bytes,
/// so a stream of distinct odd rates cannot grow it without limit; tables past the budget belong to their
/// resamplers and go with them.
/// </remarks>
internal sealed class PolyphaseFilter
{
    /// <summary>Most rows a table holds; ratios with a larger L are approximated to this many phases.</summary>
    public const int MaxPhases = 1024;

    /// <summary>Most table bytes kept for reuse (the common rates need about 40 KB each).</summary>
    public const long CacheBudgetBytes = 16L << 20;

    private static long s_cachedBytes;

    // Wide enough for any Vector<float> width in use (AVX-512 included) with two accumulators.
    private const int TapAlignment = 32;

    private static readonly ConcurrentDictionary<(int, int, ResamplerQuality), PolyphaseFilter> s_cache =
        new();

    private PolyphaseFilter(int up, int down, int phases, int halfLength, int tapsPerPhase, float[] table) =>
        (Up, Down, Phases, HalfLength, TapsPerPhase, Table) = (
            up,
            down,
            phases,
            halfLength,
            tapsPerPhase,
            table
        );

    /// <summary>Interpolation factor L of the reduced ratio L/M.</summary>
    public int Up { get; }

    /// <summary>Decimation factor M of the reduced ratio L/M.</summary>
    public int Down { get; }

    /// <summary>Rows in the table: <see cref="Up"/>, or <see cref="MaxPhases"/> when L is larger.</summary>
    public int Phases { get; }

    /// <summary>Whether every output uses its exact phase (no row approximation).</summary>
    public bool IsExact => Phases == Up;

    /// <summary>Table bytes held for reuse now.</summary>
    internal static long CachedBytes => Interlocked.Read(ref s_cachedBytes);

    /// <summary>Half the prototype length, in samples at the table's rate (input rate × <see cref="Phases"/>).</summary>
    public int HalfLength { get; }

    /// <summary>Row length (taps per phase, padded).</summary>
    public int TapsPerPhase { get; }

    /// <summary><c>Phases</c> rows of <c>TapsPerPhase</c> coefficients.</summary>
    public float[] Table { get; }

    /// <summary>The row for exact phase <paramref name="phase"/> (0 ≤ phase &lt; <see cref="Up"/>).</summary>
    public int RowOf(int phase) => IsExact ? phase : (int)((long)phase * Phases / Up);

    public static PolyphaseFilter Get(int inputRate, int outputRate, ResamplerQuality quality)
    {
        var key = (inputRate, outputRate, quality);
        if (s_cache.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var filter = Design(inputRate, outputRate, quality);
        long bytes = filter.Table.Length * sizeof(float);
        if (Interlocked.Add(ref s_cachedBytes, bytes) > CacheBudgetBytes)
        {
            Interlocked.Add(ref s_cachedBytes, -bytes);
            return filter;
        }
        var shared = s_cache.GetOrAdd(key, filter);
        if (!ReferenceEquals(shared, filter))
        {
            Interlocked.Add(ref s_cachedBytes, -bytes); // another thread cached the same ratio first
        }
        return shared;
    }

    private static PolyphaseFilter Design(int inputRate, int outputRate, ResamplerQuality quality)
    {
        int g = Gcd(inputRate, outputRate);
        int down = inputRate / g;
        int exactUp = outputRate / g;
        int up = Math.Min(exactUp, MaxPhases);

        // Cutoff (−6 dB point) and transition width as fractions of the lower Nyquist. High puts the stopband edge
        // at ~0.99 Nyquist so nothing aliases back into the band, and is flat to ~0.93 like sox's "rate -v".
        (double attenuationDb, double cutoff, double transition) = quality switch
        {
            ResamplerQuality.Fast => (60.0, 0.90, 0.20),
            _ => (100.0, 0.955, 0.0625),
        };

        double nyquist = Math.Min(inputRate, outputRate) / 2.0;
        double upsampledRate = (double)inputRate * up;
        double fc = cutoff * nyquist / upsampledRate; // cycles per upsampled sample
        double deltaOmega = 2 * Math.PI * transition * nyquist / upsampledRate;
        double beta =
            attenuationDb > 50
                ? 0.1102 * (attenuationDb - 8.7)
                : 0.5842 * Math.Pow(attenuationDb - 21, 0.4) + 0.07886 * (attenuationDb - 21);
        int halfLength = (int)Math.Ceiling((attenuationDb - 7.95) / (2.285 * deltaOmega) / 2);
        int length = 2 * halfLength + 1;

        var prototype = new double[length];
        double i0Beta = BesselI0(beta);
        double sum = 0;
        for (int m = 0; m < length; m++)
        {
            double t = m - halfLength;
            double x = 2 * fc * t;
            double sinc = t == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
            double r = t / halfLength;
            double window = BesselI0(beta * Math.Sqrt(Math.Max(0, 1 - r * r))) / i0Beta;
            prototype[m] = 2 * fc * sinc * window;
            sum += prototype[m];
        }

        // Zero-stuffing by L divides the passband gain by L; scale so each phase passes DC at unity on average.
        double gain = up / sum;
        int taps = (length + up - 1) / up;
        int padded = (taps + TapAlignment - 1) / TapAlignment * TapAlignment;
        var table = new float[up * padded];
        for (int p = 0; p < up; p++)
        {
            for (int r = 0; r < padded; r++)
            {
                // Row p holds h[p + j·L] for j = padded−1−r: the newest input multiplies the last coefficient.
                long m = p + (long)(padded - 1 - r) * up;
                table[(p * padded) + r] = m < length ? (float)(prototype[m] * gain) : 0f;
            }
        }

        return new PolyphaseFilter(exactUp, down, up, halfLength, padded, table);
    }

    private static double BesselI0(double x)
    {
        double sum = 1;
        double term = 1;
        double halfX = x / 2;
        for (int k = 1; k < 200; k++)
        {
            term *= halfX / k * (halfX / k);
            sum += term;
            if (term < sum * 1e-17)
            {
                break;
            }
        }

        return sum;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
