"""What the perimeter costs: ingest throughput and scoring latency with TLS, mTLS and token checks
on (the default) beside the same mesh in plain-text development mode, on one machine in one run.

Figures: <figure>_tls_auth and <figure>_plaintext for ingest_readings_per_s, scoring_p99_ms and
scoring_p50_ms, and security_cost_* ratios (goal: under 10 % cost). Each mode gets a stack of its
own, so neither sees the other's topics or offsets. Models: the promoted ones, else small ones
trained once (as `make demo` does).
"""

import os
import tempfile
from pathlib import Path

from bench import ingest, scoring
from meters.demo import model_registry
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh

FIGURES = ("ingest_readings_per_s", "scoring_p99_ms", "scoring_p50_ms")


def run() -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-security-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        os.environ["METERS_MODEL_REGISTRY"] = str(model_registry(Path(tmp)))
        for mode, secure in (("tls_auth", True), ("plaintext", False)):
            with LocalStack(Path(tmp) / f"stack-{mode}") as stack, \
                    Mesh(Path(tmp) / f"mesh-{mode}", stack.pg_dsn, stack.kafka_bootstrap, secure=secure) as mesh:
                mesh.start("ingest", "ingest-writer", "scoring", timeout_s=120)
                measured = {**ingest.measure(mesh), **scoring.measure(mesh)}
            for name in FIGURES:
                figures[f"{name}_{mode}"] = measured[name]
            print(f"   {mode}: " + ", ".join(f"{n} {measured[n]:,}" for n in FIGURES), flush=True)
    figures["security_cost_ingest_throughput_pct"] = round(
        100 * (1 - figures["ingest_readings_per_s_tls_auth"] / figures["ingest_readings_per_s_plaintext"]), 1)
    for q in ("p99", "p50"):  # p50 is the steadier of the two on a shared box
        figures[f"security_cost_scoring_{q}_pct"] = round(
            100 * (figures[f"scoring_{q}_ms_tls_auth"] / figures[f"scoring_{q}_ms_plaintext"] - 1), 1)
    return figures
