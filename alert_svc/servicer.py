"""AlertService: translates messages and delegates; no business logic here."""

import datetime as dt

from alert_svc import metrics, model, validation
from alert_svc.feed import ChangeSignal
from alert_svc.routing import channels_for
from alert_svc.store import AlertStore
from meters.alert.v1 import alert_service_pb2 as pb
from meters.alert.v1 import alert_service_pb2_grpc
from meters.audit import call as audited
from meters.names import parse_id
from meters.paging import decode_token, encode_token, page_size
from meters.timestamps import from_us, to_us

WATCH_BATCH = 500


class AlertServicer(alert_service_pb2_grpc.AlertServiceServicer):
    def __init__(self, store: AlertStore, signal: ChangeSignal, enabled_channels: frozenset[str],
                 watch_poll_s: float = 1.0):
        self._store = store
        self._signal = signal
        self._enabled = enabled_channels
        self._watch_poll_s = watch_poll_s

    async def CreateAlert(self, request, context):
        async with audited(self._store.pool, "alerts", "create") as change:
            new = validation.new_alert(request.alert, dt.datetime.now(dt.timezone.utc))
            row, created = await self._store.create(new, channels_for(new.severity, self._enabled), change)
        if created:
            metrics.ALERTS_RAISED.labels(new.severity, new.source).inc()
        else:
            metrics.ALERTS_REPEATED.labels(new.severity).inc()
        return pb.CreateAlertResponse(alert=model.to_alert(row), created=created)

    async def GetAlert(self, request, context):
        return pb.GetAlertResponse(alert=model.to_alert(await self._store.get(parse_id(request.name, "alerts"))))

    async def ListAlerts(self, request, context):
        limit = page_size(request.page_size, 100, 1000)
        flt = validation.list_filter(request)
        after = decode_token(request.page_token, 2)
        rows = await self._store.list_alerts(flt, (from_us(after[0]), after[1]) if after else None, limit + 1)
        token = encode_token([to_us(rows[limit - 1]["detected_at"]), rows[limit - 1]["id"]]) if len(rows) > limit else ""
        return pb.ListAlertsResponse(alerts=[model.to_alert(r) for r in rows[:limit]], next_page_token=token)

    async def AcknowledgeAlert(self, request, context):
        async with audited(self._store.pool, request.name, "acknowledge") as change:
            row = await self._store.acknowledge(parse_id(request.name, "alerts"), request.acknowledged_by, change)
        return pb.AcknowledgeAlertResponse(alert=model.to_alert(row))

    async def ResolveAlert(self, request, context):
        if request.name or not request.dedup_key:
            alert_id = parse_id(request.name, "alerts")
        else:
            alert_id = await self._store.unresolved_id(request.dedup_key)
        async with audited(self._store.pool, f"alerts/{alert_id}", "resolve") as change:
            row = await self._store.resolve(alert_id, request.resolved_by, request.resolution_note, change)
        metrics.ALERTS_RESOLVED.labels(row["severity"]).inc()
        return pb.ResolveAlertResponse(alert=model.to_alert(row))

    async def WatchAlerts(self, request, context):
        flt = validation.alert_filter(request, "min_severity")
        cursor = request.after_sequence if request.HasField("after_sequence") else await self._store.last_sequence()
        while True:
            rows = await self._store.changes_after(cursor, flt, WATCH_BATCH)
            for row in rows:
                yield pb.WatchAlertsResponse(alert=model.to_alert(row), change=model.change_of(row))
            if rows:
                cursor = rows[-1]["sequence"]
            if len(rows) < WATCH_BATCH:
                await self._signal.wait(self._watch_poll_s)
