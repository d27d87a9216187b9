"""The alert service: `python -m alert_svc.server`. Its API (proto/meters/alert/v1) answers
UNIMPLEMENTED until its domain logic lands; health, reflection and /metrics work."""

import asyncio

from alert_svc.config import AlertSettings
from meters import log
from meters.alert.v1 import alert_service_pb2, alert_service_pb2_grpc
from meters.unimplemented import serve_unimplemented

if __name__ == "__main__":
    settings = AlertSettings()
    log.configure("alert_svc", settings.log_level)
    asyncio.run(serve_unimplemented(settings, alert_service_pb2, alert_service_pb2_grpc, "AlertService"))
