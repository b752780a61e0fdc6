{{/* The app's name: app.name, else the release name. */}}
{{- define "meshlite.name" -}}
{{- default .Release.Name .Values.app.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The service name in the mesh: sidecar.serviceName, else the app's name. */}}
{{- define "meshlite.serviceName" -}}
{{- default (include "meshlite.name" .) .Values.sidecar.serviceName -}}
{{- end -}}

{{/* The namespace registry services default to: namespace, else the release's. */}}
{{- define "meshlite.namespace" -}}
{{- default .Release.Namespace .Values.namespace -}}
{{- end -}}

{{- define "meshlite.labels" -}}
app: {{ include "meshlite.name" . }}
app.kubernetes.io/name: {{ include "meshlite.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{- define "meshlite.selectorLabels" -}}
app: {{ include "meshlite.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Whether the sidecar is a native one (an init container with restartPolicy: Always, Kubernetes 1.29+): sidecar.nativeSidecar
true or false, or auto from the cluster's version (`helm template` assumes one: pass --kube-version).
  {{ include "meshlite.native" (dict "root" $ "values" .Values.meshlite) }}  →  "true" or "false"
*/}}
{{- define "meshlite.native" -}}
{{- $mode := toString .values.sidecar.nativeSidecar -}}
{{- if eq $mode "auto" -}}
{{- semverCompare ">=1.29.0-0" .root.Capabilities.KubeVersion.Version -}}
{{- else -}}
{{- eq $mode "true" -}}
{{- end -}}
{{- end -}}

{{/*
The OTLP endpoint spans go to: sidecar.otlpEndpoint, else this release's trial Jaeger when jaeger.enabled, else none
(spans stay in MeshLite's /debug/traces).
*/}}
{{- define "meshlite.otlpEndpoint" -}}
{{- $v := .values -}}
{{- if $v.sidecar.otlpEndpoint -}}
{{- $v.sidecar.otlpEndpoint -}}
{{- else if $v.jaeger.enabled -}}
{{- printf "http://%s-jaeger-collector.%s.svc.%s:4317" .root.Release.Name .root.Release.Namespace $v.clusterDomain -}}
{{- end -}}
{{- end -}}

{{/*
The MeshLite container, for any chart: the fixed part from "meshlite.sidecarBase" (_sidecar.tpl, which `meshlite inject`
carries too) plus what this release sets. Pass this chart's values shape (as a subchart: .Values.meshlite):
  {{- $ctx := dict "root" $ "values" .Values.meshlite "workload" "my-app" "configMap" "my-app-meshlite" }}
  {{- if eq (include "meshlite.native" $ctx) "true" }}
  initContainers:
    {{- include "meshlite.sidecar" $ctx | nindent 4 }}
  {{- end }}
Optional keys: "configMap" (a ConfigMap with meshlite.json, mounted from the "meshlite-config" volume: see
"meshlite.volumes"), "istioConfigMap" (a ConfigMap of Istio resources, mounted from the "meshlite-istio" volume: see
"meshlite.istioVolumes"), "appProbes" (the "resolved" half of "meshlite.rewriteProbes"), "version".
*/}}
{{- define "meshlite.sidecar" -}}
{{- $v := .values -}}
{{- $s := $v.sidecar -}}
{{- $c := include "meshlite.sidecarBase" . | fromYaml -}}
{{- $native := eq (include "meshlite.native" .) "true" -}}
{{- $tag := default (last (splitList ":" $c.image)) $v.image.tag -}}
{{- $_ := set $c "image" (printf "%s:%s" $v.image.repository $tag) -}}
{{- $_ := set $c "imagePullPolicy" $v.image.pullPolicy -}}
{{- $args := list -}}
{{- $mounts := list -}}
{{- if .configMap -}}
{{- $args = concat $args (list "--config" "/etc/meshlite/meshlite.json") -}}
{{- $mounts = append $mounts (dict "name" "meshlite-config" "mountPath" "/etc/meshlite" "readOnly" true) -}}
{{- end -}}
{{- if .istioConfigMap -}}
{{- $args = concat $args (list "--istio" "/etc/meshlite-istio") -}}
{{- $mounts = append $mounts (dict "name" "meshlite-istio" "mountPath" "/etc/meshlite-istio" "readOnly" true) -}}
{{- end -}}
{{- if $args -}}
{{- $_ := set $c "args" $args -}}
{{- $_ := set $c "volumeMounts" $mounts -}}
{{- end -}}
{{- $grace := int (default 30 .gracePeriodSeconds) -}}
{{- $drain := 0 -}}
{{- if not (kindIs "invalid" $s.drainSeconds) -}}
{{- $drain = int $s.drainSeconds -}}
{{- if ge $drain $grace -}}
{{- fail (printf "sidecar.drainSeconds (%d) must be shorter than the pod's terminationGracePeriodSeconds (%d)" $drain $grace) -}}
{{- end -}}
{{- else if not $native -}}
{{- $drain = sub $grace 5 | max 0 | min 5 -}}
{{- end -}}
{{- $env := $c.env -}}
{{- $env = append $env (dict "name" "MeshLite__ServiceName" "value" (default .workload $s.serviceName)) -}}
{{- $env = append $env (dict "name" "MeshLite__ServicePort" "value" (toString (int $s.servicePort))) -}}
{{- $env = append $env (dict "name" "MeshLite__Inbound__AppPort" "value" (toString (int $s.appPort))) -}}
{{- $env = append $env (dict "name" "MeshLite__ClusterDomain" "value" $v.clusterDomain) -}}
{{- $env = append $env (dict "name" "MeshLite__Workload" "value" .workload) -}}
{{- if .version -}}
{{- $env = append $env (dict "name" "MeshLite__Version" "value" .version) -}}
{{- end -}}
{{- $env = append $env (dict "name" "MeshLite__TerminationDrainDuration" "value" (printf "%02d:%02d:%02d" (div $drain 3600) (mod (div $drain 60) 60) (mod $drain 60))) -}}
{{- if .appProbes -}}
{{- $env = append $env (dict "name" "MeshLite__AppProbes" "value" (toJson .appProbes)) -}}
{{- end -}}
{{- if .istioConfigMap -}}
{{- with $v.istio -}}
{{- $env = append $env (dict "name" "MeshLite__Istio__RootNamespace" "value" (default "istio-system" .rootNamespace)) -}}
{{- range $label, $value := .labels -}}
{{- $env = append $env (dict "name" (printf "MeshLite__Istio__Labels__%s" $label) "value" $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with include "meshlite.otlpEndpoint" . -}}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_ENDPOINT" "value" .) -}}
{{- $env = append $env (dict "name" "OTEL_EXPORTER_OTLP_PROTOCOL" "value" $s.otlpProtocol) -}}
{{- end -}}
{{- $_ := set $c "env" $env -}}
{{- if $native -}}
{{- $_ := set $c "restartPolicy" "Always" -}}
{{- else -}}
{{- $_ := set $c "lifecycle" (dict "postStart" (dict "exec" (dict "command" (list "/app/MeshLite" "wait" "--timeout" "60s")))) -}}
{{- end -}}
{{- if $s.resources -}}
{{- $_ := set $c "resources" $s.resources -}}
{{- end -}}
{{- if not (kindIs "invalid" $s.runAsUser) -}}
{{- $_ := set $c.securityContext "runAsUser" (int64 $s.runAsUser) -}}
{{- $_ := set $c.securityContext "runAsGroup" (int64 $s.runAsUser) -}}
{{- end -}}
{{- list $c | toYaml -}}
{{- end -}}

{{/*
An app container's HTTP and TCP probes moved onto MeshLite's metrics port, as `meshlite inject` (and Istio's injector)
moves them: the kubelet probes the pod's IP, and an app bound to 127.0.0.1 answers only its sidecar.
  {{- $rw := include "meshlite.rewriteProbes" (dict "name" "app" "container" .Values.app) | fromYaml }}
  {{- with $rw.probes.readinessProbe }} readinessProbe: {{- toYaml . | nindent 4 }} {{- end }}
and pass $rw.resolved as "appProbes" to "meshlite.sidecar".
*/}}
{{- define "meshlite.rewriteProbes" -}}
{{- $probes := dict -}}
{{- $resolved := dict -}}
{{- range $field, $suffix := dict "readinessProbe" "readyz" "livenessProbe" "livez" "startupProbe" "startupz" -}}
{{- with index $.container $field -}}
{{- $p := deepCopy . -}}
{{- $kind := "" -}}
{{- if $p.httpGet -}}{{- $kind = "httpGet" -}}{{- else if $p.tcpSocket -}}{{- $kind = "tcpSocket" -}}{{- end -}}
{{- if $kind -}}
{{- $h := index $p $kind -}}
{{- $port := $h.port -}}
{{- if kindIs "string" $port -}}
{{- range $.container.ports -}}{{- if eq .name $h.port -}}{{- $port = .containerPort -}}{{- end -}}{{- end -}}
{{- if kindIs "string" $port -}}{{- fail (printf "%s %s: port %q names none of the container's ports" $.name $field $port) -}}{{- end -}}
{{- end -}}
{{- $target := dict "port" (int $port) -}}
{{- if eq $kind "httpGet" -}}
{{- $_ := set $target "path" (default "/" $h.path) -}}
{{- with $h.scheme -}}{{- $_ := set $target "scheme" . -}}{{- end -}}
{{- with $h.httpHeaders -}}{{- $_ := set $target "httpHeaders" . -}}{{- end -}}
{{- end -}}
{{- $entry := dict $kind $target -}}
{{- with $p.timeoutSeconds -}}{{- $_ := set $entry "timeoutSeconds" (int .) -}}{{- end -}}
{{- $path := printf "/app-health/%s/%s" $.name $suffix -}}
{{- $_ := set $resolved $path $entry -}}
{{- $_ := unset $p $kind -}}
{{- $_ := set $p "httpGet" (dict "path" $path "port" 15090) -}}
{{- end -}}
{{- $_ := set $probes $field $p -}}
{{- end -}}
{{- end -}}
{{- dict "probes" $probes "resolved" $resolved | toYaml -}}
{{- end -}}

{{/*
The app containers' proxy variables: their calls go out through MeshLite; loopback (in every spelling) and the API server
do not, and in-mesh names (.svc, .cluster.local) stay out of NO_PROXY, or those calls would bypass the sidecar.
*/}}
{{- define "meshlite.proxyEnv" -}}
{{- $noProxy := "localhost,127.0.0.1,::1,[::1],$(KUBERNETES_SERVICE_HOST)" -}}
{{- list (dict "name" "HTTP_PROXY" "value" "http://127.0.0.1:15001") (dict "name" "http_proxy" "value" "http://127.0.0.1:15001") (dict "name" "NO_PROXY" "value" $noProxy) (dict "name" "no_proxy" "value" $noProxy) | toYaml -}}
{{- end -}}

{{/* The volume the sidecar's Istio resources are mounted from; pass the ConfigMap's name. */}}
{{- define "meshlite.istioVolumes" -}}
- name: meshlite-istio
  configMap:
    name: {{ . }}
{{- end -}}

{{/* The volume the sidecar's configuration is mounted from; pass the ConfigMap's name. */}}
{{- define "meshlite.volumes" -}}
- name: meshlite-config
  configMap:
    name: {{ . }}
{{- end -}}

{{/* The ConfigMap of Istio resources this release mounts: the existing one named in values, this chart's own, or none (""). */}}
{{- define "meshlite.istioConfigMap" -}}
{{- if .Values.istio.existingConfigMap -}}
{{- .Values.istio.existingConfigMap -}}
{{- else if .Values.istio.resources -}}
{{- printf "%s-meshlite-istio" (include "meshlite.name" .) -}}
{{- end -}}
{{- end -}}
