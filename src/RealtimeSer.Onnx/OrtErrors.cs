using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;

namespace RealtimeSer.Onnx;

/// <summary>Turns the package's <see cref="OnnxRuntimeException"/> into our <see cref="OnnxException"/>, keeping ORT's code and text.</summary>
internal static partial class OrtErrors
{
    /// <summary>Runs <paramref name="call"/>; an ORT failure becomes an OnnxException whose message starts with <paramref name="context"/>.</summary>
    public static T Call<T>(Func<T> call, string context)
    {
        try
        {
            return call();
        }
        catch (OnnxRuntimeException ex)
        {
            throw Translate(ex, context);
        }
    }

    public static OnnxException Translate(OnnxRuntimeException ex, string context)
    {
        var (code, native) = Parse(ex.Message);
        return new OnnxException(code, $"{context}: {native}", native, ex);
    }

    /// <summary>
    /// The package formats its messages as "[ErrorCode:Name] text" and keeps the code itself internal. Its
    /// enum numbers the codes as ORT's C API does but names 11 and 12 after retired codes, and codes it does
    /// not name print as numbers; all three forms map to ORT's current code.
    /// </summary>
    internal static (OnnxErrorCode Code, string NativeMessage) Parse(string message)
    {
        var match = CodePrefix().Match(message);
        if (!match.Success)
        {
            return (OnnxErrorCode.Fail, message);
        }
        var name = match.Groups[1].Value;
        var code = name switch
        {
            "ShapeInferenceNotRegistered" => OnnxErrorCode.EpFail,
            "RequirementNotRegistered" => OnnxErrorCode.ModelLoadCanceled,
            _ when Enum.TryParse<OnnxErrorCode>(name, out var parsed) && Enum.IsDefined(parsed) => parsed,
            _ => OnnxErrorCode.Fail,
        };
        return (code, match.Groups[2].Value);
    }

    [GeneratedRegex(@"^\[ErrorCode:(\w+)\] ?(.*)$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex CodePrefix();
}
