using System.Text;
using System.Text.Json;

namespace RealtimeSer.Cli;

/// <summary>One JSON object on one line, as the commands' <c>--json</c> outputs print it.</summary>
internal static class JsonLine
{
    public static string Of(Action<Utf8JsonWriter> fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            fields(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
