using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>A stream's settings come from flags and requests: every bad number is refused, NaN and infinities too.</summary>
public sealed class StreamOptionsTests
{
    public static TheoryData<string, StreamOptions> Bad() =>
        new()
        {
            {
                "window 0",
                new StreamOptions { WindowSeconds = 0 }
            },
            {
                "window NaN",
                new StreamOptions { WindowSeconds = double.NaN }
            },
            {
                "window ∞",
                new StreamOptions { WindowSeconds = double.PositiveInfinity }
            },
            {
                "hop NaN",
                new StreamOptions { HopSeconds = double.NaN }
            },
            {
                "hop −1",
                new StreamOptions { HopSeconds = -1 }
            },
            {
                "smoothing NaN",
                new StreamOptions { SmoothingSeconds = double.NaN }
            },
            {
                "smoothing ∞",
                new StreamOptions { SmoothingSeconds = double.PositiveInfinity }
            },
            {
                "hysteresis NaN",
                new StreamOptions { HysteresisMargin = float.NaN }
            },
            {
                "hysteresis 1",
                new StreamOptions { HysteresisMargin = 1 }
            },
        };

    [Theory]
    [MemberData(nameof(Bad))]
    public void A_bad_setting_is_refused(string what, StreamOptions options)
    {
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.False(string.IsNullOrEmpty(e.Message), what);
    }

    [Fact]
    public void The_defaults_and_ordinary_settings_pass()
    {
        Assert.Null(Record.Exception(new StreamOptions().Validate));
        var ordinary = new StreamOptions
        {
            WindowSeconds = 2,
            HopSeconds = 0.5,
            SmoothingSeconds = 0,
            HysteresisMargin = 0,
        };
        Assert.Null(Record.Exception(ordinary.Validate));
    }
}
