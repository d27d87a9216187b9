"""CustomerService: translates messages and delegates; no business logic here."""

import asyncio
import datetime as dt
import logging


from customer_svc import demand_response, engagement, weather_store
from customer_svc.dr_rpcs import DemandResponseRpcs, customer_hash
from customer_svc.recommendation_lifecycle import message as recommendation_message
from customer_svc.recommendation_rpcs import RecommendationRpcs
from customer_svc.weather_rpcs import WeatherRpcs
from customer_svc.config import SEGMENTATION_DAYS
from customer_svc.metrics import SEGMENTATION_RUN_SECONDS
from customer_svc.segmentation_job import run_segmentation
from customer_svc.store import CustomerStore
from meters.audit import call as audited
from meters.customer.v1 import customer_pb2, customer_service_pb2 as pb, customer_service_pb2_grpc
from meters.customer.v1 import recommendation_pb2 as rpb, segment_pb2 as spb
from meters.errors import DomainError, FieldViolation, invalid_argument
from meters.fleet.segments import SEGMENTS
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size
from meters.security.pii import PiiKey, is_digest
from meters.timestamps import to_proto

log = logging.getLogger(__name__)
EXPECTED_SHARE = {s.key: s.share for s in SEGMENTS}
MAX_IDENTIFIER_CHARS = 64


_hash = customer_hash


def segment_enum(key: str) -> int:
    return spb.Segment.Value("SEGMENT_" + key.upper()) if key else 0


def customer_message(row) -> customer_pb2.Customer:
    (_id, h, seg, conf, tariff, solar, ev, dr, region, daily, created, updated, meters) = row
    return customer_pb2.Customer(
        name=f"customers/{h}", customer_hash=h, segment=segment_enum(seg), segment_confidence=conf,
        tariff_type=tariff, solar_installed=solar, ev_charging=ev, demand_response_opted_in=dr, region=region,
        meter_count=len(meters), mean_daily_kwh=daily, created_at=to_proto(created), updated_at=to_proto(updated),
        meter_ids=meters)


class CustomerServicer(DemandResponseRpcs, RecommendationRpcs, WeatherRpcs,
                       customer_service_pb2_grpc.CustomerServiceServicer):
    def __init__(self, store: CustomerStore, registry, pii: PiiKey):
        self._store = store
        self._registry = registry
        self._pii = pii
        self._runs: set[asyncio.Task] = set()

    def _customer_hash(self, c: customer_pb2.Customer) -> str:
        """The keyed hash of the account number, made here at the edge: the number itself goes no further.
        Without one, a hash the service made (a customer's name) is kept; any other value, as older
        callers sent, is an identifier and is hashed too."""
        if c.account_number.strip():
            return self._pii.digest(c.account_number)
        return c.customer_hash if is_digest(c.customer_hash) else self._pii.digest(c.customer_hash)

    async def BatchCreateCustomers(self, request, context):
        async with audited(self._store.pool, "customers", "batch_create") as change:
            return await self._batch_create_customers(request, change)

    async def _batch_create_customers(self, request, change):
        bad = [FieldViolation(f"customers[{i}].account_number", "required (or the customer_hash of a registered"
                              f" customer), at most {MAX_IDENTIFIER_CHARS} characters")
               for i, c in enumerate(request.customers)
               if not (c.account_number.strip() or c.customer_hash.strip())
               or len(c.account_number) > MAX_IDENTIFIER_CHARS or len(c.customer_hash) > MAX_IDENTIFIER_CHARS]
        if len(request.customers) > 10_000:
            bad.append(FieldViolation("customers", "at most 10,000 per call"))
        if bad:
            raise invalid_argument("invalid customers", *bad[:100])
        rows = [dict(customer_hash=self._customer_hash(c), tariff_type=c.tariff_type or "flat", solar_installed=c.solar_installed,
                     ev_charging=c.ev_charging, demand_response_opted_in=c.demand_response_opted_in, region=c.region,
                     meter_ids=list(c.meter_ids)) for c in request.customers]
        created, updated = await self._store.upsert_customers(rows, change)
        return pb.BatchCreateCustomersResponse(created=created, updated=updated)

    async def GetCustomer(self, request, context):
        return pb.GetCustomerResponse(customer=await self._customer_message(_hash(request.name, "name")))

    async def _customer_message(self, h: str) -> customer_pb2.Customer:
        return customer_message(await self._store.get_customer(h))

    async def ListRecommendations(self, request, context):
        row = await self._store.get_customer(_hash(request.parent, "parent"))
        limit = page_size(request.page_size, 20, 100)
        after = decode_token(request.page_token, 1)
        status = rpb.RecommendationStatus.Name(request.status).removeprefix("RECOMMENDATION_STATUS_").lower() \
            if request.status else ""
        rtype = rpb.RecommendationType.Name(request.recommendation_type).removeprefix("RECOMMENDATION_TYPE_").lower() \
            if request.recommendation_type else ""
        rows = await self._store.list_recommendations(row[0], after[0] if after else None, limit + 1, status, rtype)
        recs = [recommendation_message(row[1], r) for r in rows[:limit]]
        token = encode_token([rows[limit - 1][0]]) if len(rows) > limit else ""
        return pb.ListRecommendationsResponse(recommendations=recs, next_page_token=token)

    async def GetSegmentDistribution(self, request, context):
        rows, unsegmented, run = await self._store.segment_counts(request.region)
        peaks = await self._store.peak_hours(run[0], request.region) if run else {}
        by_key = {k: (n, kwh) for k, n, kwh in rows}
        total = sum(n for _, n, _ in rows)
        shares = []
        for seg in SEGMENTS:
            n, kwh = by_key.get(seg.key, (0, 0.0))
            shares.append(spb.SegmentShare(segment=segment_enum(seg.key), customer_count=n,
                                           fraction=n / total if total else 0.0, expected_fraction=seg.share,
                                           mean_daily_kwh=kwh or 0.0, peak_hour=peaks.get(seg.key, 0)))
        dist = spb.SegmentDistribution(segments=shares, total_customers=total, unsegmented_customers=unsegmented,
                                       segmentation_run=f"segmentationRuns/{run[0]}" if run else "",
                                       computed_at=to_proto(run[1]) if run else None)
        return pb.GetSegmentDistributionResponse(segment_distribution=dist)

    async def RunSegmentation(self, request, context):
        async with audited(self._store.pool, "segmentationRuns", "create") as change:
            if request.usage_days < 0:
                raise invalid_argument("usage_days must not be negative", FieldViolation("usage_days", "must be >= 0"))
            days = request.usage_days or SEGMENTATION_DAYS
            run_id = await self._store.create_run(days, change)
        task = asyncio.create_task(self._run(run_id, days, change))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        if request.wait:
            await asyncio.shield(task)
        return pb.RunSegmentationResponse(segmentation_run=await self._run_message(run_id))

    async def _run(self, run_id: int, days: int, change) -> None:
        try:
            with SEGMENTATION_RUN_SECONDS.time():
                assigned, version = await run_segmentation(self._store, self._registry, run_id, days, change)
            await self._store.finish_run(run_id, "succeeded", assigned, version)
        except DomainError as e:
            await self._store.finish_run(run_id, "failed", error=e.message)
        except Exception as e:  # a failed run is recorded, never lost
            log.exception("segmentation run failed")
            await self._store.finish_run(run_id, "failed", error=f"{type(e).__name__}: {e}")

    async def GetSegmentationRun(self, request, context):
        return pb.GetSegmentationRunResponse(
            segmentation_run=await self._run_message(parse_id(request.name, "segmentationRuns")))

    async def _run_message(self, run_id: int) -> spb.SegmentationRun:
        rid, status, days, assigned, version, ari, error, created, completed = await self._store.get_run(run_id)
        return spb.SegmentationRun(
            name=f"segmentationRuns/{rid}", status=spb.SegmentationRunStatus.Value(f"SEGMENTATION_RUN_STATUS_{status.upper()}"),
            usage_days=days, customers_assigned=assigned, model_version=version, adjusted_rand_index=ari,
            error_message=error, created_at=to_proto(created), completed_at=to_proto(completed))

    async def CreateDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, "demandResponseEvents", "create", request.request_id) as change:
            event = await demand_response.create(self._store.pool, request.demand_response_event, request.request_id,
                                                 change)
        return pb.CreateDemandResponseEventResponse(demand_response_event=event)

    async def GetDemandResponseEvent(self, request, context):
        event = await demand_response.get(self._store.pool, parse_id(request.name, "demandResponseEvents"))
        return pb.GetDemandResponseEventResponse(demand_response_event=event)

    async def ListDemandResponseEvents(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        after = decode_token(request.page_token, 2)
        events = await demand_response.list_events(
            self._store.pool, tuple(after) if after else None, limit + 1, request.status, request.event_type,
            request.start_time.ToDatetime(dt.timezone.utc) if request.HasField("start_time") else None,
            request.end_time.ToDatetime(dt.timezone.utc) if request.HasField("end_time") else None)
        last = events[limit - 1] if len(events) > limit else None
        token = encode_token([last.start_time.seconds, int(last.name.split("/")[1])]) if last else ""
        return pb.ListDemandResponseEventsResponse(demand_response_events=events[:limit], next_page_token=token)

    async def MeasureDemandResponseEvent(self, request, context):
        async with audited(self._store.pool, request.name, "measure") as change:
            event = await demand_response.measure_event(
                self._store.pool, parse_id(request.name, "demandResponseEvents"), request.baseline_days or 10, change,
                control_group=request.baseline_method == pb.DEMAND_RESPONSE_BASELINE_METHOD_CONTROL_GROUP)
        await engagement.refresh_quietly(self._store.pool)  # the participation rate
        return pb.MeasureDemandResponseEventResponse(demand_response_event=event)

    async def RecordRegionalWeather(self, request, context):
        regions, hours, temps = list(request.regions), list(request.hour_start_unix_s), list(request.temperature_c)
        async with audited(self._store.pool, "regionalWeather", "record") as change:
            weather_store.validate(regions, hours, temps)
            stored = await weather_store.record(self._store.pool, regions, hours, temps, change)
        return pb.RecordRegionalWeatherResponse(stored=stored)
