"""One mesh per mode (a stack of its own, so no mode sees another's topics or offsets), the same
ingest and scoring measurements in each, and the cost of one mode against another: for the
benchmarks that price a feature (security_cost.py, tracing_cost.py)."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench import ingest, scoring
from meters.demo import model_registry
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh

FIGURES = ("ingest_readings_per_s", "scoring_p99_ms", "scoring_p50_ms")


@contextlib.contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A temporary folder, with the promoted models (else small ones trained once, as `make demo` does)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        os.environ["METERS_MODEL_REGISTRY"] = str(model_registry(Path(tmp)))
        yield Path(tmp)


def measure(tmp: Path, mode: str, secure: bool = True, env: dict[str, str] | None = None) -> dict[str, float]:
    """FIGURES as <figure>_<mode>, measured on a mesh of its own."""
    with LocalStack(tmp / f"stack-{mode}") as stack, \
            Mesh(tmp / f"mesh-{mode}", stack.pg_dsn, stack.kafka_bootstrap, secure=secure) as mesh:
        mesh.start("ingest", "ingest-writer", "scoring", timeout_s=120, env=env)
        measured = {**ingest.measure(mesh), **scoring.measure(mesh)}
    print(f"   {mode}: " + ", ".join(f"{n} {measured[n]:,}" for n in FIGURES), flush=True)
    return {f"{name}_{mode}": measured[name] for name in FIGURES}


def cost(figures: dict[str, float], prefix: str, mode: str, baseline: str) -> dict[str, float]:
    """<prefix>_ingest_throughput_pct and <prefix>_scoring_{p99,p50}_pct: what `mode` costs against `baseline`."""
    out = {f"{prefix}_ingest_throughput_pct": round(
        100 * (1 - figures[f"ingest_readings_per_s_{mode}"] / figures[f"ingest_readings_per_s_{baseline}"]), 1)}
    for q in ("p99", "p50"):  # p50 is the steadier of the two on a shared box
        out[f"{prefix}_scoring_{q}_pct"] = round(
            100 * (figures[f"scoring_{q}_ms_{mode}"] / figures[f"scoring_{q}_ms_{baseline}"] - 1), 1)
    return out
