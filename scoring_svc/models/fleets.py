"""Which synthetic fleets scoring_svc's models train and are evaluated on (shared by training and evaluation).

Anomalies: one fleet (job size and seed); models fit on the earlier span of half the
transformers' meters, evaluation uses the later span of the other half.
Failures: at the default rate (0.004 per transformer-week) a 3,000-meter fleet plants about
one failure, too few to learn or to measure. The failure fleets are 5x larger (15,000 meters,
~470 transformers over 21 days: about 65-75 failures each) and plant failures (incipient faults)
and recoverable-stress decoys at 0.05 per transformer-week each (the default 1:1 mix kept);
evaluation uses a fleet of another seed (other transformers, other weather).
"""

from meters.fleet import FleetConfig
from meters.ml_jobs import MlJob

FAILURE_RATE_PER_WEEK = 0.05
EVALUATION_SEED_OFFSET = 1000
FAILURE_FLEET_SCALE = 5


def anomaly_fleet(job: MlJob) -> FleetConfig:
    if job.quick:
        return FleetConfig(meters=min(job.meters, 2000), days=min(job.days, 10), seed=job.seed)
    return FleetConfig(meters=job.meters, days=job.days, seed=job.seed)


def failure_fleet(job: MlJob, evaluation: bool = False) -> FleetConfig:
    seed = job.seed + (EVALUATION_SEED_OFFSET if evaluation else 0)
    meters, days = (min(job.meters * 4, 3000), min(job.days, 9)) if job.quick else (job.meters * FAILURE_FLEET_SCALE, job.days)
    return FleetConfig(meters=meters, days=days, seed=seed, failure_rate_per_week=FAILURE_RATE_PER_WEEK,
                       degradation_only_rate_per_week=FAILURE_RATE_PER_WEEK)
