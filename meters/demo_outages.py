"""`make demo`'s grid-operations part: the fleet's meter events streamed through ingest, the outages the
detector opens and closes shown live (WatchOutages), the month's reliability report from PostgreSQL."""

import datetime as dt
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pandas as pd
from rich.console import Console
from rich.table import Table

from meters.deadlines import CALL_S
from meters.fleet import FleetConfig, Topology
from meters.fleet.meter_events import iter_meter_events
from meters.fleet.outages import plan_outages
from meters.ingest_client import stream_meter_events
from meters.mesh import Mesh
from meters.nem12.nemtime import NEM_TZ
from meters.scoring.v1 import outage_pb2, outage_service_pb2 as pb, outage_service_pb2_grpc

BATCH = 5_000
# Longer than a restore-from-readings check (30 s) and settling (60 s) together.
NOTHING_MORE_S = 100
LEVEL = {outage_pb2.OUTAGE_LEVEL_METER: "premise", outage_pb2.OUTAGE_LEVEL_TRANSFORMER: "transformer",
         outage_pb2.OUTAGE_LEVEL_FEEDER: "feeder"}


@dataclass
class OutageDemo:
    planted: int
    planted_sustained: int
    events_sent: int
    opened: int
    restored: int
    open_at_end: int  # planted outages still unrestored at the fleet's last reading
    network_missed: int  # planted transformer / feeder outages with no detection of that asset
    network_open: int  # detected transformer / feeder outages still open
    report: Path | None

    @property
    def ok(self) -> bool:
        return self.network_missed == 0 and self.network_open <= self.open_at_end


def _nem(ts) -> str:
    return dt.datetime.fromtimestamp(ts.seconds, NEM_TZ).strftime("%a %d %b %H:%M")


def _watch(channel: grpc.Channel, console: Console, seen: dict, stop: threading.Event) -> None:
    stream = outage_service_pb2_grpc.OutageServiceStub(channel).WatchOutages(
        pb.WatchOutagesRequest(min_level=outage_pb2.OUTAGE_LEVEL_TRANSFORMER), timeout=3600)
    threading.Thread(target=lambda: (stop.wait(), stream.cancel()), daemon=True).start()
    try:
        for change in stream:
            o = change.outage
            seen.setdefault(change.change, set()).add(o.outage_id)
            where = f"{LEVEL[o.level]} {o.asset_id} (feeder {o.feeder_id}, {o.region})"
            if change.change == pb.OUTAGE_CHANGE_RESTORED:
                console.print(f"  [green]restored[/] {o.name}: {where}, {o.customers_affected:,} customers, "
                              f"{(o.restored_at.seconds - o.started_at.seconds) / 60:.0f} min"
                              f"{' (momentary)' if o.momentary else ''}")
            else:
                console.print(f"  [red]opened[/]   {o.name}: {where} off since {_nem(o.started_at)} NEM time, "
                              f"{o.customers_affected:,} customers{' (planned work)' if o.planned else ''}")
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.CANCELLED:
            console.print(f"  outage watch ended: {err.code().name}")


def _send_events(channel: grpc.Channel, cfg: FleetConfig, topology: Topology, outages: pd.DataFrame) -> int:
    reply = stream_meter_events(channel, iter_meter_events(cfg, topology, outages=outages), BATCH, timeout_s=600)
    return reply.summary.accepted + reply.summary.rejected


def _wait_quiet(channel: grpc.Channel, may_stay_open: int, timeout_s: float = 300, quiet_s: float = 8) -> None:
    """Until at most `may_stay_open` outages are open and nothing changed for quiet_s (settling ends on
    the wall clock; restores from readings are asked for every 30 s)."""
    stub = outage_service_pb2_grpc.OutageServiceStub(channel)
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        page = stub.ListOutages(pb.ListOutagesRequest(page_size=1000), timeout=CALL_S)
        state = [(o.outage_id, o.state) for o in page.outages]
        if state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= quiet_s and sum(s == outage_pb2.OUTAGE_STATE_OPEN for _, s in state) \
                <= may_stay_open:
            return
        elif time.monotonic() - since >= NOTHING_MORE_S:  # what is still open has no restore evidence yet
            return
        time.sleep(1)


def report_month(cfg: FleetConfig) -> str:
    """The NEM month of the fleet's last day, YYYY-MM."""
    return dt.datetime.fromtimestamp(cfg.end_unix_s - 1, NEM_TZ).strftime("%Y-%m")


def run(mesh: Mesh, cfg: FleetConfig, topology: Topology, out: Path, console: Console) -> OutageDemo:
    from scoring_svc.reliability import sources, write_reliability_report
    from scoring_svc.reliability.events import Month

    outages = plan_outages(cfg, topology)
    sustained = int((~outages["momentary"].astype(bool)).sum())
    open_at_end = int((outages["restored_unix_s"] > cfg.end_unix_s).sum())
    console.print(f"streaming the fleet's meter events: {len(outages)} planted outages ({sustained} sustained); "
                  "transformer and feeder outages as the detector opens and closes them:")
    seen: dict = {}
    stop = threading.Event()
    with mesh.channel("scoring") as scoring, mesh.channel("ingest") as ingest:
        watcher = threading.Thread(target=_watch, args=(scoring, console, seen, stop), daemon=True)
        watcher.start()
        sent = _send_events(ingest, cfg, topology, outages)
        _wait_quiet(scoring, open_at_end)
        stop.set()
        watcher.join(timeout=5)
        listed = outage_service_pb2_grpc.OutageServiceStub(scoring).ListOutages(pb.ListOutagesRequest(page_size=1000),
                                                                               timeout=CALL_S)
    month = report_month(cfg)
    events, served = sources.read_postgres(mesh.pg_dsn, Month.parse(month))
    paths = write_reliability_report(events, served, month, out)
    found = {(LEVEL[o.level], o.asset_id) for o in listed.outages}
    planted = {(("premise" if r.level == "meter" else r.level), int(r.asset_id)) for r in outages.itertuples()}
    network = {p for p in planted if p[0] != "premise"}
    network_open = sum(o.state == outage_pb2.OUTAGE_STATE_OPEN and o.level != outage_pb2.OUTAGE_LEVEL_METER
                       for o in listed.outages)
    return OutageDemo(len(outages), sustained, sent, len(listed.outages),
                      sum(o.state == outage_pb2.OUTAGE_STATE_RESTORED for o in listed.outages), open_at_end,
                      len(network - found), network_open, paths.html)


def table(result: OutageDemo) -> Table:
    t = Table(title="Grid operations: outages from the meters' events")
    t.add_column("figure")
    t.add_column("value", justify="right")
    t.add_row("outages planted (sustained)", f"{result.planted:,} ({result.planted_sustained:,})")
    t.add_row("meter events streamed", f"{result.events_sent:,}")
    t.add_row("outages detected / restored", f"{result.opened:,} / {result.restored:,}")
    t.add_row("planted outages still open at the fleet's end", f"{result.open_at_end:,}")
    t.add_row("planted transformer / feeder outages missed", f"{result.network_missed:,}")
    t.add_row("premise outages open (no restore event, no readings since)", f"{result.opened - result.restored - result.network_open:,}")
    t.add_row("monthly reliability report", str(result.report))
    return t
