using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace MeshLite.IntegrationTests.Common;

/// <summary>
/// Debian's Chromium, headless, as the machine's probe starts it (no sandbox as root, no background networking), driven
/// over the DevTools protocol: the page is a live Blazor app, so its text is read once it has rendered, not at load.
/// </summary>
internal static class HeadlessChromium
{
    public static async Task<string> RenderedTextAsync(string url, IReadOnlyCollection<string> expected, TimeSpan timeout)
    {
        var chromium = RequiredTools.Chromium ?? throw new InvalidOperationException(RequiredTools.SkipReason("Chromium", "chromium"));
        var profile = Directory.CreateTempSubdirectory("meshlite-chromium-");
        var port = ProxyTests.FreePort();
        var start = new ProcessStartInfo(chromium)
        {
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile.FullName}",
                $"--remote-debugging-port={port}", "--remote-allow-origins=*", url,
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient();
            var deadline = DateTime.UtcNow + timeout;
            string? socketUrl = null;
            while (socketUrl is null)
            {
                try
                {
                    using var targets = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"));
                    socketUrl = targets.RootElement.EnumerateArray().Where(t => t.GetProperty("type").GetString() == "page")
                        .Select(t => t.GetProperty("webSocketDebuggerUrl").GetString()).FirstOrDefault();
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                }

                if (socketUrl is null)
                {
                    Assert.True(DateTime.UtcNow < deadline, "Chromium's DevTools endpoint did not come up");
                    await Task.Delay(200);
                }
            }

            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri(socketUrl), CancellationToken.None);
            var text = "";
            for (var id = 1; DateTime.UtcNow < deadline; id++)
            {
                text = await EvaluateAsync(socket, id, "document.body ? document.body.innerText : ''");
                if (expected.All(e => text.Contains(e, StringComparison.Ordinal)))
                {
                    break;
                }

                await Task.Delay(500);
            }

            return text;
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            profile.Delete(recursive: true);
        }
    }

    private static async Task<string> EvaluateAsync(ClientWebSocket socket, int id, string expression)
    {
        var request = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["id"] = id,
            ["method"] = "Runtime.evaluate",
            ["params"] = new Dictionary<string, object> { ["expression"] = expression, ["returnByValue"] = true },
        });
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[1 << 20];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, CancellationToken.None);
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            using var reply = JsonDocument.Parse(message.ToArray());
            if (reply.RootElement.TryGetProperty("id", out var replyId) && replyId.GetInt32() == id)
            {
                return reply.RootElement.GetProperty("result").GetProperty("result").TryGetProperty("value", out var value) ? value.GetString() ?? "" : "";
            }
        }
    }
}
