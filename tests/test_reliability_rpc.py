"""GetReliabilityReport's domain side: the request checked field by field, the report message's typed
indices the same as the report's network rows (November's hand-worked sums), a region on its own."""

import grpc
import pytest

from meters.errors import DomainError
from meters.scoring.v1.reliability_pb2 import ReliabilityReport
from scoring_svc.reliability_rpc import build, report_bytes, report_message, scoped, validated
from tests.reliability_cases import NOVEMBER, SERVED


@pytest.mark.parametrize("month, region, fields", [
    ("2026-13", "", ["month"]), ("2026-1", "", ["month"]), ("", "", ["month"]), ("2026-11", "nsw", ["region"]),
    ("Nov 2026", "SA1", ["month", "region"]), ("2999-01", "", ["month"]),
])
def test_bad_requests_name_their_fields(month, region, fields):
    with pytest.raises(DomainError) as err:
        validated(month, region)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in err.value.violations] == fields


def test_message_holds_the_hand_worked_indices_and_the_files():
    msg = report_message(build(*scoped(NOVEMBER, SERVED, ""), "2026-11", ""), "")
    assert (msg.month, msg.customers_served, msg.interruptions) == ("2026-11", 100, 4)
    # 1800 + 1200 + 90 customer-minutes sustained, 1200 of them planned; 40 momentary
    assert msg.total.saidi == pytest.approx(30.9) and msg.planned.saidi == pytest.approx(12.0)
    assert msg.unplanned.saidi == pytest.approx(18.9) and msg.unplanned.saifi == pytest.approx(0.61)
    assert msg.unplanned.caidi == pytest.approx(18.9 / 0.61) and msg.unplanned.maifi == pytest.approx(0.4)
    assert (msg.total.sustained_events, msg.total.momentary_events) == (3, 1)
    assert not msg.major_event_days.HasField("caidi") and msg.major_event_days.saidi == 0
    assert msg.html.startswith(b"<!DOCTYPE html>") and b"Network reliability, 2026-11" in msg.html
    assert msg.events_csv.splitlines()[0].startswith(b"outage_id,") and len(msg.events_csv.splitlines()) == 5


def test_a_region_counts_its_own_customers_and_outages():
    msg = ReliabilityReport.FromString(report_bytes(*scoped(NOVEMBER, SERVED, "VIC"), "2026-11", "VIC"))
    assert (msg.region, msg.customers_served, msg.interruptions) == ("VIC", 40, 2)
    assert msg.planned.saidi == pytest.approx(1200 / 40) and msg.unplanned.maifi == pytest.approx(1.0)
    assert b"Region VIC reliability" in msg.html


def test_no_customers_served_is_not_found():
    with pytest.raises(DomainError) as err:
        scoped(NOVEMBER, SERVED, "TAS")
    assert err.value.code == grpc.StatusCode.NOT_FOUND
