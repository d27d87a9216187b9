"""NEM12 over REST through the real grpc-gateway: POST /api/v1/nem12:import (the whole file, base64)
and GET /api/v1/nem12:export (the server stream, one JSON object a chunk). Days of the last week:
the session mesh keeps the default 24-month retention."""

import base64
import json
import time
from datetime import datetime, timedelta

import pytest

from meters.nem12 import Block, parse
from meters.nem12.nemtime import NEM_TZ, day_start_unix_s
from tests.nem12_files import day, nem12

pytestmark = pytest.mark.infra
METERS = {"RESTNEM001": 7101, "RESTNEM002": 7102}
TODAY = datetime.now(NEM_TZ).date()
DAYS = [(TODAY - timedelta(days=k)).strftime("%Y%m%d") for k in (3, 2)]


def rest_file() -> bytes:
    records = [f"100,NEM12,{DAYS[-1]}2300,MDP1,RET1"]
    for i, nmi in enumerate(METERS):
        records += [f"200,{nmi},E1,E1,E1,,M1,kWh,30,", *(day(d, [0.1 * (i + 1)] * 48) for d in DAYS)]
    return nem12(*records, "900")


def test_a_nem12_file_is_imported_over_rest_and_exported_back(gateway, mesh):
    status, created = gateway.call("/api/v1/meters:batchCreate", "POST", {
        "meters": [{"meter_id": mid, "meter_number": nmi} for nmi, mid in METERS.items()]})
    assert status == 200, created

    body = {"file_name": "rest.csv", "content": base64.b64encode(rest_file()).decode()}
    status, reply = gateway.call("/api/v1/nem12:import", "POST", body)
    assert status == 200, reply
    summary = reply["summary"]
    assert summary["file"] == "rest.csv" and summary["version"] == "NEM12"
    assert int(summary["nmis"]) == 2 and int(summary["days"]) == 4 and int(summary["intervals"]) == 192
    assert int(summary["summary"]["accepted"]) == 192 and int(summary["summary"].get("rejected", 0)) == 0
    assert int(summary.get("problem_count", 0)) == 0 and not summary.get("truncated")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, page = gateway.call("/api/v1/meters/7102/readings?page_size=100")
        if status == 200 and len(page.get("readings", [])) == 96:
            break
        time.sleep(0.2)
    assert {float(r["consumption_kwh"]) for r in page["readings"]} == {0.2}

    start, end = day_start_unix_s(DAYS[0].encode()) + 1, day_start_unix_s(DAYS[-1].encode()) + 86_400 + 1
    status, streamed = gateway.call(f"/api/v1/nem12:export?nmi=RESTNEM002&start_time_unix_s={start}"
                                    f"&end_time_unix_s={end}")
    assert status == 200, streamed
    # A server stream over REST: one {"result": {"chunk": base64}} object a line (RestGateway parses a
    # one-chunk answer as JSON; several lines come back "raw").
    objects = [json.loads(line) for line in streamed["raw"].splitlines() if line.strip()] if "raw" in streamed \
        else [streamed]
    data = b"".join(base64.b64decode(o["result"]["chunk"]) for o in objects)
    blocks = [b for b in parse(data) if isinstance(b, Block)]
    assert [(b.nmi, b.interval_date) for b in blocks] == [("RESTNEM002", d) for d in DAYS]
    assert all((b.values == 0.2).all() for b in blocks)


def test_a_rest_import_without_a_file_name_or_the_role_is_refused(gateway, mesh):
    content = base64.b64encode(rest_file()).decode()
    status, body = gateway.call("/api/v1/nem12:import", "POST", {"content": content})
    assert status == 400 and body["code"] == 3
    fields = [v["field"] for d in body["details"] if "field_violations" in d for v in d["field_violations"]]
    assert fields == ["file_name"]
    status, body = gateway.call("/api/v1/nem12:import", "POST", {"file_name": "x.csv", "content": content},
                                token=mesh.token(["analyst"]))  # importing is a head-end's role
    assert status == 403, body
