using System.Text;

namespace RealtimeSer.Onnx.Native;

internal static class Utf8
{
    /// <summary>A null-terminated UTF-8 copy for one-off calls at load time (never on the Run path).</summary>
    public static byte[] Z(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }
}
