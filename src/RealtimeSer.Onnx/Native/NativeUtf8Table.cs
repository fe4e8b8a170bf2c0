using System.Runtime.InteropServices;
using System.Text;

namespace RealtimeSer.Onnx.Native;

/// <summary>
/// A <c>const char* const*</c> array and its null-terminated UTF-8 strings in one native block, built once per
/// session so <c>Run</c> passes names without marshalling. A SafeHandle so that a <c>Dispose</c> racing a
/// <c>Run</c> cannot free the names the run is still reading.
/// </summary>
internal sealed unsafe class NativeUtf8Table : SafeHandle
{
    public NativeUtf8Table(IReadOnlyList<string> strings)
        : base(0, ownsHandle: true)
    {
        Count = strings.Count;
        var tableBytes = (nuint)(Count * sizeof(nint));
        nuint total = tableBytes;
        foreach (var s in strings)
        {
            total += (nuint)Encoding.UTF8.GetByteCount(s) + 1;
        }
        // Alloc(0) may return null, which would read as an invalid handle; one spare byte avoids that.
        var block = (byte*)NativeMemory.Alloc(total + 1);
        SetHandle((nint)block);

        var table = (nint*)block;
        var cursor = block + tableBytes;
        for (var i = 0; i < Count; i++)
        {
            var s = strings[i];
            var written = Encoding.UTF8.GetBytes(s, new Span<byte>(cursor, Encoding.UTF8.GetByteCount(s)));
            cursor[written] = 0;
            table[i] = (nint)cursor;
            cursor += written + 1;
        }
    }

    public int Count { get; }

    public override bool IsInvalid => handle == 0;

    /// <summary>The pointer array; valid only while a reference on this handle is held.</summary>
    public nint* Table => (nint*)handle;

    protected override bool ReleaseHandle()
    {
        NativeMemory.Free((void*)handle);
        return true;
    }
}
