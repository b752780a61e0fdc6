using k8s.Models;

namespace MeshLite.Tests.Injection;

/// <summary>
/// The Pod Security "restricted" checks (pod-security-admission's check_*.go) over a pod spec: what the admission
/// controller would refuse, one message per finding.
/// </summary>
public static class PodSecurity
{
    private static readonly HashSet<string> _allowedVolumes =
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    public static List<string> RestrictedViolations(V1PodSpec pod)
    {
        var findings = new List<string>();
        var podContext = pod.SecurityContext;
        foreach (var c in (pod.InitContainers ?? []).Concat(pod.Containers))
        {
            var sc = c.SecurityContext;
            if (sc?.AllowPrivilegeEscalation != false)
            {
                findings.Add($"{c.Name}: allowPrivilegeEscalation must be false");
            }

            if (sc?.Privileged == true)
            {
                findings.Add($"{c.Name}: privileged");
            }

            if (sc?.RunAsNonRoot == false || (sc?.RunAsNonRoot != true && podContext?.RunAsNonRoot != true))
            {
                findings.Add($"{c.Name}: runAsNonRoot must be true on the pod or the container");
            }

            if (sc?.RunAsUser == 0 || (sc?.RunAsUser is null && podContext?.RunAsUser == 0))
            {
                findings.Add($"{c.Name}: runAsUser 0");
            }

            if (sc?.Capabilities?.Drop?.Contains("ALL") != true)
            {
                findings.Add($"{c.Name}: capabilities.drop must contain ALL");
            }

            if (sc?.Capabilities?.Add?.Any(a => a != "NET_BIND_SERVICE") == true)
            {
                findings.Add($"{c.Name}: adds capabilities");
            }

            var seccomp = sc?.SeccompProfile?.Type ?? podContext?.SeccompProfile?.Type;
            if (seccomp is not ("RuntimeDefault" or "Localhost"))
            {
                findings.Add($"{c.Name}: seccompProfile must be RuntimeDefault or Localhost");
            }
        }

        foreach (var volume in pod.Volumes ?? [])
        {
            var source = volume.ConfigMap is not null ? "configMap" : volume.Secret is not null ? "secret" : volume.EmptyDir is not null ? "emptyDir"
                : volume.Projected is not null ? "projected" : volume.DownwardAPI is not null ? "downwardAPI" : volume.PersistentVolumeClaim is not null ? "persistentVolumeClaim"
                : volume.Csi is not null ? "csi" : volume.Ephemeral is not null ? "ephemeral" : "other";
            if (!_allowedVolumes.Contains(source))
            {
                findings.Add($"volume {volume.Name}: {source} is not allowed");
            }
        }

        if (pod.HostNetwork == true || pod.HostPID == true || pod.HostIPC == true)
        {
            findings.Add("host namespaces");
        }

        return findings;
    }
}
