"""Meter registrations refused field by field before they reach PostgreSQL (found by tests/e2e/test_ingest_fuzz.py:
each of these was an INTERNAL error from the database or from datetime)."""

from ingest_svc.meter_validation import MAX_UNIX_S, meter_violations
from meters.ingest.v1.meter_pb2 import Meter


def fields(*meters: Meter) -> list[str]:
    return [v.field for v in meter_violations(list(meters))]


def test_a_well_formed_unicode_registration_passes():
    assert fields(Meter(meter_id=1, meter_number="NMI-Ω-1", meter_type="smart ☀", status="активен",
                        installed_at_unix_s=MAX_UNIX_S)) == []


def test_each_fault_is_named_by_its_field():
    assert fields(Meter(meter_id=0, meter_number="x"), Meter(meter_id=2, meter_number="  ")) == ["meters[0]", "meters[1]"]
    assert fields(Meter(meter_id=3, meter_number="x", meter_type="a\x00b", status="s" * 21)) == [
        "meters[0].meter_type", "meters[0].status"]
    assert fields(Meter(meter_id=4, meter_number="x", meter_type="t" * 31)) == ["meters[0].meter_type"]
    assert fields(Meter(meter_id=5, meter_number="x", installed_at_unix_s=MAX_UNIX_S + 1),
                  Meter(meter_id=6, meter_number="x", installed_at_unix_s=-1)) == [
        "meters[0].installed_at_unix_s", "meters[1].installed_at_unix_s"]
