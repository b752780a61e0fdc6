namespace MeshLite.Tests.Injection;

/// <summary>Real-shaped manifests, one per workload kind, written as people write them (flow maps, comments, named ports).</summary>
internal static class Manifests
{
    public const string Deployment = """
        # The shop's API.
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: shop
          namespace: store
          labels: {app: shop}
        spec:
          replicas: 2
          strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
          selector:
            matchLabels: {app: shop}
          template:
            metadata:
              labels:
                app: shop
                version: v2
              annotations:
                team: "payments"
            spec:
              serviceAccountName: shop
              terminationGracePeriodSeconds: 20
              securityContext:
                runAsNonRoot: true
                seccompProfile: {type: RuntimeDefault}
              initContainers:
                - name: migrate
                  image: example/shop-migrate:1.4
                  securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
              containers:
                - name: web
                  image: "example/shop:1.4"
                  ports:
                    - name: http
                      containerPort: 3000
                    - name: metrics
                      containerPort: 9100
                  readinessProbe:
                    httpGet: {path: /ready, port: http, httpHeaders: [{name: X-Probe, value: kubelet}]}
                    periodSeconds: 3
                    timeoutSeconds: 2
                  livenessProbe:
                    tcpSocket:
                      port: 3000
                  startupProbe:
                    exec:
                      command: [cat, /tmp/started]
                  env:
                    - name: ENABLED
                      value: "true"
                  securityContext:
                    allowPrivilegeEscalation: false
                    capabilities: {drop: [ALL]}
                  futureField: {kept: yes}
                - name: worker
                  image: example/shop-worker:1.4
                  securityContext:
                    allowPrivilegeEscalation: false
                    capabilities: {drop: [ALL]}
              volumes:
                - name: cache
                  emptyDir: {}
        """;

    public const string Service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: shop   # the name callers use
        spec:
          selector: {app: shop}
          ports: [{name: http, port: 80, targetPort: 15006}]
        """;

    public const string CustomResource = """
        apiVersion: argoproj.io/v1alpha1
        kind: Rollout
        metadata:
          name: shop-canary
        spec:
          template:
            spec:
              containers:
                - name: web
                  image: example/shop:1.5
          strategy:
            canary: {steps: [{setWeight: 20}, {pause: {}}]}
        """;

    public const string Pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: debug
          labels: {app.kubernetes.io/name: debug-shell}
        spec:
          containers:
            - name: shell
              image: busybox:1.36
              command: [sleep, "3600"]
        """;

    public const string StatefulSet = """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: ledger}
        spec:
          serviceName: ledger
          selector: {matchLabels: {app: ledger}}
          template:
            metadata: {labels: {app: ledger}}
            spec:
              containers:
                - name: ledger
                  image: example/ledger:3
                  ports: [{containerPort: 7000}]
          volumeClaimTemplates:
            - metadata: {name: data}
              spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
        """;

    public const string DaemonSet = """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: node-agent}
        spec:
          selector: {matchLabels: {app: node-agent}}
          template:
            metadata: {labels: {app: node-agent}}
            spec:
              containers: [{name: agent, image: example/agent:1, ports: [{containerPort: 9000, protocol: TCP}]}]
        """;

    public const string ReplicaSet = """
        apiVersion: apps/v1
        kind: ReplicaSet
        metadata: {name: frontend-7d9}
        spec:
          replicas: 1
          selector: {matchLabels: {app: frontend}}
          template:
            metadata: {labels: {app: frontend}}
            spec:
              containers: [{name: frontend, image: example/frontend:2, ports: [{containerPort: 8080}]}]
        """;

    public const string Job = """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: nightly-report}
        spec:
          backoffLimit: 2
          template:
            metadata:
              annotations: {sidecar.meshlite.io/appPort: "8081"}
            spec:
              restartPolicy: Never
              containers:
                - name: report
                  image: example/report:5
                  args: [--since, 24h]
        """;

    public const string CronJob = """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: hourly-sync}
        spec:
          schedule: "0 * * * *"
          jobTemplate:
            metadata:
              labels: {team: sync}
            spec:
              template:
                metadata:
                  labels: {app: sync}
                spec:
                  restartPolicy: OnFailure
                  containers: [{name: sync, image: example/sync:1, ports: [{containerPort: 8080}]}]
        """;

    public const string List = """
        apiVersion: v1
        kind: List
        items:
          - apiVersion: apps/v1
            kind: Deployment
            metadata: {name: cart}
            spec:
              selector: {matchLabels: {app: cart}}
              template:
                metadata: {labels: {app: cart}}
                spec:
                  containers: [{name: cart, image: example/cart:1, ports: [{containerPort: 8080}]}]
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: cart-settings}
            data: {currency: EUR}
        """;

    public const string OptedOut = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: legacy-batch}
        spec:
          selector: {matchLabels: {app: legacy-batch}}
          template:
            metadata:
              labels: {app: legacy-batch}
              annotations: {sidecar.meshlite.io/inject: "false"}
            spec:
              containers: [{name: batch, image: example/batch:1}]
        """;

    public static string Join(params string[] documents) => string.Join("\n---\n", documents) + "\n";
}
