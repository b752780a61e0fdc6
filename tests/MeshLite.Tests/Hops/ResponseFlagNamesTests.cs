using MeshLite.Hops;

namespace MeshLite.Hops.Tests;

public class ResponseFlagNamesTests
{
    [Fact]
    public void Format_None_IsDash() => Assert.Equal("-", ResponseFlagNames.Format(ResponseFlags.None));

    [Fact]
    public void Format_Single_IsShortName()
    {
        Assert.Equal("UF", ResponseFlagNames.Format(ResponseFlags.UpstreamConnectionFailure));
        Assert.Equal("NR", ResponseFlagNames.Format(ResponseFlags.NoRouteFound));
    }

    [Fact]
    public void Format_Several_JoinsInEnvoyOrder() =>
        Assert.Equal("UT,DC", ResponseFlagNames.Format(ResponseFlags.DownstreamConnectionTermination | ResponseFlags.UpstreamRequestTimeout));
}
