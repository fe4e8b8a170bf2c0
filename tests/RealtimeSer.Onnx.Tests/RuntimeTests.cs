using RealtimeSer.Onnx.Native;

namespace RealtimeSer.Onnx.Tests;

public class RuntimeTests
{
    [Fact]
    public void Version_is_the_bundled_library_version()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+", OnnxRuntime.Version);
        Assert.True(System.Version.Parse(OnnxRuntime.Version) >= new Version(1, 13), OnnxRuntime.Version);
    }

    [Fact]
    public void Cpu_provider_is_always_available()
    {
        Assert.Contains(OnnxRuntime.CpuProvider, OnnxRuntime.AvailableProviders);
        Assert.Equal(OnnxRuntime.AvailableProviders.Count, OnnxRuntime.AvailableProviders.Distinct().Count());
    }

    [Fact]
    public void Library_search_puts_the_override_first_then_the_app_directory()
    {
        var candidates = OrtLibrary.Candidates("/opt/ort/libonnxruntime.so", "/app");
        Assert.Equal("/opt/ort/libonnxruntime.so", candidates[0]);
        Assert.All(candidates.Skip(1), c => Assert.StartsWith("/app", c, StringComparison.Ordinal));
        Assert.True(candidates.Count >= 2);
    }

    [Fact]
    public void Missing_library_error_lists_what_was_searched_and_how_to_fix_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "realtimeser-no-ort-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var ex = Assert.Throws<DllNotFoundException>(() =>
                OrtLibrary.Load("/nonexistent/libonnxruntime.so", dir)
            );
            Assert.Contains("/nonexistent/libonnxruntime.so", ex.Message, StringComparison.Ordinal);
            Assert.Contains(dir, ex.Message, StringComparison.Ordinal);
            Assert.Contains(
                "run tools/bootstrap, or set REALTIMESER_ONNXRUNTIME=/path/to/libonnxruntime.so",
                ex.Message,
                StringComparison.Ordinal
            );
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_file_that_is_not_onnx_runtime_is_rejected_with_a_reason()
    {
        var dir = Path.Combine(Path.GetTempPath(), "realtimeser-fake-ort-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var fake = Path.Combine(dir, "libonnxruntime.so.1");
            File.WriteAllText(fake, "not a shared library");
            var ex = Assert.Throws<DllNotFoundException>(() => OrtLibrary.Load(null, dir));
            Assert.Contains($"{fake} (exists but could not be loaded", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
