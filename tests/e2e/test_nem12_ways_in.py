"""The ways a NEM12 file comes in besides the RPC itself, on a mesh of the test's own (real Kafka,
PostgreSQL, ingest with a drop folder, its writer): `meters import nem12` / `meters export nem12`
over TLS with a token, and the watched drop folder (METERS_NEM12_DROP_DIR). Files are addressed to
participant METERS (METERS_NEM12_PARTICIPANT), with days of the last week (the default retention)."""

import json
import time
from datetime import datetime, timedelta

import psycopg
import pytest
from typer.testing import CliRunner

from meters.cli import app
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest.v1.meter_pb2 import Meter
from meters.nem12 import Block, parse
from meters.nem12.nemtime import NEM_TZ
from tests.e2e.own_stack import own_mesh
from tests.nem12_files import day, nem12

pytestmark = pytest.mark.infra
PARTICIPANT = "METERS"
NMIS = {"CLI0000001": 61_001, "CLI0000002": 61_002, "DROP000001": 61_003}


def recent_days(n: int) -> list[str]:
    """Date8 of the n NEM days before yesterday: complete, in the past, inside the retention window."""
    today = datetime.now(NEM_TZ).date()
    return [(today - timedelta(days=n + 1 - i)).strftime("%Y%m%d") for i in range(n)]


DAYS = recent_days(2)


def mdff(blocks: dict[str, list[float]], to: str = PARTICIPANT, end: bool = True) -> bytes:
    """A NEM12 file: each NMI's E1 channel, DAYS of 30-minute intervals with `values` (48 each)."""
    records = [f"100,NEM12,{DAYS[-1]}2300,MDP1,{to}"]
    for nmi, values in blocks.items():
        records.append(f"200,{nmi},E1,E1,E1,,M1,kWh,30,")
        records += [day(d, values, update=f"{DAYS[-1]}230000") for d in DAYS]
    return nem12(*records, *(["900"] if end else []))


@pytest.fixture(scope="module")
def drop_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("nem12-drop")


@pytest.fixture(scope="module")
def mesh(drop_dir):
    env = {"METERS_NEM12_DROP_DIR": str(drop_dir), "METERS_NEM12_DROP_POLL_S": "0.5",
           "METERS_NEM12_PARTICIPANT": PARTICIPANT}
    with own_mesh("nem12-in", "ingest", "ingest-writer", env=env) as (_, mesh):
        with mesh.channel("ingest") as channel:
            ingest_service_pb2_grpc.IngestServiceStub(channel).BatchCreateMeters(pb.BatchCreateMetersRequest(
                meters=[Meter(meter_id=mid, meter_number=nmi) for nmi, mid in NMIS.items()]))
        yield mesh


def cli(mesh, *args: str):
    env = {**mesh.client_env(), "METERS_INGEST_ADDR": mesh.grpc_addr("ingest"), "COLUMNS": "300"}
    return CliRunner().invoke(app, list(args), env=env)


def table_row(output: str, first_cell: str) -> list[str]:
    """The cells of the summary table's row starting with `first_cell`."""
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def stored(mesh, meter_id: int) -> int:
    with psycopg.connect(mesh.pg_dsn) as conn:
        return conn.execute("SELECT count(*) FROM meters.meter_readings WHERE meter_id = %s", [meter_id]).fetchone()[0]


def wait_for(check, timeout_s: float = 60):
    deadline = time.monotonic() + timeout_s
    while not (got := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return got


def test_cli_imports_files_with_a_summary_table_and_exports_them_back(mesh, tmp_path):
    good = tmp_path / "two-meters.csv"
    good.write_bytes(mdff({"CLI0000001": [0.25] * 48, "CLI0000002": [0.5] * 48, "CLIUNKNOWN": [1.0] * 48}))
    result = cli(mesh, "import", "nem12", str(good))
    assert result.exit_code == 0, result.output  # an unknown NMI is reported, not a problem of the file
    #        version  NMIs days intervals accepted rejected  by reason            unknown problems truncated
    assert table_row(result.stdout, "two-meters.csv")[1:] == [
        "NEM12", "3", "6", "288", "192", "96", "unknown_meter 96", "1", "0", "no"]
    assert "CLIUNKNOWN" in result.stdout  # named to its importer, so it can be registered
    assert wait_for(lambda: stored(mesh, 61_001) == 96 and stored(mesh, 61_002) == 96)

    cut, wrong = tmp_path / "cut.csv", tmp_path / "wrong.csv"
    cut.write_bytes(mdff({"CLI0000001": [0.25] * 48}, end=False))
    wrong.write_bytes(mdff({"CLI0000001": [0.25] * 48}, to="SOMEONE"))
    result = cli(mesh, "import", "nem12", str(cut), str(wrong))
    assert result.exit_code == 1, result.output
    assert table_row(result.stdout, "cut.csv")[1:] == ["NEM12", "1", "2", "96", "96", "0", "", "0", "1", "yes"]
    assert table_row(result.stdout, "wrong.csv")[1] == "refused"
    assert "FAILED_PRECONDITION" in result.stdout and "TRUNCATED_FILE" in result.stdout
    assert table_row(result.stdout, "total (2 files)")[2:6] == ["1", "2", "96", "96"]

    out = tmp_path / "export.csv"
    first, last = (f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in (DAYS[0], DAYS[-1]))
    result = cli(mesh, "export", "nem12", "--nmi", "CLI0000002", "--from", first, "--to", last, "--out", str(out))
    assert result.exit_code == 0, result.output
    blocks = [b for b in parse(out) if isinstance(b, Block)]
    assert [(b.nmi, b.interval_date) for b in blocks] == [("CLI0000002", d) for d in DAYS]
    assert all((b.values == 0.5).all() and (b.quality == "A").all() for b in blocks)

    result = cli(mesh, "import", "nem12", str(out))  # the export imports back: the same rows
    assert result.exit_code == 0, result.output
    assert table_row(result.stdout, "export.csv")[2:7] == ["1", "2", "96", "96", "0"]
    time.sleep(2)  # time for the writer to add rows, were it to
    assert stored(mesh, 61_002) == 96


def test_cli_export_of_an_unknown_nmi_fails(mesh):
    result = cli(mesh, "export", "nem12", "--nmi", "NOSUCHNMI1", "--from", "2026-01-01", "--to", "2026-01-02")
    assert result.exit_code == 1 and "NOT_FOUND" in result.output


def test_drop_folder_imports_complete_files_into_done_and_refused_ones_into_failed(mesh, drop_dir):
    ignored = drop_dir / "still-writing.csv.tmp"
    ignored.write_bytes(mdff({"DROP000001": [2.0] * 48}))
    for name, to in (("head-end.csv", PARTICIPANT), ("misaddressed.csv", "SOMEONE")):
        part = drop_dir / (name + ".part")  # how a head-end should write: then rename, atomically
        part.write_bytes(mdff({"DROP000001": [0.75] * 48}, to=to))
        part.rename(drop_dir / name)

    done, failed = drop_dir / "done", drop_dir / "failed"
    assert wait_for(lambda: (done / "head-end.csv.summary.json").exists() and (failed / "misaddressed.csv").exists())
    assert (done / "head-end.csv").exists() and not (drop_dir / "head-end.csv").exists()
    summary = json.loads((done / "head-end.csv.summary.json").read_text())
    assert summary["file"] == "head-end.csv" and int(summary["intervals"]) == 96
    assert int(summary["summary"]["accepted"]) == 96 and not summary.get("problem_count")
    refusal = json.loads((failed / "misaddressed.csv.summary.json").read_text())
    assert refusal["error"]["reason"] == "WRONG_PARTICIPANT"
    assert wait_for(lambda: stored(mesh, 61_003) == 96)
    with psycopg.connect(mesh.pg_dsn) as conn:
        kwh = conn.execute("SELECT DISTINCT consumption_kwh FROM meters.meter_readings WHERE meter_id = 61003"
                           ).fetchall()
    assert kwh == [(0.75,)]
    assert ignored.exists()  # listed at every poll, never taken

    # The same file dropped again: answered by the import ledger, kept beside the first, nothing added.
    (drop_dir / "again.part").write_bytes((done / "head-end.csv").read_bytes())
    (drop_dir / "again.part").rename(drop_dir / "head-end.csv")
    assert wait_for(lambda: (done / "head-end-2.csv.summary.json").exists())
    assert json.loads((done / "head-end-2.csv.summary.json").read_text())["already_imported"] is True
    assert stored(mesh, 61_003) == 96


def test_while_another_server_holds_the_folder_its_files_wait(mesh, drop_dir):
    key = "nem12-drop:" + str(drop_dir.resolve())
    with psycopg.connect(mesh.pg_dsn, autocommit=True) as other:  # as a second replica mid-round would
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
        (drop_dir / "held.part").write_bytes(mdff({"DROP000001": [0.75] * 48}))
        (drop_dir / "held.part").rename(drop_dir / "held.csv")
        time.sleep(3)  # six polls: the file is complete, and would have been taken by now
        assert (drop_dir / "held.csv").exists() and not (drop_dir / "done" / "held.csv").exists()
        other.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
    assert wait_for(lambda: (drop_dir / "done" / "held.csv.summary.json").exists())
