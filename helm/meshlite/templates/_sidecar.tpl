{{/*
The MeshLite container's fixed part, plain YAML without template actions: the one source of truth for this chart's
"meshlite.sidecar" helper and for `meshlite inject`, which carries this file in its binary and reads this block.
Both then fill in the same variable parts (image, identity, ports, drain, probes, exporter, resources, uid).
*/}}
{{- define "meshlite.sidecarBase" -}}
name: meshlite
image: meshlite:0.1.0
imagePullPolicy: IfNotPresent
ports:
  - name: http-inbound
    containerPort: 15006
    protocol: TCP
  - name: http-envoy-prom
    containerPort: 15090
    protocol: TCP
env:
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
  - name: INSTANCE_IP
    valueFrom:
      fieldRef:
        fieldPath: status.podIP
  - name: SERVICE_ACCOUNT
    valueFrom:
      fieldRef:
        fieldPath: spec.serviceAccountName
  - name: HOST_IP
    valueFrom:
      fieldRef:
        fieldPath: status.hostIP
  - name: NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
  - name: DOTNET_USE_POLLING_FILE_WATCHER
    value: "true"
startupProbe:
  httpGet:
    path: /healthz/ready
    port: 15090
  periodSeconds: 1
  timeoutSeconds: 3
  failureThreshold: 600
readinessProbe:
  httpGet:
    path: /healthz/ready
    port: 15090
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 3
resources:
  requests:
    cpu: 100m
    memory: 96Mi
  limits:
    memory: 192Mi
securityContext:
  allowPrivilegeEscalation: false
  capabilities:
    drop:
      - ALL
  privileged: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  seccompProfile:
    type: RuntimeDefault
{{- end -}}
