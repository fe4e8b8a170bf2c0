namespace RealtimeSer.Onnx.Tests;

public class RuntimeTests
{
    [Fact]
    public void Version_is_the_packaged_library_version()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+", OnnxRuntime.Version);
        // The packages pinned in Directory.Packages.props: 1.31.1 (CPU) or 1.31.0 (GPU).
        Assert.True(System.Version.Parse(OnnxRuntime.Version) >= new Version(1, 31), OnnxRuntime.Version);
    }

    [Fact]
    public void Cpu_provider_is_always_available()
    {
        Assert.Contains(OnnxRuntime.CpuProvider, OnnxRuntime.AvailableProviders);
        Assert.Equal(OnnxRuntime.AvailableProviders.Count, OnnxRuntime.AvailableProviders.Distinct().Count());
    }

    [Fact]
    public void The_package_matches_the_flavour_built()
    {
        if (OnnxRuntime.Flavor == "Gpu")
        {
            Assert.Equal("Microsoft.ML.OnnxRuntime.Gpu.Linux", OnnxRuntime.NativePackage);
            Assert.Contains(OnnxRuntime.CudaProvider, OnnxRuntime.AvailableProviders);
            return;
        }
        Assert.Equal("Cpu", OnnxRuntime.Flavor);
        Assert.Equal("Microsoft.ML.OnnxRuntime", OnnxRuntime.NativePackage);
        Assert.DoesNotContain(OnnxRuntime.CudaProvider, OnnxRuntime.AvailableProviders);
    }

    [Fact]
    public void The_native_library_of_this_platform_only_is_copied()
    {
        var runtimes = Path.Combine(AppContext.BaseDirectory, "runtimes");
        Assert.True(Directory.Exists(runtimes), runtimes);
        var platforms = Directory.GetDirectories(runtimes).Select(d => Path.GetFileName(d)!).ToArray();
        var rid = System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier;
        Assert.Equal([rid], platforms);
        Assert.True(File.Exists(Path.Combine(runtimes, rid, "native", "libonnxruntime.so")));
    }

    [Theory]
    [InlineData(
        "[ErrorCode:InvalidArgument] Got invalid dimensions",
        OnnxErrorCode.InvalidArgument,
        "Got invalid dimensions"
    )]
    [InlineData("[ErrorCode:NoSuchFile] Load model failed", OnnxErrorCode.NoSuchFile, "Load model failed")]
    [InlineData(
        "[ErrorCode:ShapeInferenceNotRegistered] provider failed",
        OnnxErrorCode.EpFail,
        "provider failed"
    )]
    [InlineData("[ErrorCode:14] not found", OnnxErrorCode.NotFound, "not found")]
    [InlineData("[ErrorCode:99] odd", OnnxErrorCode.Fail, "odd")]
    [InlineData("no prefix at all", OnnxErrorCode.Fail, "no prefix at all")]
    public void Package_errors_keep_orts_code_and_text(string message, OnnxErrorCode code, string native)
    {
        var (parsedCode, parsedMessage) = OrtErrors.Parse(message);

        Assert.Equal(code, parsedCode);
        Assert.Equal(native, parsedMessage);
    }
}
