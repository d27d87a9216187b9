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
  kind grpc:   a gRPC server (METERS_GRPC_ADDR, mTLS), native gRPC probes on the health port, a Service
  kind worker: no gRPC server; probed on /metrics, no Service, no certificate
  kind http:   the REST gateway (HTTPS); probed on /healthz, a Service
  models:      mounts the model registry
  pii:         hashes identifiers at the edge: mounts the PII key (METERS_PII_KEY_FILE)
  kafka:       a Kafka client (egress policy)
  calls:       the gRPC services it calls (service_channel(settings, settings.<name>_addr))
*/}}
{{- define "meters.catalogue" -}}
ingest:        {kind: grpc, command: [python, -m, ingest_svc.server], pii: true, kafka: true}
ingest-writer: {kind: worker, command: [python, -m, ingest_svc.writer], kafka: true, lag: [[meter-readings-writer, meter-readings], [meter-events-writer, meter-events]]}
scoring:       {kind: grpc, command: [python, -m, scoring_svc.server], models: true, kafka: true, calls: [alert], lag: [[scoring, meter-readings]]}
forecast:      {kind: grpc, command: [python, -m, forecast_svc.server], models: true, kafka: true, calls: [customer], lag: [[forecast, meter-readings]]}
customer:      {kind: grpc, command: [python, -m, customer_svc.server], models: true, pii: true, kafka: true, lag: [[customer, meter-readings]]}
alert:         {kind: grpc, command: [python, -m, alert_svc.server]}
gateway:       {kind: http, command: [/usr/local/bin/gateway], calls: [ingest, scoring, forecast, customer, alert]}
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


{{/* The Secret holding one component's certificate (tls.crt, tls.key, ca.crt); (dict "root" $ "name" component). */}}
{{- define "meters.tlsSecret" -}}
{{- $tls := .root.Values.tls }}
{{- $own := get $tls.existingSecrets .name | default $tls.existingSecret }}
{{- if $own }}
{{- $own }}
{{- else if $tls.certManager.enabled }}
{{- printf "%s-tls" (include "meters.componentName" .) }}
{{- else }}
{{- fail (printf "tls: no certificate for %s: set tls.existingSecrets.%s or tls.existingSecret, or tls.certManager.enabled (or dev.plaintext for development)" .name .name) }}
{{- end }}
{{- end }}

{{/* The projected volume of a component's certificate, key and the mesh CA (files tls.crt, tls.key, ca.crt). */}}
{{- define "meters.tlsVolume" -}}
{{- $ca := .root.Values.tls.caSecret }}
- name: tls
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ include "meters.tlsSecret" . }}
          items:
            - {key: tls.crt, path: tls.crt}
            - {key: tls.key, path: tls.key}
            {{- if not $ca.name }}
            - {key: ca.crt, path: ca.crt}
            {{- end }}
      {{- if $ca.name }}
      - secret:
          name: {{ $ca.name }}
          items:
            - {key: {{ $ca.key }}, path: ca.crt}
      {{- end }}
{{- end }}

{{- define "meters.tlsDir" -}}/etc/meters/tls{{- end }}

{{/*
Who calls whom, as YAML {edges: [{from, to, port}]}: the calls of the catalogue between enabled
components, the helm test pod to every Service, Prometheus ("prometheus") to every metrics port,
anyone ("any") to the gateway, scoring to a model server Deployment, Alertmanager to alert_svc's
webhook and Prometheus to Alertmanager (alertmanager.deploy). networkpolicy.yaml allows
exactly these; tests/test_helm.py reads them back from the policies.
*/}}
{{- define "meters.edges" -}}
{{- $components := include "meters.components" . | fromYaml }}
{{- $ports := .Values.ports }}
{{- $edges := list }}
{{- range $name, $c := $components }}
{{- range $c.calls }}
{{- if hasKey $components . }}
{{- $edges = append $edges (dict "from" $name "to" . "port" $ports.grpc) }}
{{- end }}
{{- end }}
{{- if eq $c.kind "http" }}
{{- $edges = append $edges (dict "from" "any" "to" $name "port" $ports.http) }}
{{- $edges = append $edges (dict "from" "test" "to" $name "port" $ports.http) }}
{{- else }}
{{- $edges = append $edges (dict "from" "prometheus" "to" $name "port" $ports.metrics) }}
{{- end }}
{{- if eq $c.kind "grpc" }}
{{- $edges = append $edges (dict "from" "test" "to" $name "port" $ports.grpc) }}
{{- end }}
{{- end }}
{{- $am := .Values.alertmanager }}
{{- if and $am.enabled $am.deploy (hasKey $components "alert") }}
{{- $edges = append $edges (dict "from" "alertmanager" "to" "alert" "port" $am.webhookPort) }}
{{- $edges = append $edges (dict "from" "prometheus" "to" "alertmanager" "port" $am.port) }}
{{- end }}
{{- if and .Values.modelServer.enabled (eq .Values.modelServer.kind "Deployment") (hasKey $components "scoring") (not .Values.modelServer.url) }}
{{- $edges = append $edges (dict "from" "scoring" "to" "model-server" "port" .Values.modelServer.port) }}
{{- end }}
{{- toYaml (dict "edges" $edges) }}
{{- end }}

{{/* An environment variable from a Secret's key: (list NAME secretName key). */}}
{{- define "meters.secretEnv" -}}
{{- $name := index . 0 }}
{{- if not (index . 1) }}
{{- fail (printf "%s: the Secret name is empty" $name) }}
{{- end }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
{{- end }}
