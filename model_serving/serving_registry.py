"""Print the registry `make serve-kserve` and `make serve-bentoml` serve: METERS_MODEL_REGISTRY (else
./models) when it has promoted anomaly and failure models; else quick ones, trained once into
.run/serving (about 10 s) so that both targets work on a fresh clone, as `make demo` does."""

from pathlib import Path

from model_serving.samples import promoted_or_quick

QUICK_ROOT = Path(__file__).resolve().parents[1] / ".run" / "serving"

if __name__ == "__main__":
    print(promoted_or_quick(QUICK_ROOT).root)
