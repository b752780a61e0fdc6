{{/* The app's name: app.name, else the release name. */}}
{{- define "meshlite.name" -}}
{{- default .Release.Name .Values.app.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The service name in the mesh: sidecar.serviceName, else the app's name. */}}
{{- define "meshlite.serviceName" -}}
{{- default (include "meshlite.name" .) .Values.sidecar.serviceName -}}
{{- end -}}

{{- define "meshlite.labels" -}}
app: {{ include "meshlite.name" . }}
app.kubernetes.io/name: {{ include "meshlite.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "meshlite.selectorLabels" -}}
app: {{ include "meshlite.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The MeshLite sidecar container. Add it to your own Deployment's containers:
  containers:
    - name: my-app
      ...
    {{- include "meshlite.sidecar" . | nindent 4 }}
and mount the ConfigMap volume from "meshlite.volume".
*/}}
{{- define "meshlite.sidecar" -}}
- name: meshlite
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["--config", "/etc/meshlite/meshlite.json"]
  env:
    - name: POD_NAME
      valueFrom: { fieldRef: { fieldPath: metadata.name } }
    - name: POD_NAMESPACE
      valueFrom: { fieldRef: { fieldPath: metadata.namespace } }
    - name: INSTANCE_IP
      valueFrom: { fieldRef: { fieldPath: status.podIP } }
    - name: MeshLite__ServiceName
      value: {{ include "meshlite.serviceName" . | quote }}
    - name: OTEL_EXPORTER_OTLP_ENDPOINT
      value: {{ default (printf "http://jaeger-collector.%s.svc.cluster.local:4317" .Release.Namespace) .Values.sidecar.otlpEndpoint | quote }}
    - name: OTEL_EXPORTER_OTLP_PROTOCOL
      value: {{ .Values.sidecar.otlpProtocol | quote }}
    # A ConfigMap update swaps a symlink, which file-change events miss; polling sees it, so edits reload live.
    - name: DOTNET_USE_POLLING_FILE_WATCHER
      value: "true"
  ports:
    - { name: http-inbound, containerPort: 15006 }
    - { name: http-metrics, containerPort: 15090 }
  # The admin port stays on 127.0.0.1; readiness is also served on the metrics port, as Istio's agent serves it on 15020/15021.
  readinessProbe:
    httpGet: { path: /healthz/ready, port: 15090 }
    initialDelaySeconds: 1
    periodSeconds: 5
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  volumeMounts:
    - { name: meshlite-config, mountPath: /etc/meshlite, readOnly: true }
  securityContext:
    runAsUser: 1337
    runAsGroup: 1337
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: { drop: [ALL] }
{{- end -}}

{{- define "meshlite.volume" -}}
- name: meshlite-config
  configMap:
    name: {{ include "meshlite.name" . }}-meshlite
{{- end -}}
