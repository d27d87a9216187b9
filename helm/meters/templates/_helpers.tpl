{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "meters.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; a release already named like the chart is not repeated. */}}
{{- define "meters.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's objects: <fullname>-<component>, within 63 characters. */}}
{{- define "meters.componentName" -}}
{{- printf "%s-%s" (include "meters.fullname" .root | trunc (int (sub 62 (len .name)))) .name | trimSuffix "-" }}
{{- end }}

{{- define "meters.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: minimal, because a Deployment's selector can never change. */}}
{{- define "meters.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meters.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .name }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* Standard labels; call with (dict "root" $ "name" component-or-""). */}}
{{- define "meters.labels" -}}
helm.sh/chart: {{ include "meters.chart" .root }}
{{ include "meters.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: {{ include "meters.name" .root }}
{{- end }}

{{- define "meters.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
What each component is; fixed by the code, so not in values.yaml.
  kind grpc:   a gRPC server (METERS_GRPC_ADDR), native gRPC probes, a Service
  kind worker: no gRPC server; probed on /metrics, no Service
  kind http:   the REST gateway; probed on /healthz, a Service
  models:      mounts the model registry
*/}}
{{- define "meters.catalogue" -}}
ingest:        {kind: grpc, command: [python, -m, ingest_svc.server]}
ingest-writer: {kind: worker, command: [python, -m, ingest_svc.writer]}
scoring:       {kind: grpc, command: [python, -m, scoring_svc.server], models: true}
forecast:      {kind: grpc, command: [python, -m, forecast_svc.server], models: true}
customer:      {kind: grpc, command: [python, -m, customer_svc.server], models: true}
alert:         {kind: grpc, command: [python, -m, alert_svc.server]}
gateway:       {kind: http, command: [/usr/local/bin/gateway]}
{{- end }}

{{/*
The enabled components as YAML {name: settings}: the catalogue entry plus .Values.defaults
overridden by .Values.services.<name>, key by key and one level into maps (a hand-written
merge: sprig's mergeOverwrite ignores false and 0, so `enabled: false` would be lost).
Use: include "meters.components" . | fromYaml
*/}}
{{- define "meters.components" -}}
{{- $out := dict }}
{{- range $name, $fixed := include "meters.catalogue" . | fromYaml }}
{{- $own := get $.Values.services $name | default dict }}
{{- if $own.enabled }}
{{- $c := deepCopy $.Values.defaults }}
{{- range $key, $value := $own }}
{{- if and (kindIs "map" $value) (kindIs "map" (get $c $key)) }}
{{- range $inner, $v := $value }}
{{- $_ := set (get $c $key) $inner $v }}
{{- end }}
{{- else }}
{{- $_ := set $c $key $value }}
{{- end }}
{{- end }}
{{- range $key, $value := $fixed }}
{{- $_ := set $c $key $value }}
{{- end }}
{{- $_ := set $out $name $c }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* The model registry volume's claim. */}}
{{- define "meters.modelClaim" -}}
{{- .Values.modelRegistry.existingClaim | default (printf "%s-models" (include "meters.fullname" .)) }}
{{- end }}

{{/* The model server's V2 base URL, as scoring calls it (modelServer.url, else the object the chart makes:
the Service, or the <name>-predictor Service KServe makes for an InferenceService). */}}
{{- define "meters.modelServerURL" -}}
{{- $name := include "meters.componentName" (dict "root" . "name" "model-server") }}
{{- if .Values.modelServer.url }}
{{- .Values.modelServer.url }}
{{- else if eq .Values.modelServer.kind "InferenceService" }}
{{- printf "http://%s-predictor.%s.svc.cluster.local" $name .Release.Namespace }}
{{- else }}
{{- printf "http://%s:%v" $name .Values.modelServer.port }}
{{- end }}
{{- end }}
