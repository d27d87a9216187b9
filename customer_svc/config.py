from pathlib import Path

from meters.model_registry import DEFAULT_ROOT
from meters.settings import ServiceSettings


class CustomerSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50054"
    metrics_port: int = 9104
    # Consumer group folding meter-readings into hourly usage.
    group_id: str = "customer"
    model_registry: Path = DEFAULT_ROOT

# Segmentation window: a year, so every season is in it. The plan's 90 days cannot tell the
# seasonal-variation-heavy segment from evening-peak homes unless they span a change of season
# (docs/customers.md has both figures).
SEGMENTATION_DAYS = 365

# A segmentation run's big statements (a month's hourly usage read 50,000 customers at a time, ~50 s
# each at 1.2 M; the month's summaries and the run's assignments written in one transaction each)
# outlast the services' 30 s statement_timeout: the run raises it for its own transactions only.
JOB_STATEMENT_TIMEOUT_S = 3600.0
