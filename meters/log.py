"""JSON logs to stdout, one object per line, for every service: the same fields everywhere (ts, level,
logger, msg, service; trace_id and span_id inside a traced span), extra fields from `extra={"fields": ...}`.
`configure` also sets up tracing (meters/tracing.py; off unless an OTLP endpoint is configured)."""

import json
import logging
import sys
import time

from meters import tracing


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = ""):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
        }
        ids = tracing.current_ids()
        if ids:
            entry["trace_id"], entry["span_id"] = ids
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(service: str, level: str = "INFO") -> logging.Logger:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    tracing.configure(service)
    return logging.getLogger(service)
