"""Every component logs one JSON object per line with the same core fields (issue 18): the Python
services through meters/log.py, the Go gateway through its slog handler (gateway/log_fields.go)."""

import json
import logging
import os
import re
import subprocess
from pathlib import Path

from meters.log import JsonFormatter

REPO = Path(__file__).resolve().parent.parent
CORE = {"ts", "level", "logger", "msg", "service"}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_python_and_gateway_lines_share_the_core_fields():
    record = logging.LogRecord("ingest_svc.writer", logging.WARNING, __file__, 1, "stored %d", (3,), None)
    python = json.loads(JsonFormatter("ingest_writer").format(record))
    # the gateway without its backends logs one error line and exits (make gateway builds it)
    run = subprocess.run([REPO / "build" / "gateway"], env={**os.environ, "GATEWAY_ADDR": "127.0.0.1:1"},
                         capture_output=True, text=True, timeout=30)
    gateway = json.loads(run.stdout.splitlines()[0])
    for line, service, level in ((python, "ingest_writer", "warning"), (gateway, "gateway", "error")):
        assert CORE <= line.keys(), line
        assert TS.match(line["ts"]) and line["level"] == level and line["service"] == service
