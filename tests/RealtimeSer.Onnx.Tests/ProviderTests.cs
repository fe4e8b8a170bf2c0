using RealtimeSer.Onnx.Tests.Models;

namespace RealtimeSer.Onnx.Tests;

/// <summary>
/// The default (CPU) package has no CUDA provider and CI has no GPU, so these pin down the no-CUDA
/// behaviour; they skip on a machine where CUDA really loads. The GPU package's fallback is tested by
/// RealtimeSer.Cli.Tests' GpuFlavourTests, which builds it.
/// </summary>
public class ProviderTests
{
    [SkippableFact]
    public void Auto_picks_cpu_and_says_why_when_cuda_is_missing()
    {
        Skip.If(OnnxRuntime.HasCuda, "CUDA loads on this machine; the no-CUDA path cannot be observed.");
        var log = new List<string>();

        using var session = OnnxSession.Load(TestModels.LinearPath, new OnnxSessionOptions { Log = log.Add });

        Assert.Equal(ExecutionProviderKind.Cpu, session.ExecutionProvider);
        Assert.Equal(OnnxRuntime.CudaUnavailableReason, session.FallbackReason);
        var line = Assert.Single(log);
        Assert.Equal($"onnx: linear.onnx: {OnnxRuntime.CudaUnavailableReason}; using CPU", line);
        Assert.Contains("on CPU [auto fallback:", session.Describe(), StringComparison.Ordinal);
        var y = session.Run([
            NamedTensor.Float("x", new float[] { 1, 2, 3 }, [1, 3]),
            NamedTensor.Int64("ids", new long[1], [1]),
        ])[0];
        LinearModelTests.AssertClose(TestModels.ExpectedY([1, 2, 3]), y.Floats);
    }

    [SkippableFact]
    public void Explicit_cuda_without_cuda_is_a_clear_error()
    {
        Skip.If(OnnxRuntime.HasCuda, "CUDA loads on this machine; the no-CUDA path cannot be observed.");

        var ex = Assert.Throws<OnnxException>(() =>
            OnnxSession.Load(
                TestModels.LinearPath,
                new OnnxSessionOptions { Provider = ExecutionProviderKind.Cuda }
            )
        );

        Assert.Equal(OnnxErrorCode.EpFail, ex.ErrorCode);
        Assert.Equal(OnnxRuntime.CudaUnavailableReason, ex.NativeMessage);
        Assert.Contains("CUDA was requested", ex.Message, StringComparison.Ordinal);
        Assert.Contains("OnnxRuntimeFlavor=Gpu", ex.Message, StringComparison.Ordinal);
        Assert.Contains("linear.onnx", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Explicit_cpu_never_falls_back_and_logs_nothing()
    {
        var log = new List<string>();

        using var session = OnnxSession.Load(
            TestModels.LinearPath,
            new OnnxSessionOptions { Provider = ExecutionProviderKind.Cpu, Log = log.Add }
        );

        Assert.Equal(ExecutionProviderKind.Cpu, session.ExecutionProvider);
        Assert.Null(session.FallbackReason);
        Assert.Empty(log);
    }

    [Fact]
    public void Cuda_availability_is_consistent_with_the_provider_list()
    {
        if (!OnnxRuntime.AvailableProviders.Contains(OnnxRuntime.CudaProvider))
        {
            Assert.False(OnnxRuntime.HasCuda);
            Assert.Contains("built without", OnnxRuntime.CudaUnavailableReason, StringComparison.Ordinal);
            Assert.Contains(
                "OnnxRuntimeFlavor=Gpu",
                OnnxRuntime.CudaUnavailableReason,
                StringComparison.Ordinal
            );
        }
        Assert.Equal(OnnxRuntime.CudaUnavailableReason is null, OnnxRuntime.HasCuda);
    }
}
