#!/usr/bin/env bash
# `make up` / `make down`: local PostgreSQL + Kafka, every mesh service, Prometheus scraping them, Alertmanager.
#   scripts/up.sh        start (state and logs in .run/up/)
#   scripts/up.sh down   stop exactly what `up` started
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-up}" = up ]; then
  scripts/apt_need.sh prometheus prometheus  # Debian's packages, as .ci/run installs them
  scripts/apt_need.sh prometheus-alertmanager prometheus-alertmanager
fi
exec .venv/bin/python -m observability.up "${1:-up}"
