"""Our trained models in KServe's and BentoML's own model servers.

    python -m model_serving.kserve_server --http_port 8080 --grpc_port 8081   # Open Inference Protocol V2 (and V1)
    bentoml serve model_serving.bentoml_service:MeterModels --port 3000

Both host the registry's promoted `anomaly` and `failure` models (METERS_MODEL_REGISTRY) through
model_serving.served, which calls the same scoring_svc.models code the scoring service runs
in-process; model_serving.columns is the one request decoder and response encoder they share.
KServe runs from its own venv (.venv/kserve, see pyproject.toml); docs/serving.md has the rest.
"""
