"""`meters report reliability` end to end: from a fleet's parquet files, and from PostgreSQL tables."""

import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from meters.audit.writer import Actor, record_sync
from meters.cli import app
from meters.db import migrate
from meters.fleet import FleetConfig
from meters.fleet.topology import generate_topology
from meters.fleet.writer import write_table
from scoring_svc.reliability.served import read_topology
from scoring_svc.server import MIGRATIONS as SCORING_MIGRATIONS
from tests.reliability_cases import NOVEMBER, SERVED, at

TOPO = generate_topology(FleetConfig(meters=300, days=2, seed=21, chunk_meters=150))


def _fleet(tmp_path):
    """A fleet directory as meters.fleet.writer lays it out: topology/*.parquet, truth/outages.parquet."""
    for name in ("substations", "feeders", "transformers", "meters"):
        write_table(getattr(TOPO, name), tmp_path / "topology" / f"{name}.parquet")
    served = read_topology(tmp_path)
    f = TOPO.feeders.iloc[0]
    tx = TOPO.transformers.iloc[0]
    tx_customers = int((TOPO.meters["transformer_id"] == tx["transformer_id"]).sum())
    region = TOPO.substations.set_index("substation_id").loc[f["substation_id"], "region"]
    rows = [  # a feeder trip of an hour, a transformer's planned work of two hours, a 30 s reclose
        (1, "feeder", f["feeder_id"], None, at("2026-11-03 10:00"), 3600, int(f["customers"]), False, "vegetation"),
        (2, "transformer", tx["transformer_id"], tx["transformer_id"], at("2026-11-04 09:00"), 7200, tx_customers, True, "planned"),
        (3, "feeder", f["feeder_id"], None, at("2026-11-05 12:00"), 30, int(f["customers"]), False, "weather"),
    ]
    outages = pd.DataFrame([{
        "outage_id": oid, "level": level, "asset_id": int(asset), "region": region,
        "substation_id": int(f["substation_id"]), "feeder_id": int(f["feeder_id"]),
        "transformer_id": None if txid is None else int(txid), "started_unix_s": start,
        "restored_unix_s": start + secs, "customers_affected": n, "planned": planned, "announced_unix_s": None,
        "momentary": secs <= 180, "cause": cause} for oid, level, asset, txid, start, secs, n, planned, cause in rows])
    write_table(outages, tmp_path / "truth" / "outages.parquet")
    return outages, served, int(f["customers"]), tx_customers


def test_report_from_fleet_files(tmp_path):
    outages, served, feeder_customers, tx_customers = _fleet(tmp_path)
    result = CliRunner().invoke(app, ["report", "reliability", "--month", "2026-11",
                                      "--outages", str(tmp_path / "truth" / "outages.parquet"),
                                      "--topology", str(tmp_path), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    html, events_csv, indices_csv = (tmp_path / "report" / f"reliability-2026-11{s}" for s in (".html", "-events.csv", "-indices.csv"))
    assert result.output.split() == [str(html), str(events_csv), str(indices_csv)]
    assert html.read_text().count("<img ") == 4
    assert pd.read_csv(events_csv)["outage_id"].tolist() == [1, 2, 3]
    idx = pd.read_csv(indices_csv)
    net = idx[idx["grouping"] == "network"].set_index("category")
    assert net.loc["total", "customers_served"] == 300
    assert net.loc["unplanned", "saidi"] == pytest.approx(feeder_customers * 60 / 300)
    assert net.loc["planned", "saidi"] == pytest.approx(tx_customers * 120 / 300)
    assert net.loc["total", "maifi"] == pytest.approx(feeder_customers / 300)
    feeders = idx[(idx["grouping"] == "feeder") & (idx["category"] == "total")]
    assert len(feeders) == len(TOPO.feeders) and feeders["customers_served"].sum() == 300


def test_bad_month_and_missing_sources_are_usage_errors(tmp_path):
    _fleet(tmp_path)
    bad = CliRunner().invoke(app, ["report", "reliability", "--month", "Nov-2026", "--outages",
                                   str(tmp_path / "truth" / "outages.parquet"), "--topology", str(tmp_path)])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    none = CliRunner().invoke(app, ["report", "reliability", "--month", "2026-11"], env={"METERS_PG_DSN": ""})
    assert none.exit_code == 2


@pytest.mark.infra
def test_report_from_postgres_matches_the_parquet_path(fresh_db, tmp_path):
    # scoring_svc's own schema (the outage detector's tables), the hand-made month loaded into it
    migrate(fresh_db, SCORING_MIGRATIONS)
    meters = SERVED.loc[SERVED.index.repeat(SERVED["customers"]), ["feeder_id"]].reset_index(drop=True)
    with psycopg.connect(fresh_db) as conn, conn.cursor() as cur:
        record_sync(conn, resource="test", action="load", actor=Actor.system("test"), method="test.load")
        subs = SERVED[["substation_id", "region"]].drop_duplicates()
        cur.executemany("INSERT INTO grid.substations (id, name, region) VALUES (%s, %s, %s)",
                        [(int(s), f"ZS{s}", r) for s, r in subs.itertuples(index=False)])
        cur.executemany("INSERT INTO grid.feeders (id, substation_id, name) VALUES (%s, %s, %s)",
                        [(int(f), int(s), f"F{f}") for f, s in SERVED[["feeder_id", "substation_id"]].itertuples(index=False)])
        cur.executemany("INSERT INTO grid.transformers (id, transformer_number, capacity_kva, feeder_id)"
                        " VALUES (%s, %s, 100, %s)", [(int(f), f"T{f}", int(f)) for f in SERVED["feeder_id"]])
        cur.executemany("INSERT INTO grid.meter_connections VALUES (%s, %s)",
                        [(i + 1, int(f)) for i, f in enumerate(meters["feeder_id"])])
        cur.executemany(
            "INSERT INTO grid.outages (outage_id, level, asset_id, region, substation_id, feeder_id, transformer_id,"
            " started_at, restored_at, customers_affected, planned, momentary, cause, detected_from, opened_at, sequence)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, to_timestamp(%s), to_timestamp(%s), %s, %s, %s, %s, 'test',"
            " to_timestamp(%s), 0)",
            [(int(r.outage_id), r.level, int(r.asset_id), r.region, int(r.substation_id), int(r.feeder_id), None,
              r.started_unix_s, r.restored_unix_s, int(r.customers_affected), bool(r.planned), bool(r.momentary), r.cause,
              r.started_unix_s) for r in NOVEMBER.itertuples()])
    result = CliRunner().invoke(app, ["report", "reliability", "--month", "2026-11", "--dsn", fresh_db,
                                      "--out", str(tmp_path / "pg")])
    assert result.exit_code == 0, result.output
    write_table(NOVEMBER, tmp_path / "outages.parquet")
    write_table(SERVED, tmp_path / "served.parquet")
    files = CliRunner().invoke(app, ["report", "reliability", "--month", "2026-11", "--outages", str(tmp_path / "outages.parquet"),
                                     "--topology", str(tmp_path / "served.parquet"), "--out", str(tmp_path / "files")])
    assert files.exit_code == 0, files.output
    for name in ("reliability-2026-11-indices.csv", "reliability-2026-11-events.csv"):
        pg, fs = (pd.read_csv(tmp_path / d / name) for d in ("pg", "files"))
        pd.testing.assert_frame_equal(pg, fs, check_dtype=False)
    net = pd.read_csv(tmp_path / "pg" / "reliability-2026-11-indices.csv").query("grouping == 'network'")
    assert net.set_index("category").loc["total", "saidi"] == pytest.approx(30.9)
