#!/usr/bin/env bash
# Check the Helm chart in helm/meters: `helm lint --strict` and `helm template` with the
# default values and each ci/*-values.yaml; decode every rendered object strictly against the
# Kubernetes API types, and every custom resource of a CRD in helm/kubestrict/crds (cert-manager
# Certificate, ServiceMonitor, PodMonitor) against that CRD's schema (helm/kubestrict; kubeconform
# would need JSON schemas from GitHub, which is unreachable here); and make sure
# values.schema.json rejects bad values.
# Rendered manifests go to $HELM_RENDER_DIR (default: a temporary folder), one <variant>.yaml
# each ("default", "minimal", "full", ...), for tests/test_helm.py to read.
# helm is pinned here and installed once through the Go module proxy into METERS_TOOLS_BIN
# (default ~/.cache/meters/bin); later runs are offline and take a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

HELM_VERSION=v3.22.0
# `go install` leaves helm's built-in Kubernetes version at v1.20; render for a supported one.
KUBE_VERSION=1.30.0
CHART=helm/meters
BIN="${METERS_TOOLS_BIN:-$HOME/.cache/meters/bin}"
OUT="${HELM_RENDER_DIR:-$(mktemp -d)}"
HELM="$BIN/helm"

if [[ ! -x "$HELM" || ! -e "$BIN/.helm@$HELM_VERSION" ]]; then
  command -v go >/dev/null || { echo "helm_check.sh: go is needed to install helm" >&2; exit 1; }
  echo "installing helm $HELM_VERSION into $BIN (a few minutes, once)" >&2
  mkdir -p "$BIN"
  GOBIN="$BIN" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  rm -f "$BIN/.helm@"*
  touch "$BIN/.helm@$HELM_VERSION"
fi

# kubestrict: built from helm/kubestrict (Go module cache after the first run).
KUBESTRICT=()
if command -v go >/dev/null; then
  (cd helm/kubestrict && go build -o "$BIN/kubestrict" .)
  KUBESTRICT=("$BIN/kubestrict" -crds helm/kubestrict/crds)
else
  echo "helm_check.sh: no go, so no strict decoding of the rendered objects" >&2
fi

mkdir -p "$OUT"
variants=(default)
for values in "$CHART"/ci/*-values.yaml; do
  name=${values##*/}
  variants+=("${name%-values.yaml}")
done

# What an install must give beyond values.yaml (the token issuer; ci/*-values.yaml give their own).
REQUIRED=(--set auth.issuer=https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0
          --set auth.jwksUrl=https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/discovery/v2.0/keys)

for variant in "${variants[@]}"; do
  args=(--kube-version "$KUBE_VERSION")
  if [[ $variant == default ]]; then args+=("${REQUIRED[@]}"); else args+=(-f "$CHART/ci/$variant-values.yaml"); fi
  "$HELM" lint --strict --quiet "$CHART" "${args[@]}"
  "$HELM" template meters "$CHART" --namespace meters "${args[@]}" >"$OUT/$variant.yaml"
  [[ ${#KUBESTRICT[@]} -eq 0 ]] || "${KUBESTRICT[@]}" <"$OUT/$variant.yaml" >/dev/null
  echo "ok  $variant: $(grep -c '^kind:' "$OUT/$variant.yaml") objects -> $OUT/$variant.yaml"
done

# refuse MESSAGE SETTING... : the chart must fail to render with SETTING..., saying MESSAGE.
refuse() {
  local want=$1 err
  shift
  if err=$("$HELM" template meters "$CHART" --kube-version "$KUBE_VERSION" "${REQUIRED[@]}" "$@" 2>&1 >/dev/null); then
    echo "helm_check.sh: the chart accepted $*" >&2
    exit 1
  fi
  grep -qF -- "$want" <<<"$err" || { echo "helm_check.sh: $* failed, but not with \"$want\": $err" >&2; exit 1; }
  echo "ok  refused ($want): $*"
}
# reject SETTING... : values.schema.json must refuse each of these.
reject() { refuse "schema" "$@"; }
reject --set-string services.scoring.replicas=two
reject --set services.scorring.enabled=true
reject --set kafka.bootstrap=
reject --set modelServer.kind=Knative
# Credentials only from Secrets: never as a plain value.
reject --set services.alert.env.METERS_SMTP_PASSWORD=hunter2
reject --set defaults.env.meters_pagerduty_routing_key=R0UT1NG
reject --set services.ingest.env.METERS_PG_DSN=postgresql://meters@db/meters
reject --set services.scoring.env.DATABASE_URL=postgresql://meters:hunter2@db/meters
reject --set-string alertChannels.pagerduty.routingKey=R0UT1NG
reject --set postgresql.dsn=postgresql://meters:hunter2@db/meters
reject --set pii.key=0123456789abcdef0123456789abcdef
reject --set-string dev.plaintext=yes
# The pods' hardening cannot be switched off.
reject --set podSecurityContext.runAsNonRoot=false
reject --set securityContext.readOnlyRootFilesystem=false
reject --set-json 'securityContext.capabilities={"drop":["NET_RAW"]}'
refuse "auth.issuer" --set auth.issuer=
refuse "pii.existingSecret" --set pii.existingSecret=
refuse "servicenow.credentials.name" --set alertChannels.servicenow.url=https://example.service-now.com
refuse "tls: no certificate for" --set tls.certManager.enabled=false
refuse "networkPolicy.egress.postgresql" --set networkPolicy.egress.enabled=true
reject --set kafka.securityProtocol=TLS
refuse "kafka.sasl.mechanism" --set kafka.securityProtocol=SASL_SSL
refuse "METERS_KAFKA_SASL_PASSWORD: the Secret name is empty" --set kafka.securityProtocol=SASL_SSL --set kafka.sasl.mechanism=PLAIN --set-string kafka.sasl.username=u
