"""KServe's own model server hosting our promoted models: the process a KServe InferenceService
custom predictor runs (docs/serving.md has the YAML).

    .venv/kserve/bin/python -m model_serving.kserve_server --http_port 8080 --grpc_port 8081

Every kserve.ModelServer flag applies (`--workers`, `--enable_grpc`, ...); `--model_registry`
(default: METERS_MODEL_REGISTRY, else ./models) says where the promoted versions are. A model
with no promoted version is left out (404 on its routes); with neither, the server refuses to start.
"""

from model_serving.native_threads import one_thread_per_pool

one_thread_per_pool()  # before torch loads (model_serving/native_threads.py says why)

import argparse
import logging
from pathlib import Path

import kserve
from kserve import model_server

from meters.model_registry import DEFAULT_ROOT, ModelNotFound, ModelRegistry
from model_serving.kserve_predictor import PREDICTORS

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(parents=[model_server.parser], description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_registry", type=Path, default=DEFAULT_ROOT,
                        help="registry folder whose promoted anomaly and failure versions are served")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    registry = ModelRegistry(args.model_registry)
    predictors = [cls(registry) for cls in PREDICTORS]
    for predictor in predictors:
        try:
            predictor.load()
        except ModelNotFound as err:
            log.warning("%s not served: %s", predictor.name, err)
    kserve.ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, workers=args.workers,
                       enable_grpc=args.enable_grpc).start(predictors)


if __name__ == "__main__":
    main()
