"""NEM12 / NEM13 files in through ImportNem12 and out through ExportNem12, on a mesh of the test's own
(real Kafka, PostgreSQL, ingest and its writer), with a retention window long enough for the AEMO
example files (2004-2005): every interval is stored or kept with its reason, counted; re-imports add
nothing; later versions replace earlier ones; the export imports back to the same rows."""

import io
import time
from collections import Counter
from pathlib import Path

import grpc
import psycopg
import pytest
from grpc_status import rpc_status

from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.meter_pb2 import Meter
from meters.ingest.v1.reading_pb2 import RejectionReason
from meters.nem12 import Block, parse, write_nem12
from meters.nem12.sgsc import CREATED_UNIX_S, sgsc_blocks
from tests.e2e.own_stack import own_mesh
from tests.nem12_files import FIXTURES, day, nem12

pytestmark = pytest.mark.infra
CHUNK = 64 * 1024
HOUSEHOLDS = 4  # of the 50 SGSC households: ~100,000 intervals


@pytest.fixture(scope="module")
def stack_and_mesh():
    with own_mesh("nem12", "ingest", "ingest-writer", env={"METERS_RETENTION_MONTHS": "400"}) as (stack, mesh):
        yield stack, mesh


@pytest.fixture(scope="module")
def stub(stack_and_mesh):
    _, mesh = stack_and_mesh
    with mesh.channel("ingest") as channel:
        yield ingest_service_pb2_grpc.IngestServiceStub(channel)


@pytest.fixture(scope="module")
def dsn(stack_and_mesh):
    return stack_and_mesh[0].pg_dsn


def import_file(stub, data: bytes, name: str):
    requests = [pb.ImportNem12Request(file_name=name if i == 0 else "", chunk=data[i:i + CHUNK])
                for i in range(0, max(len(data), 1), CHUNK)]
    return stub.ImportNem12(iter(requests), timeout=120).summary


def register(stub, nmis, first_id: int) -> dict[str, int]:
    ids = {nmi: first_id + i for i, nmi in enumerate(sorted(nmis))}
    stub.BatchCreateMeters(pb.BatchCreateMetersRequest(meters=[
        Meter(meter_id=mid, meter_number=nmi) for nmi, mid in ids.items()]))
    return ids


def counts(dsn: str, meter_ids, sha256: str) -> tuple[int, int]:
    """Stored readings of the meters, and rejected rows keyed by the file."""
    with psycopg.connect(dsn) as conn:
        stored = conn.execute("SELECT count(*) FROM meters.meter_readings WHERE meter_id = ANY(%s)",
                              [list(meter_ids)]).fetchone()[0]
        rejected = conn.execute("SELECT count(*) FROM meters.rejected_readings WHERE source_topic = %s",
                                ["nem12:" + sha256]).fetchone()[0]
    return stored, rejected


def settle(dsn, meter_ids, sha256, stored: int | None, rejected: int, timeout_s: float = 120) -> tuple[int, int]:
    """Wait for the writer to reach (stored, rejected) (stored None: any); return what it reached."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = counts(dsn, meter_ids, sha256)
        if (stored in (None, got[0]) and got[1] == rejected) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def sgsc_file(households: int) -> tuple[bytes, list[Block]]:
    nmis = []
    blocks = [b for b in sgsc_blocks() if (b.nmi in nmis or (len(nmis) < households and not nmis.append(b.nmi)))]
    out = io.BytesIO()
    write_nem12(out, blocks, from_participant="SGSCMDP", to_participant="METERS", created=CREATED_UNIX_S)
    return out.getvalue(), blocks


def test_sgsc_households_import_once_and_reimport_adds_nothing(stub, dsn):
    data, blocks = sgsc_file(HOUSEHOLDS)
    ids = register(stub, {b.nmi for b in blocks}, 100)
    intervals = sum(len(b) for b in blocks)
    null = sum(int((b.quality == "N").sum()) for b in blocks)

    summary = import_file(stub, data, "sgsc.csv")
    assert summary.intervals == intervals and summary.nmis == HOUSEHOLDS and not summary.truncated
    assert summary.summary.accepted == intervals - null and summary.summary.rejected == null
    assert summary.unknown_nmi_count == 0 and summary.problem_count == 0
    assert settle(dsn, ids.values(), summary.sha256, intervals - null, null) == (intervals - null, null)

    again = import_file(stub, data, "sgsc-again.csv")
    assert again.already_imported and again.summary.accepted == summary.summary.accepted
    time.sleep(3)  # the writer has had time to store a second copy, were there one
    assert settle(dsn, ids.values(), summary.sha256, intervals - null, null, 10) == (intervals - null, null)

    # Export one household and import the export: the same rows, nothing added.
    nmi = sorted(ids)[0]
    mine = [b for b in blocks if b.nmi == nmi]
    start, end = int(mine[0].interval_end_unix_s[0]), int(mine[-1].interval_end_unix_s[-1]) + 1
    exported = b"".join(r.chunk for r in stub.ExportNem12(pb.ExportNem12Request(
        nmi=nmi, start_time_unix_s=start, end_time_unix_s=end)))
    back = [item for item in parse(exported) if isinstance(item, Block)]
    assert [b.interval_date for b in back] == [b.interval_date for b in mine]
    for got, want in zip(back, mine):
        assert (got.values == want.values).all() and (got.quality == want.quality).all()
    reimport = import_file(stub, exported, "export.csv")
    assert reimport.summary.accepted == sum(len(b) for b in mine) - sum(int((b.quality == "N").sum()) for b in mine)
    time.sleep(2)
    assert counts(dsn, ids.values(), summary.sha256)[0] == intervals - null


def example_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix in (".csv", ".zip"))


def test_every_interval_of_the_example_and_malformed_files_is_stored_or_kept(stub, dsn):
    files = example_files()
    nmis = {item.nmi for f in files for item in parse(f) if getattr(item, "nmi", "")}
    unregistered = sorted(nmis)[0]
    ids = register(stub, nmis - {unregistered}, 10_000)
    total = accepted = rejected = 0
    by_reason = Counter()
    for path in files:
        s = import_file(stub, path.read_bytes(), path.name)
        assert s.summary.accepted + s.summary.rejected == s.intervals, path.name
        total, accepted, rejected = total + s.intervals, accepted + s.summary.accepted, rejected + s.summary.rejected
        by_reason.update({RejectionReason.Name(r.reason): r.count for r in s.summary.rejections})
        got = settle(dsn, ids.values(), s.sha256, None, s.summary.rejected, 60)
        assert got[1] == s.summary.rejected, path.name  # every rejected interval kept, keyed by the file
        if path.name == "Example_NEM12_powercor_missing_fields.csv":
            assert s.problem_count > 0 and all(p.line > 0 for p in s.problems)
    print(f"{len(files)} files, {total} intervals: {accepted} accepted, {rejected} rejected: {dict(by_reason)}")
    assert total > 10_000 and accepted > 0 and rejected > 0


def test_a_truncated_file_and_an_unknown_nmi_are_reported(stub, dsn):
    register(stub, {"TRUNC00001"}, 20_000)
    data = nem12("100,NEM12,202401020304,MDP1,RET1", "200,TRUNC00001,E1,E1,E1,,M1,kWh,30,",
                 day("20240101", [0.5] * 48), "200,UNKNOWN001,E1,E1,E1,,M2,kWh,30,", day("20240101", [0.25] * 48))
    s = import_file(stub, data, "cut.csv")
    assert s.truncated and s.problem_count == 1 and s.problems[0].reason == "TRUNCATED_FILE"
    assert list(s.unknown_nmis) == ["UNKNOWN001"] and s.unknown_nmi_count == 1
    assert s.summary.accepted == 48 and s.summary.rejected == 48
    with psycopg.connect(dsn) as conn:
        assert settle(dsn, [20_000], s.sha256, 48, 48, 60) == (48, 48)
        detail = conn.execute("SELECT reason, detail FROM meters.rejected_readings WHERE source_topic = %s LIMIT 1",
                              ["nem12:" + s.sha256]).fetchone()
    assert detail[0] == "REJECTION_REASON_UNKNOWN_METER" and "UNKNOWN001" not in detail[1]


def test_a_later_version_replaces_the_stored_interval_and_an_older_one_does_not(stub, dsn):
    ids = register(stub, {"VERS000001"}, 30_000)

    def version(values, update: str) -> bytes:
        return nem12("100,NEM12,202401020304,MDP1,RET1", "200,VERS000001,E1,E1,E1,,M1,kWh,30,",
                     day("20240101", values, update=update), "900")

    first = import_file(stub, version([1.0] * 48, "20240102000000"), "v1.csv")
    settle(dsn, ids.values(), first.sha256, 48, 0, 60)
    import_file(stub, version([2.0] * 48, "20240103000000"), "v2.csv")
    old = import_file(stub, version([0.5] * 48, "20240101120000"), "v0.csv")
    deadline = time.monotonic() + 60
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            superseded = conn.execute(
                "SELECT count(*) FROM meters.rejected_readings WHERE meter_id = %s AND reason = %s",
                [ids["VERS000001"], "REJECTION_REASON_SUPERSEDED"]).fetchone()[0]
            if superseded == 48:
                break
            time.sleep(0.3)
        values = conn.execute("SELECT DISTINCT consumption_kwh FROM meters.meter_readings WHERE meter_id = %s",
                              [ids["VERS000001"]]).fetchall()
        edits = conn.execute("SELECT count(*), min(before_kwh), max(after_kwh) FROM meters.reading_edits"
                             " WHERE meter_id = %s", [ids["VERS000001"]]).fetchone()
    assert old.summary.accepted == 48 and superseded == 48
    assert values == [(2.0,)] and edits == (48, 1.0, 2.0)


def test_a_bad_upload_is_refused_with_field_details(stub):
    with pytest.raises(grpc.RpcError) as err:
        stub.ImportNem12(iter([pb.ImportNem12Request(file_name="", chunk=b"")]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc_status.from_call(err.value) is not None
