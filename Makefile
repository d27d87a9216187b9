# One entry point for every job. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
PROTO_STAMP := build/.proto
PROTO_FILES := $(shell find proto/meters -name '*.proto')

.PHONY: help install proto test test-unit demo bench evaluate lint gateway helm up down clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(VENV_STAMP) $(PROTO_STAMP) ## create .venv and install the project, its tools and generated stubs

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

proto: $(PROTO_STAMP) ## generate Python stubs (and .pyi type stubs) from proto/

$(PROTO_STAMP): $(VENV_STAMP) $(PROTO_FILES)
	$(PY) -m grpc_tools.protoc -Iproto -Iproto/third_party/googleapis \
	  --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO_FILES)
	mkdir -p build && touch $@

test: install gateway ## run the whole suite against real Kafka and PostgreSQL (started by the harness)
	$(PY) -m pytest -q

test-unit: install ## only the tests that need no Kafka or PostgreSQL
	$(PY) -m pytest -q -m 'not infra'

demo: install ## start the local mesh and stream a synthetic fleet through it, then report
	$(PY) -m meters.cli demo

bench: install ## benchmarks: writes bench/results/latest.json
	$(PY) -m bench.run

evaluate: install ## train every model on the synthetic fleet, then evaluate on held-out data: reports/
	$(PY) -m meters.cli train
	$(PY) -m meters.cli evaluate

up: install gateway ## keep running: local stack + every service + the REST gateway + Prometheus on :9090 (state in .run/up)
	scripts/up.sh

down: ## stop exactly what `make up` started
	scripts/up.sh down

lint: install ## buf lint + buf format on proto/ (buf comes through the Go module proxy)
	scripts/lint.sh

gateway: ## build the grpc-gateway REST proxy into build/gateway
	scripts/build_gateway.sh

helm: ## lint, render and validate the Helm chart (helm comes through the Go module proxy)
	scripts/helm_check.sh

clean: ## remove generated files and local state
	rm -rf build .run meters/*/v1
