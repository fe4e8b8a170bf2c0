using System.Buffers;

namespace RealtimeSer.Core.Pipeline;

/// <summary>
/// The engine's own buffer pool for window samples and batch inputs. The shared pool keeps up to dozens of
/// arrays per size per core for the life of the process, so a client that asks for long windows once (or a
/// fuzzer) would leave hundreds of megabytes parked there; this pool keeps a few arrays per size up to 4 MB
/// and lets larger ones go back to the GC.
/// </summary>
internal static class EnginePool
{
    public static ArrayPool<float> Floats { get; } =
        ArrayPool<float>.Create(maxArrayLength: 1 << 20, maxArraysPerBucket: 16);
}
