"""The scoring service: `python -m scoring_svc.server`. Its API (proto/meters/scoring/v1) answers
UNIMPLEMENTED until its domain logic lands; health, reflection and /metrics work."""

import asyncio

from scoring_svc.config import ScoringSettings
from meters import log
from meters.scoring.v1 import scoring_service_pb2, scoring_service_pb2_grpc
from meters.unimplemented import serve_unimplemented

if __name__ == "__main__":
    settings = ScoringSettings()
    log.configure("scoring_svc", settings.log_level)
    asyncio.run(serve_unimplemented(settings, scoring_service_pb2, scoring_service_pb2_grpc, "ScoringService"))
