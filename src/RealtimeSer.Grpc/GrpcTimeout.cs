using System.Globalization;

namespace RealtimeSer.Grpc;

/// <summary>grpc-timeout: 1–8 ASCII digits and a unit (H hours, M minutes, S seconds, m, u, n sub-seconds).</summary>
public static class GrpcTimeout
{
    private const int MaxDigits = 8;

    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > MaxDigits + 1)
        {
            return false;
        }
        var digits = value.AsSpan(0, value.Length - 1);
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }
        var amount = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        // Ticks are 100 ns; 8 digits of hours still fit a TimeSpan.
        long? ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * 10,
            'n' => amount / 100,
            _ => null,
        };
        if (ticks is not { } t)
        {
            return false;
        }
        timeout = TimeSpan.FromTicks(t);
        return true;
    }

    /// <summary>The shortest exact-or-rounded-up encoding that fits in 8 digits.</summary>
    public static string Format(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return "1n";
        }
        var ms = (long)Math.Ceiling(timeout.TotalMilliseconds);
        if (ms < 100_000_000)
        {
            return ms.ToString(CultureInfo.InvariantCulture) + "m";
        }
        var s = (long)Math.Ceiling(timeout.TotalSeconds);
        if (s < 100_000_000)
        {
            return s.ToString(CultureInfo.InvariantCulture) + "S";
        }
        return Math.Min(99_999_999, (long)Math.Ceiling(timeout.TotalMinutes))
                .ToString(CultureInfo.InvariantCulture) + "M";
    }
}
