namespace MeshLite.Hops;

/// <summary>The gRPC status codes that mean the server failed (Unknown, DeadlineExceeded, ResourceExhausted, Unimplemented, Internal, Unavailable, DataLoss).</summary>
internal static class GrpcStatusCodes
{
    public static bool IsServerError(string? status) => status is "2" or "4" or "8" or "12" or "13" or "14" or "15";
}
