using RealtimeSer.Core.Pipeline;

namespace RealtimeSer.Core.Tests.Pipeline;

/// <summary>A stream's settings come from flags and requests: every bad number is refused, NaN and infinities too.</summary>
public sealed class StreamOptionsTests
{
    /// <summary>Each bad setting, and the word its error names it by.</summary>
    public static TheoryData<string, StreamOptions> Bad()
    {
        var rows = new TheoryData<string, StreamOptions>();
        var defaults = new StreamOptions();
        foreach (
            var (named, options) in new (string, StreamOptions)[]
            {
                ("window", defaults with { WindowSeconds = 0 }),
                ("window", defaults with { WindowSeconds = double.NaN }),
                ("window", defaults with { WindowSeconds = double.PositiveInfinity }),
                ("hop", defaults with { HopSeconds = double.NaN }),
                ("hop", defaults with { HopSeconds = -1 }),
                ("smoothing", defaults with { SmoothingSeconds = double.NaN }),
                ("smoothing", defaults with { SmoothingSeconds = double.PositiveInfinity }),
                ("hysteresis", defaults with { HysteresisMargin = float.NaN }),
                ("hysteresis", defaults with { HysteresisMargin = 1 }),
            }
        )
        {
            rows.Add(named, options);
        }
        return rows;
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public void A_bad_setting_is_refused_by_name(string named, StreamOptions options)
    {
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
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
