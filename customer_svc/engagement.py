"""The plan's engagement figures as Prometheus gauges (customer_svc/metrics.py): recommendation
engagement (accepted / delivered) and demand response participation (participated / targeted over
measured events), read from the database, so every replica exports the same figures. Refreshed after
each lifecycle transition and every REFRESH_S in the background. No customer identifier reaches them."""

import asyncio
import logging

from customer_svc.metrics import DR_PARTICIPATION, RECOMMENDATION_ENGAGEMENT, RECOMMENDATIONS_DELIVERED
from customer_svc.recommendation_lifecycle import DELIVERED

log = logging.getLogger(__name__)
REFRESH_S = 60.0
NAN = float("nan")


async def rates(conn) -> tuple[dict[str, int], float | None, float | None]:
    """(delivered recommendations by status, engagement = accepted / delivered, DR participation =
    participated / targeted over measured events), the plan's two engagement figures."""
    cur = await conn.execute("""SELECT status, count(*) FROM customers.customer_recommendations
                                WHERE status <> 'pending' GROUP BY status""")
    by_status = dict(await cur.fetchall())
    delivered = sum(by_status.get(s, 0) for s in DELIVERED)
    accepted = by_status.get("accepted", 0) + by_status.get("measured", 0)
    cur = await conn.execute("""SELECT sum(customers_participated), sum(customers_targeted)
                                FROM customers.demand_response_events WHERE measured_at IS NOT NULL AND NOT cancelled""")
    participated, targeted = await cur.fetchone()
    return (by_status, accepted / delivered if delivered else None,
            participated / targeted if targeted else None)


async def refresh(pool) -> None:
    async with pool.connection() as conn:
        by_status, engagement, participation = await rates(conn)
    for status in DELIVERED:
        RECOMMENDATIONS_DELIVERED.labels(status).set(by_status.get(status, 0))
    # NaN until there is a figure (nothing delivered, no event measured): unknown, not 0 %.
    RECOMMENDATION_ENGAGEMENT.set(NAN if engagement is None else engagement)
    DR_PARTICIPATION.set(NAN if participation is None else participation)


async def refresh_quietly(pool) -> None:
    """refresh, after a transition that has committed: a failed read must not fail the call."""
    try:
        await refresh(pool)
    except Exception:  # noqa: BLE001 - the background refresh catches up
        log.warning("could not refresh the engagement gauges", exc_info=True)


async def refresh_forever(pool, every_s: float = REFRESH_S) -> None:
    while True:
        await refresh_quietly(pool)
        await asyncio.sleep(every_s)
