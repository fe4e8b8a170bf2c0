using System.Text;

namespace RealtimeSer.Grpc;

/// <summary>
/// grpc-message is percent-encoded UTF-8: bytes outside printable ASCII (0x20–0x7E) and '%' itself become
/// %XX. Decoding is lenient: malformed escapes pass through as they are, as the spec asks.
/// </summary>
public static class PercentEncoding
{
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!NeedsEncoding(value))
        {
            return value;
        }
        var bytes = Encoding.UTF8.GetBytes(value);
        var sb = new StringBuilder(bytes.Length * 3);
        foreach (var b in bytes)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(HexUpper(b >> 4)).Append(HexUpper(b & 0xF));
            }
        }
        return sb.ToString();
    }

    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }
        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (
                value[i] == '%'
                && i + 2 < value.Length
                && HexValue(value[i + 1]) is var hi and >= 0
                && HexValue(value[i + 2]) is var lo and >= 0
            )
            {
                bytes.Add((byte)(hi << 4 | lo));
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString([.. bytes]);
    }

    private static bool NeedsEncoding(string value)
    {
        foreach (var c in value)
        {
            if (c is < ' ' or > '~' or '%')
            {
                return true;
            }
        }
        return false;
    }

    private static char HexUpper(int v) => (char)(v < 10 ? '0' + v : 'A' + v - 10);

    private static int HexValue(char c) =>
        c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
}
