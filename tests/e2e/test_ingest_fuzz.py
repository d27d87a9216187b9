"""Ingest fuzzed with Hypothesis against the running service, over its real TLS channel with a token.

A mesh of its own (ingest and writer over their own Kafka and PostgreSQL), so that every row in its
database came from this module. Readings are random, on the validation boundaries, NaN, infinite,
huge, subnormal, negative zero; times far past and future, on the future-skew and retention edges,
at the int64 extremes; meters registered, unknown, zero, negative; columns of mismatched lengths.
Strings (meter numbers, types, statuses, resource names, page tokens) are arbitrary unicode.

For every call: OK or INVALID_ARGUMENT with a BadRequest naming exactly the malformed columns (NOT_FOUND
too for lookups), never UNKNOWN or INTERNAL; an OK summary counts every reading sent (accepted +
rejected, rejections by reason add up), and its accepted count is what the documented rules
(reading.proto) give, worked out here independently. At the end of each readings test, what
PostgreSQL holds accounts for every reading acknowledged: stored + kept as rejected + skipped by the
writer as identical re-sends (its own counter) = accepted + rejected.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import grpc
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meters.deadlines import CALL_S, QUERY_S
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc, meter_pb2
from meters.ingest.v1.reading_pb2 import ReadingBatch, RejectionReason
from meters.ingest_client import register_meters
from meters.readings import FLOAT_COLUMNS, INT_COLUMNS
from meters.retention_window import RetentionWindow
from meters.status_details import details_of, error_info, field_violations
from tests.e2e.metrics import metric
from tests.e2e.own_stack import own_mesh
from tests.e2e.readings import meters
from tests.grpc_helpers import wait_for

# The required columns (optional ones such as frequency_hz may be left empty: not fuzzed here).
COLUMN_NAMES = INT_COLUMNS + FLOAT_COLUMNS

pytestmark = pytest.mark.infra

settings.register_profile("ingest-fuzz", deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile("ingest-fuzz")

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
KNOWN = list(range(1, 31))  # registered before fuzzing
RESERVED = 7 * 10**18  # ids from here up are the registration fuzz's; readings never use them
WINDOW = RetentionWindow()  # the mesh runs with the default 24 months
FUTURE_SKEW_S = 300
OK, INVALID, TAKEN = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS


@dataclass
class Fuzz:
    mesh: object
    stub: ingest_service_pb2_grpc.IngestServiceStub
    known: set[int]
    accepted: int = 0
    rejected: int = 0
    codes: Counter = field(default_factory=Counter)  # (method, status) -> calls
    registered: dict[int, meter_pb2.Meter] = field(default_factory=dict)  # by the registration fuzz, first wins
    judged: int = 0  # calls whose accepted count was checked against expected_accepted

    def account(self) -> None:
        """Wait for the writer, then check PostgreSQL holds every acknowledged reading once."""
        expected = self.accepted + self.rejected
        with psycopg.connect(self.mesh.pg_dsn, autocommit=True) as db:
            def held() -> tuple[int, int, int]:  # stored, kept as rejected, identical re-sends skipped
                return (*db.execute("SELECT (SELECT count(*) FROM meters.meter_readings),"
                                    " (SELECT count(*) FROM meters.rejected_readings)").fetchone(), self._identical())

            wait_for(lambda: sum(held()) >= expected, timeout_s=120)
            time.sleep(1)  # room for anything more the writer would wrongly add
            stored, kept, identical = held()
        assert stored + kept + identical == expected, (stored, kept, identical, self.accepted, self.rejected)
        print(f"\naccounted: {self.accepted} accepted + {self.rejected} rejected = {stored} stored"
              f" + {kept} kept as rejected + {identical} identical re-sends skipped by the writer")

    def _identical(self) -> int:
        return int(metric(self.mesh, "ingest-writer", "meters_writer_duplicate_readings_total", kind="identical"))


@pytest.fixture(scope="module")
def fuzz():
    with own_mesh("fuzz", "ingest", "ingest-writer") as (_, mesh), mesh.channel("ingest") as ch:
        register_meters(ch, meters(KNOWN[0], len(KNOWN)))
        state = Fuzz(mesh, ingest_service_pb2_grpc.IngestServiceStub(ch), set(KNOWN))
        yield state
        print(f"\ningest fuzz: {sum(state.codes.values())} calls; statuses {dict(sorted(state.codes.items()))};"
              f" readings accepted {state.accepted}, rejected {state.rejected};"
              f" {state.judged} readings calls' accepted counts checked against the rules")


# --- strategies ---------------------------------------------------------------------------------

def _values(lo: float, hi: float, *edges: float):
    """Plausible values, the column's edges and their float neighbours, and any float at all."""
    near = [x for e in edges for x in (e, math.nextafter(e, -math.inf), math.nextafter(e, math.inf))]
    return st.one_of(st.floats(lo, hi), st.sampled_from(near + [-0.0, 5e-324, -5e-324, 1.7976931348623157e308]),
                     st.floats())  # st.floats(): NaN, infinities, huge, subnormal

METER_IDS = st.one_of(st.sampled_from(KNOWN), st.sampled_from(KNOWN), st.sampled_from([0, -1, INT64_MIN, INT64_MAX]),
                      st.integers(INT64_MIN, RESERVED - 1))
# A time is ("now", offset), ("window", offset from the retention edge) or ("abs", Unix seconds).
TIMES = st.one_of(
    st.tuples(st.just("now"), st.integers(-30 * 86_400, 0)),
    st.tuples(st.just("now"), st.integers(FUTURE_SKEW_S - 2, FUTURE_SKEW_S + 2)),
    st.tuples(st.just("now"), st.sampled_from([3_600, 86_400, 100 * 365 * 86_400])),
    st.tuples(st.just("window"), st.integers(-3, 3)),
    st.tuples(st.just("abs"), st.sampled_from([0, 1, -1, INT64_MIN, INT64_MAX, 253_402_300_799, 253_402_300_800,
                                               -62_135_596_800, 9_224_318_016_000])),  # year 9999, 1 AD, 294276 AD
    st.tuples(st.just("abs"), st.integers(INT64_MIN, INT64_MAX)),
)
ANY_ROW = st.tuples(METER_IDS, TIMES, _values(0, 5, 0), _values(0, 20, 0), _values(170, 290, 180, 280, 210, 250),
                    _values(0, 100, 0), _values(0, 1, 0, 1, 0.8))
# A reading ingest should accept (unless it repeats one): half the rows, so that the writer's paths
# (fast COPY, identical and conflicting re-sends) get their share.
GOOD_ROW = st.tuples(st.sampled_from(KNOWN), st.tuples(st.just("now"), st.integers(-7 * 86_400, 0).map(lambda s: s // 900 * 900)),
                     st.floats(0, 5), st.floats(0, 20), st.floats(180, 280), st.floats(0, 100), st.floats(0, 1))
ROW = st.one_of(GOOD_ROW, ANY_ROW)
# Column length changes: {column: +n extra values / -n dropped}; most batches are well formed.
RESHAPES = st.one_of(st.just({}), st.just({}), st.just({}),
                     st.dictionaries(st.sampled_from(COLUMN_NAMES), st.integers(-3, 3).filter(bool), min_size=1,
                                     max_size=3))
BATCHES = st.tuples(st.lists(ROW, max_size=25), RESHAPES)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # any unicode protobuf can carry


def resolve(time_spec: tuple[str, int], now_s: int) -> int:
    kind, value = time_spec
    t = now_s + value if kind == "now" else WINDOW.start_s(now_s) + value if kind == "window" else value
    return min(max(t, INT64_MIN), INT64_MAX)


def make_batch(rows, reshape: dict[str, int], now_s: int) -> ReadingBatch:
    columns = {name: [r[i] for r in rows] for i, name in enumerate(COLUMN_NAMES)}
    columns["reading_times_unix_s"] = [resolve(t, now_s) for t in columns["reading_times_unix_s"]]
    for name, change in reshape.items():
        values = columns[name]
        columns[name] = values[:max(0, len(values) + change)] if change < 0 else values + [1] * change
    return ReadingBatch(**columns)


def malformed(batch: ReadingBatch) -> set[str]:
    n = len(batch.meter_ids)
    return {name for name in COLUMN_NAMES if len(getattr(batch, name)) != n}


def expected_accepted(batch: ReadingBatch, known: set[int], now_lo: int, now_hi: int) -> int | None:
    """What the rules of reading.proto accept, independently of ingest_svc.validation; None when a time
    sits on an edge that the server's clock second (between now_lo and now_hi) decides."""
    seen, accepted = set(), 0
    for m, t, kwh, kw, v, a, pf in zip(*(getattr(batch, name) for name in COLUMN_NAMES)):
        if not (m in known and t > 0 and all(map(math.isfinite, (kwh, kw, v, a, pf)))
                and kwh >= 0 and kw >= 0 and a >= 0 and 180 <= v <= 280 and 0 <= pf <= 1):
            continue
        late = {t > now + FUTURE_SKEW_S for now in (now_lo, now_hi)}
        old = {t < WINDOW.start_s(now) for now in (now_lo, now_hi)}
        if len(late) > 1 or len(old) > 1:
            return None
        if True in late or True in old or (m, t) in seen:
            continue
        seen.add((m, t))
        accepted += 1
    return accepted


# --- checks -------------------------------------------------------------------------------------

def check_summary(summary, sent: int) -> None:
    assert summary.accepted + summary.rejected == sent
    assert sum(rc.count for rc in summary.rejections) == summary.rejected
    assert all(rc.reason in RejectionReason.values() and rc.reason != 0 and rc.count > 0 for rc in summary.rejections)
    assert summary.voltage_warnings + summary.pf_warnings <= summary.accepted


def check_malformed(err: grpc.RpcError, fields: set[str]) -> None:
    assert err.code() == INVALID, (err.code(), err.details())
    assert error_info(err).reason == "MALFORMED_BATCH"
    assert set(field_violations(err)) == fields


def call(fuzz: Fuzz, method: str, fn, allowed=(OK, INVALID)):
    """fn()'s reply, or the RpcError it raised if its code is one `allowed`; the status is counted."""
    try:
        reply, code = fn(), OK
    except grpc.RpcError as err:
        reply, code = err, err.code()
    fuzz.codes[f"{method} {code.name}"] += 1
    assert code in allowed, (method, code, reply.details() if code != OK else "")
    return reply


# --- tests --------------------------------------------------------------------------------------

def test_ingest_readings_fuzzed(fuzz):
    @settings(FUZZ, max_examples=3000)
    @given(BATCHES)
    def one(drawn):
        rows, reshape = drawn
        now_lo = int(time.time())
        batch = make_batch(rows, reshape, now_lo)
        reply = call(fuzz, "IngestReadings",
                     lambda: fuzz.stub.IngestReadings(pb.IngestReadingsRequest(batch=batch), timeout=CALL_S))
        now_hi = int(time.time())
        if bad := malformed(batch):
            check_malformed(reply, {f"batch.{name}" for name in bad})
            return
        assert isinstance(reply, pb.IngestReadingsResponse), (reply.code(), reply.details())
        check_summary(reply.summary, len(batch.meter_ids))
        if (want := expected_accepted(batch, fuzz.known, now_lo, now_hi)) is not None:
            assert reply.summary.accepted == want
            fuzz.judged += 1
        fuzz.accepted += reply.summary.accepted
        fuzz.rejected += reply.summary.rejected

    one()
    fuzz.account()


def test_stream_readings_fuzzed(fuzz):
    """A stream stops at its first malformed batch; the error carries what the batches before it did."""
    @settings(FUZZ, max_examples=600)
    @given(st.lists(BATCHES, min_size=1, max_size=3))
    def one(drawn):
        now_lo = int(time.time())
        batches = [make_batch(rows, reshape, now_lo) for rows, reshape in drawn]
        requests = [pb.StreamReadingsRequest(batch=b) for b in batches]
        reply = call(fuzz, "StreamReadings", lambda: fuzz.stub.StreamReadings(iter(requests), timeout=CALL_S))
        now_hi = int(time.time())
        first_bad = next((i for i, b in enumerate(batches) if malformed(b)), None)
        if first_bad is not None:
            check_malformed(reply, {f"requests[{first_bad}].batch.{name}" for name in malformed(batches[first_bad])})
            assert error_info(reply).metadata["accepted_batches"] == str(first_bad)
            done = details_of(reply, pb.StreamReadingsResponse)[0]
            summary, good = done.summary, batches[:first_bad]
            assert done.batches == first_bad
        else:
            assert isinstance(reply, pb.StreamReadingsResponse), (reply.code(), reply.details())
            summary, good = reply.summary, batches
            assert reply.batches == len(batches)
        check_summary(summary, sum(len(b.meter_ids) for b in good))
        wants = [expected_accepted(b, fuzz.known, now_lo, now_hi) for b in good]
        if None not in wants:
            assert summary.accepted == sum(wants)
            fuzz.judged += 1
        fuzz.accepted += summary.accepted
        fuzz.rejected += summary.rejected

    one()
    fuzz.account()


SHORT_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=8)
EXTREMES = st.sampled_from([INT64_MIN, -1, INT64_MAX])
NEW_IDS = st.integers(RESERVED, INT64_MAX - 1)
# Registrations that must be accepted (unicode throughout), and any at all: each field now and then
# past its limits (ids, blank numbers, NUL, over-long types and statuses, times past year 9999).
VALID_METER = st.builds(meter_pb2.Meter, meter_id=NEW_IDS, meter_number=TEXT.filter(str.strip),
                        customer_id=st.integers(0, INT64_MAX), transformer_id=st.integers(0, 1000),
                        meter_type=SHORT_TEXT, status=SHORT_TEXT, installed_at_unix_s=st.integers(0, 4_000_000_000))
ANY_METER = st.builds(
    meter_pb2.Meter, meter_id=st.one_of(NEW_IDS, st.sampled_from([0, -1, INT64_MIN])), meter_number=TEXT,
    customer_id=st.integers(INT64_MIN, INT64_MAX), transformer_id=st.integers(INT64_MIN, INT64_MAX),
    meter_type=TEXT, status=TEXT, installed_at_unix_s=st.one_of(EXTREMES, st.integers(INT64_MIN, INT64_MAX)))
METERS_TO_REGISTER = st.lists(st.one_of(VALID_METER, VALID_METER, ANY_METER), max_size=3)


def test_meter_registration_fuzzed_with_unicode(fuzz):
    @settings(FUZZ, max_examples=300)
    @given(METERS_TO_REGISTER)
    def one(batch):
        reply = call(fuzz, "BatchCreateMeters", lambda: fuzz.stub.BatchCreateMeters(
            pb.BatchCreateMetersRequest(meters=batch), timeout=CALL_S), allowed=(OK, INVALID, TAKEN))
        if isinstance(reply, grpc.RpcError):  # INVALID_ARGUMENT, or ALREADY_EXISTS for a number taken
            assert field_violations(reply), reply.details()
            return
        assert reply.created + reply.already_existed == len(batch)
        for m in batch:  # created or already there: registered either way, none dropped
            got = call(fuzz, "GetMeter", lambda: fuzz.stub.GetMeter(
                pb.GetMeterRequest(name=f"meters/{m.meter_id}"), timeout=QUERY_S), allowed=(OK,)).meter
            first = fuzz.registered.setdefault(m.meter_id, m)
            assert (got.meter_number, got.meter_type, got.status or "active") == (
                fuzz.mesh.pii_digest(first.meter_number), first.meter_type, first.status or "active")

    one()


def test_lookups_fuzzed_with_unicode_names_and_extreme_ranges(fuzz):
    names = st.one_of(st.sampled_from(KNOWN).map("meters/{}".format), st.sampled_from(KNOWN).map("meters/{}".format),
                      TEXT, TEXT.map("meters/{}".format), st.integers().map("meters/{}".format))
    times = st.one_of(st.just(0), st.integers(0, 4_000_000_000), EXTREMES, st.integers(INT64_MIN, INT64_MAX))
    ranges = st.one_of(st.just((0, 0)), st.tuples(st.integers(0, 2_000_000_000), st.integers(2_000_000_001, INT64_MAX)),
                       st.tuples(times, times))
    sizes = st.one_of(st.just(0), st.integers(1, 10_000), st.integers(-(2**31), 2**31 - 1))

    @settings(FUZZ, max_examples=300)
    @given(names, ranges, sizes, st.one_of(st.just(""), st.just(""), TEXT))
    def one(name, start_end, size, token):
        start, end = start_end
        allowed = (OK, INVALID, grpc.StatusCode.NOT_FOUND)
        for method, fn in (
            ("GetMeter", lambda: fuzz.stub.GetMeter(pb.GetMeterRequest(name=name), timeout=QUERY_S)),
            ("ListReadings", lambda: fuzz.stub.ListReadings(pb.ListReadingsRequest(
                parent=name, start_time_unix_s=start, end_time_unix_s=end, page_size=size, page_token=token),
                timeout=QUERY_S)),
            ("ListMeters", lambda: fuzz.stub.ListMeters(pb.ListMetersRequest(page_size=size, page_token=token),
                                                         timeout=QUERY_S)),
        ):
            reply = call(fuzz, method, fn, allowed)
            if isinstance(reply, grpc.RpcError) and reply.code() == INVALID:
                assert field_violations(reply), (method, reply.details())

    one()
