namespace RealtimeSer.Audio.Tests;

internal static class SignalMath
{
    public static float[] Sine(double frequency, int rate, double seconds, double amplitude = 0.5)
    {
        var x = new float[(int)(seconds * rate)];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(amplitude * Math.Sin(2 * Math.PI * frequency * i / rate));
        }

        return x;
    }

    /// <summary>Least-squares amplitude of a sinusoid of known frequency in x[from..to).</summary>
    public static double ToneAmplitude(ReadOnlySpan<float> x, double frequency, int rate, int from, int to)
    {
        double ss = 0,
            cc = 0,
            sc = 0,
            xs = 0,
            xc = 0;
        for (int i = from; i < to; i++)
        {
            double w = 2 * Math.PI * frequency * i / rate;
            double s = Math.Sin(w);
            double c = Math.Cos(w);
            ss += s * s;
            cc += c * c;
            sc += s * c;
            xs += x[i] * s;
            xc += x[i] * c;
        }

        double det = (ss * cc) - (sc * sc);
        double a = ((xs * cc) - (xc * sc)) / det;
        double b = ((xc * ss) - (xs * sc)) / det;
        return Math.Sqrt((a * a) + (b * b));
    }

    public static double Rms(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (float v in x)
        {
            sum += v * (double)v;
        }

        return Math.Sqrt(sum / Math.Max(1, x.Length));
    }

    /// <summary>
    /// SNR of <paramref name="test"/> against <paramref name="reference"/> at the best lag in ±maxLag, ignoring
    /// <paramref name="edge"/> samples at each end (start-up and tail handling differ between implementations).
    /// </summary>
    public static (double SnrDb, int Lag) Snr(float[] reference, float[] test, int maxLag = 8, int edge = 320)
    {
        double best = double.NegativeInfinity;
        int bestLag = 0;
        for (int lag = -maxLag; lag <= maxLag; lag++)
        {
            double signal = 0,
                noise = 0;
            int n = Math.Min(reference.Length, test.Length);
            for (int i = edge; i < n - edge; i++)
            {
                int j = i + lag;
                if (j < 0 || j >= test.Length)
                {
                    continue;
                }

                double d = reference[i] - (double)test[j];
                signal += reference[i] * (double)reference[i];
                noise += d * d;
            }

            double snr = 10 * Math.Log10(signal / Math.Max(noise, 1e-30));
            if (snr > best)
            {
                best = snr;
                bestLag = lag;
            }
        }

        return (best, bestLag);
    }

    /// <summary>Runs the whole signal through a fresh resampler, flush included.</summary>
    public static float[] Resample(
        float[] input,
        int inRate,
        int outRate,
        ResamplerQuality quality = ResamplerQuality.High
    )
    {
        var resampler = new Resampler(inRate, outRate, quality);
        var output = new float[resampler.MaxOutputFor(input.Length) + resampler.MaxFlushOutput];
        int n = resampler.Process(input, output);
        n += resampler.Flush(output.AsSpan(n));
        return output[..n];
    }
}
