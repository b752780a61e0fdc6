namespace MeshLite.IntegrationTests.Common;

/// <summary>Polls a condition until it holds, failing with what was awaited once the deadline passes.</summary>
public static class Eventually
{
    private static readonly TimeSpan _deadline = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan _interval = TimeSpan.FromMilliseconds(10);

    public static Task Until(Func<bool> condition, string what) => Until(() => Task.FromResult(condition()), what);

    public static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + _deadline;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
            await Task.Delay(_interval);
        }
    }
}
