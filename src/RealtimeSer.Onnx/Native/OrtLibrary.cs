using System.Runtime.InteropServices;

namespace RealtimeSer.Onnx.Native;

/// <summary>Finds and loads the ONNX Runtime shared library and returns its <c>OrtGetApiBase</c> entry point.</summary>
internal static class OrtLibrary
{
    /// <summary>A user's own build (for example one with CUDA) wins over the copy shipped next to the app.</summary>
    public const string PathVariable = "REALTIMESER_ONNXRUNTIME";

    public const string Hint =
        "run tools/bootstrap, or set REALTIMESER_ONNXRUNTIME=/path/to/libonnxruntime.so";

    private static readonly Lazy<nint> s_getApiBase = new(
        () => Load(Environment.GetEnvironmentVariable(PathVariable), AppContext.BaseDirectory),
        LazyThreadSafetyMode.ExecutionAndPublication
    );

    /// <summary>The address of <c>OrtGetApiBase</c>; loads the library on first use.</summary>
    public static nint GetApiBase => s_getApiBase.Value;

    /// <summary>The paths tried, in order: the override variable, then the library names for this OS in <paramref name="baseDirectory"/>.</summary>
    public static IReadOnlyList<string> Candidates(string? overridePath, string baseDirectory)
    {
        var candidates = new List<string>();
        if (!string.IsNullOrWhiteSpace(overridePath))
        {
            candidates.Add(overridePath);
        }
        foreach (var name in LibraryNames())
        {
            candidates.Add(Path.Combine(baseDirectory, name));
        }
        return candidates;
    }

    /// <summary>Loads the first candidate that exports <c>OrtGetApiBase</c>; throws a message that lists every attempt.</summary>
    public static nint Load(string? overridePath, string baseDirectory)
    {
        var failures = new List<string>();
        foreach (var path in Candidates(overridePath, baseDirectory))
        {
            if (!File.Exists(path))
            {
                failures.Add($"{path} (not found)");
                continue;
            }
            if (!NativeLibrary.TryLoad(path, out var handle))
            {
                failures.Add(
                    $"{path} (exists but could not be loaded: wrong architecture or missing dependencies)"
                );
                continue;
            }
            if (NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var entry))
            {
                return entry;
            }
            // Keeping an unrelated library mapped would only confuse later lookups.
            NativeLibrary.Free(handle);
            failures.Add($"{path} (loaded but does not export OrtGetApiBase)");
        }
        throw new DllNotFoundException(
            "ONNX Runtime could not be loaded. Searched: "
                + string.Join("; ", failures)
                + ". To fix: "
                + Hint
                + "."
        );
    }

    private static string[] LibraryNames()
    {
        if (OperatingSystem.IsWindows())
        {
            return ["onnxruntime.dll"];
        }
        if (OperatingSystem.IsMacOS())
        {
            return ["libonnxruntime.dylib", "libonnxruntime.1.dylib"];
        }
        return ["libonnxruntime.so.1", "libonnxruntime.so"];
    }
}
