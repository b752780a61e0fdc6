using System.Net;
using System.Text;
using System.Text.Json;
using MeshLite.AccessLog;
using MeshLite.Hops;

namespace MeshLite.AccessLog.Tests;

public class AccessLogFormatterTests
{
    private static AccessLogEntry Entry(string path, string userAgent, string requestId) => new(
        new DateTime(2026, 12, 2, 10, 0, 0, DateTimeKind.Utc), "GET", null, path, null, "HTTP/1.1", 200, ResponseFlags.None, "via_upstream",
        0, 2, 1, 1, null, userAgent, requestId, "payment", "127.0.0.1:8080", "inbound|8080||", IPAddress.Loopback, 15006,
        IPAddress.Loopback, 40000, "default", default, default, false);

    [Fact]
    public void AppendText_OrdinaryValues_AreWrittenAsTheyAre()
    {
        var line = new StringBuilder();
        AccessLogFormatter.AppendText(line, Entry("/orders/42", "curl/8.5", "abc"));
        Assert.Contains("\"GET /orders/42 HTTP/1.1\" 200 - via_upstream", line.ToString());
        Assert.Contains("\"curl/8.5\" \"abc\" \"payment\"", line.ToString());
    }

    [Fact]
    public void AppendText_RetriedRequest_EndsWithTheAttemptCount_AndFlagsInEnvoysOrder()
    {
        var line = new StringBuilder();
        AccessLogFormatter.AppendText(line, Entry("/pay", "curl/8.5", "abc") with
        {
            ResponseCode = 503,
            Flags = ResponseFlags.UpstreamRetryLimitExceeded | ResponseFlags.UpstreamConnectionFailure,
            UpstreamAttemptCount = 3,
        });
        Assert.Contains("\" 503 UF,URX ", line.ToString());
        Assert.EndsWith(" - - 3\n", line.ToString());
    }

    [Theory]
    [InlineData("/a\n[2026-01-01T00:00:00.000Z] \"GET /forged HTTP/1.1\" 200", "x", "id")]
    [InlineData("/a", "evil\r\nsecond line", "id")]
    [InlineData("/a", "quote\" \"closes", "back\\slash")]
    [InlineData("/\u0000\u001b[31m", "\u007f", "tab\there")]
    public void AppendText_CallerControlledText_CannotAddALineOrCloseAField(string path, string userAgent, string requestId)
    {
        var line = new StringBuilder();
        AccessLogFormatter.AppendText(line, Entry(path, userAgent, requestId));
        var text = line.ToString();

        Assert.Equal(1, text.Count(c => c == '\n'));
        Assert.EndsWith("\n", text);
        Assert.DoesNotContain(text[..^1], c => c < 0x20 || c == 0x7f);

        // Every quoted field still closes where the format says: 7 quoted fields, so 14 unescaped quotes.
        var unescapedQuotes = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == '"')
            {
                unescapedQuotes++;
            }
        }

        Assert.Equal(14, unescapedQuotes);
    }

    [Fact]
    public void WriteJson_CallerControlledText_StaysOneValidObject()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            AccessLogFormatter.WriteJson(json, Entry("/a\n\"}{", "ua\r\n\"", "id\\"));
        }

        var text = Encoding.UTF8.GetString(buffer.ToArray());
        Assert.DoesNotContain('\n', text);
        using var document = JsonDocument.Parse(text);
        Assert.Equal("/a\n\"}{", document.RootElement.GetProperty("path").GetString());
        Assert.Equal("ua\r\n\"", document.RootElement.GetProperty("user_agent").GetString());
    }
}
