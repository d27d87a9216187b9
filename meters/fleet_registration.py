"""Registers a fleet's network with every service, through their gRPC APIs only.

Each service learns the part of the topology it needs: ingest the meters,
scoring the substations, feeders, transformers and meter connections, forecast each
meter's place in the network, customer the customers and their meters.
Used by `make demo`, benchmarks and tests, so they all load networks the way
a utility's asset system would.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import grpc
import pandas as pd
from google.protobuf.timestamp_pb2 import Timestamp

from meters.customer.v1 import customer_pb2, customer_service_pb2, customer_service_pb2_grpc
from meters.deadlines import CALL_S
from meters.fleet import FleetConfig, Topology
from meters.fleet.weather import hourly_temperature
from meters.forecast.v1 import forecast_service_pb2, forecast_service_pb2_grpc, meter_scope_pb2
from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters
from meters.scoring.v1 import outage_pb2, outage_service_pb2, outage_service_pb2_grpc
from meters.scoring.v1 import scoring_service_pb2, scoring_service_pb2_grpc, transformer_pb2


@dataclass(frozen=True)
class ServiceChannels:
    ingest: grpc.Channel
    scoring: grpc.Channel | None = None
    forecast: grpc.Channel | None = None
    customer: grpc.Channel | None = None


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _send(call: Callable, make_request: Callable, items: list, size: int = 10_000) -> None:
    for part in _chunks(items, size):
        call(make_request(part), timeout=CALL_S)


def _timestamp(unix_s: int) -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(unix_s))
    return ts


def register_fleet(topology: Topology, channels: ServiceChannels) -> None:
    """The network: meters, grid, scopes, customers."""
    meters = topology.meters
    register_meters(channels.ingest, (
        meter_pb2.Meter(meter_id=int(r.meter_id), meter_number=str(r.meter_number), customer_id=int(r.customer_id),
                        transformer_id=int(r.transformer_id), meter_type=str(r.meter_type),
                        installed_at_unix_s=int(r.installed_at_unix_s))
        for r in meters.itertuples(index=False)
    ))
    placed = meters.merge(topology.transformers[["transformer_id", "substation_id"]], on="transformer_id").merge(
        topology.substations[["substation_id", "region"]], on="substation_id")
    if channels.scoring is not None:
        if topology.feeders is not None:
            _register_feeders(topology.feeders, outage_service_pb2_grpc.OutageServiceStub(channels.scoring))
        _register_grid(topology, placed, scoring_service_pb2_grpc.ScoringServiceStub(channels.scoring))
    if channels.forecast is not None:
        stub = forecast_service_pb2_grpc.ForecastServiceStub(channels.forecast)
        _send(stub.BatchCreateMeterScopes,
              lambda part: forecast_service_pb2.BatchCreateMeterScopesRequest(meter_scopes=part), [
                  meter_scope_pb2.MeterScope(meter_id=int(r.meter_id), transformer_id=int(r.transformer_id),
                                             substation_id=int(r.substation_id), region=str(r.region))
                  for r in placed.itertuples(index=False)])
    if channels.customer is not None:
        _register_customers(topology, placed, customer_service_pb2_grpc.CustomerServiceStub(channels.customer))


def _register_feeders(feeders: pd.DataFrame, stub) -> None:
    _send(stub.BatchCreateFeeders, lambda part: outage_service_pb2.BatchCreateFeedersRequest(feeders=part), [
        outage_pb2.Feeder(feeder_id=int(r.feeder_id), substation_id=int(r.substation_id),
                          display_name=str(r.feeder_name))
        for r in feeders.itertuples(index=False)])


def _register_grid(topology: Topology, placed: pd.DataFrame, stub) -> None:
    regions = topology.substations.set_index("substation_id").region
    pb = scoring_service_pb2
    _send(stub.BatchCreateSubstations, lambda part: pb.BatchCreateSubstationsRequest(substations=part), [
        transformer_pb2.Substation(substation_id=int(r.substation_id), display_name=str(r.name), region=str(r.region),
                                   capacity_mva=float(r.capacity_mva))
        for r in topology.substations.itertuples(index=False)])
    _send(stub.BatchCreateTransformers, lambda part: pb.BatchCreateTransformersRequest(transformers=part), [
        transformer_pb2.Transformer(
            transformer_id=int(r.transformer_id), transformer_number=str(r.transformer_number),
            substation_id=int(r.substation_id), region=str(regions[r.substation_id]),
            capacity_kva=float(r.capacity_kva), age_years=float(r.age_years),
            last_maintenance_at=_timestamp(r.last_maintenance_unix_s), feeder_id=int(getattr(r, "feeder_id", 0)))
        for r in topology.transformers.itertuples(index=False)])
    _send(stub.BatchCreateMeterConnections, lambda part: pb.BatchCreateMeterConnectionsRequest(connections=part), [
        transformer_pb2.MeterConnection(meter_id=int(r.meter_id), transformer_id=int(r.transformer_id))
        for r in placed.itertuples(index=False)])


def _register_customers(topology: Topology, placed: pd.DataFrame, stub) -> None:
    meters_of = placed.groupby("customer_id").meter_id.apply(list)
    region_of = placed.groupby("customer_id").region.first()
    customers = [
        customer_pb2.Customer(
            account_number=str(r.account_number), tariff_type=str(r.tariff_type), solar_installed=bool(r.solar_installed),
            ev_charging=bool(r.ev_charging), demand_response_opted_in=bool(r.demand_response_opted_in),
            region=str(region_of.get(r.customer_id, "")), meter_ids=[int(m) for m in meters_of.get(r.customer_id, [])])
        for r in topology.customers.itertuples(index=False)
    ]  # the true segment stays in the fleet's truth: the service must find it
    _send(stub.BatchCreateCustomers, lambda part: customer_service_pb2.BatchCreateCustomersRequest(customers=part),
          customers)


def record_weather(cfg: FleetConfig, customer: grpc.Channel, rows_per_call: int = 50_000) -> None:
    """The fleet's regional hourly temperature, sent as a weather feed would send it."""
    stub = customer_service_pb2_grpc.CustomerServiceStub(customer)
    regions, hours, temps = hourly_temperature(cfg)
    for start in range(0, len(regions), rows_per_call):
        part = slice(start, start + rows_per_call)
        stub.RecordRegionalWeather(customer_service_pb2.RecordRegionalWeatherRequest(
            regions=regions[part].tolist(), hour_start_unix_s=hours[part].tolist(), temperature_c=temps[part].tolist()),
            timeout=CALL_S)
