"""CustomerService's recommendation lifecycle RPCs (a part of CustomerServicer): translate and delegate
to recommendation_lifecycle; every state change is audited (meters.audit.call) and refreshes the
engagement gauges."""

from customer_svc import engagement, recommendation_lifecycle as lifecycle
from meters.audit import call as audited
from meters.customer.v1 import customer_service_pb2 as pb
from meters.errors import FieldViolation, invalid_argument


def recommendation_name(name: str) -> tuple[str, int]:
    """(customer hash, recommendation id) of "customers/{hash}/recommendations/{id}"."""
    parts = name.split("/")
    if len(parts) != 4 or parts[0] != "customers" or parts[2] != "recommendations" or not parts[1] \
            or len(parts[1]) > 64 or not parts[3].isdigit() or len(parts[3]) > 18:
        raise invalid_argument("name must look like customers/<hash>/recommendations/<number>",
                               FieldViolation("name", "expected customers/<hash>/recommendations/<number>"))
    return parts[1], int(parts[3])


class RecommendationRpcs:
    """Needs self._store (CustomerStore)."""

    async def _transition(self, request, action: str, step, *args, check=None):
        """step(pool, customer hash, id, *args, change) audited as `action` on request.name; then the gauges."""
        async with audited(self._store.pool, request.name, action) as change:
            if check:
                check()
            rec = await step(self._store.pool, *recommendation_name(request.name), *args, change)
        await engagement.refresh_quietly(self._store.pool)
        return rec

    async def GetRecommendation(self, request, context):
        rec = await lifecycle.get(self._store.pool, *recommendation_name(request.name))
        return pb.GetRecommendationResponse(recommendation=rec)

    async def DeliverRecommendation(self, request, context):
        rec = await self._transition(request, "deliver", lifecycle.deliver, request.channel[:30])
        return pb.DeliverRecommendationResponse(recommendation=rec)

    async def AcceptRecommendation(self, request, context):
        return pb.AcceptRecommendationResponse(recommendation=await self._transition(request, "accept", lifecycle.accept))

    async def DeclineRecommendation(self, request, context):
        rec = await self._transition(request, "decline", lifecycle.decline, request.reason[:500])
        return pb.DeclineRecommendationResponse(recommendation=rec)

    async def MeasureRecommendation(self, request, context):
        def check():
            if not 0 <= request.window_days <= 90:
                raise invalid_argument("window_days must be 1 to 90 (0: 28)",
                                       FieldViolation("window_days", "1 to 90, or 0 for 28"))
        rec = await self._transition(request, "measure", lifecycle.measure,
                                     request.window_days or lifecycle.DEFAULT_WINDOW_DAYS, check=check)
        return pb.MeasureRecommendationResponse(recommendation=rec)
