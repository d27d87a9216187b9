"""`meters train` for customer_svc: fit the segmentation on a synthetic fleet, register, promote.

K-means is unsupervised: the planted segments are not read here; evaluation.py
scores the promoted model on another fleet (other seed) against them.
"""

from customer_svc import model_io
from customer_svc.config import SEGMENTATION_DAYS
from customer_svc.features import build_features
from customer_svc.fleet_data import load_fleet
from customer_svc.model import SegmentationModel
from meters.fleet import FleetConfig
from meters.ml_jobs import MlJob


def train(job: MlJob) -> dict[str, str]:
    cfg = FleetConfig(meters=600 if job.quick else job.meters, days=14 if job.quick else SEGMENTATION_DAYS,
                      seed=job.seed)
    fleet = load_fleet(cfg)
    profiles = fleet.profiles()
    model = SegmentationModel.fit(build_features(profiles), profiles)
    version = model_io.save(job.registry, model, {}, {"meters": cfg.meters, "days": cfg.days, "seed": cfg.seed},
                            {"start": cfg.start.isoformat(), "days": str(cfg.days)})
    if job.promote:
        job.registry.promote(model_io.MODEL_NAME, version)
    return {model_io.MODEL_NAME: version}
