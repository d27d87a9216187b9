# One entry point for every job. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
# KServe's model server: its own venv layered over .venv (kserve 0.21 needs pandas < 3; pyproject [tool.meters])
KSERVE_PY := .venv/kserve/bin/python
KSERVE_STAMP := .venv/kserve/.installed
PROTO_STAMP := build/.proto
PROTO_FILES := $(shell find proto/meters -name '*.proto')

.PHONY: help install proto test test-unit demo bench evaluate lint gateway jaeger helm up down clean serve-kserve serve-bentoml

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

install: $(VENV_STAMP) $(KSERVE_STAMP) $(PROTO_STAMP) ## create .venv and install the project, its tools and generated stubs

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,serving]'
	touch $@

# Only kserve and what kserve needs differently (pandas 2) are installed here; a .pth puts .venv's
# site-packages behind them, so torch, xgboost, scikit-learn and the project itself are shared.
# pip then says meters' own pin (pandas==3.1.1) is unmet in this venv: expected, and only here.
$(KSERVE_STAMP): $(VENV_STAMP)
	test -x $(KSERVE_PY) || $(PY) -m venv --without-pip .venv/kserve
	$(PY) -c 'import sysconfig; print("import site; site.addsitedir(%r)" % sysconfig.get_paths()["purelib"])' \
	  > "$$($(KSERVE_PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_meters_main_venv.pth"
	$(KSERVE_PY) -m pip install -q \
	  $$($(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["tool"]["meters"]["kserve-venv"])')
	touch $@

proto: $(PROTO_STAMP) ## generate Python stubs (and .pyi type stubs) from proto/

$(PROTO_STAMP): $(VENV_STAMP) $(PROTO_FILES)
	$(PY) -m grpc_tools.protoc -Iproto -Iproto/third_party/googleapis \
	  --python_out=. --pyi_out=. --grpc_python_out=. $(PROTO_FILES)
	mkdir -p build && touch $@

test: install gateway jaeger ## run the whole suite against real Kafka and PostgreSQL (started by the harness)
	$(PY) -m pytest -q

test-unit: install ## only the tests that need no Kafka or PostgreSQL
	$(PY) -m pytest -q -m 'not infra'

demo: install ## start the local mesh and stream a synthetic fleet through it, then report
	$(PY) -m meters.cli demo

bench: install jaeger ## benchmarks: writes bench/results/latest.json
	$(PY) -m bench.run

evaluate: install ## train every model on the synthetic fleet, then evaluate on held-out data: reports/
	$(PY) -m meters.localstack up  # PostgreSQL for the escalation timings
	$(PY) -m meters.cli train
	$(PY) -m meters.cli evaluate

# With no promoted models (a fresh clone) both serve quick ones trained once into .run/serving.
serve-kserve: install ## KServe's model server with the promoted anomaly + failure models (V2 REST :8080, gRPC :8081)
	registry=$$($(PY) -m model_serving.serving_registry) && \
	  METERS_MODEL_REGISTRY=$$registry $(KSERVE_PY) -m model_serving.kserve_server --http_port 8080 --grpc_port 8081

serve-bentoml: install ## BentoML's server with the same models on :3000 (POST /anomaly, /failure)
	registry=$$($(PY) -m model_serving.serving_registry) && METERS_MODEL_REGISTRY=$$registry \
	  BENTOML_DO_NOT_TRACK=True .venv/bin/bentoml serve model_serving.bentoml_service:MeterModels --port 3000

up: install gateway jaeger ## keep running: local stack + every service + the REST gateway + Prometheus on :9090 (state in .run/up)
	scripts/up.sh

down: ## stop exactly what `make up` started
	scripts/up.sh down

lint: install ## buf lint + buf format on proto/ (buf comes through the Go module proxy)
	scripts/lint.sh

gateway: ## build the grpc-gateway REST proxy into build/gateway
	scripts/build_gateway.sh

jaeger: ## build Jaeger v2, the local trace back end, into ~/.cache/meters/bin (once; several minutes the first time)
	scripts/jaeger.sh

helm: ## lint, render and validate the Helm chart (helm comes through the Go module proxy)
	scripts/helm_check.sh

clean: ## remove generated files and local state
	rm -rf build .run meters/*/v1
