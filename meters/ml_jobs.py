"""`meters train` and `meters evaluate` across services.

Each service with models provides `<svc>/training.py` with
`train(job: MlJob) -> dict[str, str]` (model name -> promoted version) and
`<svc>/evaluation.py` with `evaluate(job: MlJob) -> dict[str, float]`
(flat figures; plots written under job.reports_dir). Evaluation always runs
on data the models did not see: a later span of time and other meters of the
same synthetic fleet (see each evaluator's docstring).
"""

import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from meters import evaluation_report
from meters.model_registry import ModelRegistry

# meters.vee and alert_svc have no trained model, only an evaluation (VEE estimation on real households;
# escalation timings).
SERVICES_WITH_MODELS = ["scoring_svc", "forecast_svc", "customer_svc", "meters.vee", "alert_svc"]


@dataclass(frozen=True)
class MlJob:
    registry: ModelRegistry
    reports_dir: Path
    meters: int = 3000
    days: int = 21
    seed: int = 7
    quick: bool = False  # small sizes for tests
    promote: bool = True  # False: register only (the model lifecycle's jobs decide, meters/model_lifecycle)


def _modules(kind: str) -> list:
    names = [f"{svc}.{kind}" for svc in SERVICES_WITH_MODELS]
    return [importlib.import_module(n) for n in names if importlib.util.find_spec(n) is not None]


def train_all(job: MlJob) -> dict[str, str]:
    promoted: dict[str, str] = {}
    for module in _modules("training"):
        promoted.update(module.train(job))
    return promoted


def evaluate_all(job: MlJob) -> dict[str, float]:
    job.reports_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, float] = {}
    for module in _modules("evaluation"):
        figures.update(module.evaluate(job))
    merge_figures(job.reports_dir, figures)
    evaluation_report.write(job.reports_dir)
    return figures


def merge_figures(reports_dir: Path, figures: dict[str, float]) -> None:
    """Update reports/metrics.json with these figures, keeping every other key."""
    path = reports_dir / "metrics.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(figures)
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
