"""Theft suspects served from PostgreSQL (OutageService.ListTheftSuspects) on a stack of its own: a fleet
of BENCH_THEFT_METERS (1,000) meters x BENCH_THEFT_DAYS (90) days with planted theft loaded through the
platform's ways in (meters/fleet_platform.py), then the whole network and one feeder ranked.

Figures: theft_suspects_meters / _days / _meter_hours, theft_suspects_load_s (registration, readings,
events and telemetry in, stored), theft_suspects_network_call_s (client wall time of one whole-network
call, the worker already spawned) and its split as the service logs it (_network_read_s: the snapshot's
COPYs; _network_rank_s: to the worker and back, hourly sums, balance and ranking), theft_suspects_feeder_call_s, theft_suspects_recall_at_planted and
theft_suspects_recall_top1pct (planted thefts among the top k = planted / top 1 % of meters),
theft_suspects_planted.
"""

import json
import os
import time

from google.protobuf.timestamp_pb2 import Timestamp

from meters.fleet import FleetConfig, generate_topology, plan_thefts
from meters.fleet_platform import load_fleet, recent_start
from meters.scoring.v1 import outage_service_pb2 as pb, outage_service_pb2_grpc
from tests.e2e.own_stack import own_mesh

METERS = int(os.environ.get("BENCH_THEFT_METERS", 1_000))
DAYS = int(os.environ.get("BENCH_THEFT_DAYS", 90))
SEED = int(os.environ.get("BENCH_THEFT_SEED", 7))


def _call(mesh, cfg, **kw) -> tuple[pb.ListTheftSuspectsResponse, float]:
    with mesh.channel("scoring", roles=("analyst",)) as ch:
        request = pb.ListTheftSuspectsRequest(start_time=Timestamp(seconds=cfg.start_unix_s),
                                              end_time=Timestamp(seconds=cfg.start_unix_s + cfg.days * 86_400),
                                              page_size=1000, **kw)
        started = time.perf_counter()
        reply = outage_service_pb2_grpc.OutageServiceStub(ch).ListTheftSuspects(request, timeout=600)
        return reply, time.perf_counter() - started


def run() -> dict[str, float]:
    cfg = FleetConfig(meters=METERS, days=DAYS, seed=SEED, interval_minutes=30, signed_net_flow=True,
                      start=recent_start(DAYS))
    topology = generate_topology(cfg)
    thefts = plan_thefts(cfg, topology)
    with own_mesh("bench-theft", "ingest", "ingest-writer", "alert", "customer", "scoring") as (_, mesh):
        loaded = load_fleet(mesh, cfg, topology, thefts)
        _call(mesh, cfg, transformer_id=int(thefts["transformer_id"].iloc[0]))  # spawns the worker
        network, network_s = _call(mesh, cfg)
        feeder = int(topology.transformers.set_index("transformer_id").loc[thefts["transformer_id"].iloc[0],
                                                                           "feeder_id"])
        _, feeder_s = _call(mesh, cfg, feeder_id=feeder)
        logged = [json.loads(line) for line in (mesh.run_dir / "scoring.log").read_text().splitlines()
                  if "theft suspects ranked" in line]
    whole = [x for x in logged if x["meters"] == network.meters_ranked][-1]  # the service's own split
    ranked = [s.meter_id for s in network.suspects]
    planted = set(thefts["meter_id"])
    top1 = max(1, round(0.01 * network.meters_ranked))
    return {
        "theft_suspects_meters": float(network.meters_ranked), "theft_suspects_days": float(DAYS),
        "theft_suspects_meter_hours": float(network.meters_ranked * DAYS * 24),
        "theft_suspects_load_s": round(loaded.seconds, 1), "theft_suspects_network_call_s": round(network_s, 2),
        "theft_suspects_feeder_call_s": round(feeder_s, 2), "theft_suspects_network_read_s": whole["read_s"],
        "theft_suspects_network_rank_s": whole["rank_s"], "theft_suspects_planted": float(len(planted)),
        "theft_suspects_recall_at_planted": len(planted & set(ranked[:len(planted)])) / len(planted),
        "theft_suspects_recall_top1pct": len(planted & set(ranked[:top1])) / len(planted),
    }


if __name__ == "__main__":
    print(run())
