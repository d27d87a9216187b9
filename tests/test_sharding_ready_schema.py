"""The schema every service's migrations make can be distributed by meter id (issue 16, meters/sharding.py):
read from the PostgreSQL catalog of a freshly migrated database, every table is placed in the plan, every
meter-keyed table is distributed on its meter id with that column in each of its unique keys, and no
foreign key crosses meters or leaves for a table that is not on the same node."""

import copy
import shutil
from pathlib import Path

import psycopg
import pytest

from meters import sharding
from meters.db import migrate

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[1]
SERVICE_MIGRATIONS = [*sorted(REPO.glob("*_svc/migrations")), REPO / "meters" / "model_lifecycle" / "migrations"]
INGEST_MIGRATIONS = REPO / "ingest_svc" / "migrations"
METER_ID_KEYS = "ingest_0007_meter_id_in_keys.sql"

TABLES = """SELECT c.oid, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
              AND n.nspname NOT LIKE '\\_timescaledb%'"""
COLUMNS = "SELECT attrelid, attnum, attname FROM pg_attribute WHERE attnum > 0 AND NOT attisdropped"
UNIQUE_KEYS = """SELECT i.indrelid, ci.relname, i.indisprimary, i.indkey::int2[] FROM pg_index i
                 JOIN pg_class ci ON ci.oid = i.indexrelid WHERE i.indisunique"""
PARTITION_KEYS = "SELECT partrelid, partattrs::int2[] FROM pg_partitioned_table"
FOREIGN_KEYS = "SELECT conname, conrelid, conkey, confrelid, confkey FROM pg_constraint WHERE contype = 'f'"


class Catalog:
    """The tables of one database as the rules need them: names, columns, keys, partitioning."""

    def __init__(self, dsn: str):
        with psycopg.connect(dsn) as conn:
            self.names = dict(conn.execute(TABLES).fetchall())
            columns: dict[int, dict[int, str]] = {}
            for rel, num, name in conn.execute(COLUMNS).fetchall():
                columns.setdefault(rel, {})[num] = name
            self.columns = {self.names[o]: set(c.values()) for o, c in columns.items() if o in self.names}
            name_of = lambda rel, nums: [columns[rel].get(n, "<expression>") for n in nums]  # noqa: E731
            self.unique = [(self.names[rel], index, primary, name_of(rel, nums))
                           for rel, index, primary, nums in conn.execute(UNIQUE_KEYS).fetchall() if rel in self.names]
            self.partition_keys = {self.names[rel]: name_of(rel, nums)
                                   for rel, nums in conn.execute(PARTITION_KEYS).fetchall() if rel in self.names}
            self.foreign = [(name, self.names[rel], name_of(rel, keys), self.names[frel], name_of(frel, fkeys))
                            for name, rel, keys, frel, fkeys in conn.execute(FOREIGN_KEYS).fetchall()
                            if rel in self.names]

    def tables(self) -> set[str]:
        return set(self.names.values())

    def primary_key(self, table: str) -> list[str]:
        return next((cols for t, _, primary, cols in self.unique if t == table and primary), [])


def violations(catalog: Catalog, plan=sharding) -> list[str]:
    """Every way the catalog breaks the distribution plan, one line each (empty: shardable)."""
    found = []
    tables = catalog.tables()
    for table in sorted(tables):
        if plan.classification(table) is None:
            found.append(f"{table}: not placed in meters/sharding.py (distributed, reference or local)")
    placed = {*plan.DISTRIBUTED, *plan.REFERENCE, *plan.LOCAL}
    found += [f"{t}: in meters/sharding.py but not in the schema" for t in sorted(placed - tables)]
    found += [f"{t}: placed twice in meters/sharding.py" for t in sorted(placed)
              if [t in plan.DISTRIBUTED, t in plan.REFERENCE, t in plan.LOCAL].count(True) > 1]
    for table in sorted(tables):
        if "meter_id" in catalog.columns[table] and plan.classification(table) != "distributed":
            found.append(f"{table}: has meter_id but is not distributed by it")
    for table, column in sorted(plan.DISTRIBUTED.items()):
        if table not in tables:
            continue
        if column not in catalog.primary_key(table):
            found.append(f"{table}: primary key {catalog.primary_key(table)} lacks {column}")
        partition_key = catalog.partition_keys.get(table, [])
        if not set(partition_key) <= set(catalog.primary_key(table)):
            found.append(f"{table}: partition key {partition_key} not within its primary key")
        found += [f"{table}: unique {index} {cols} lacks {column}"
                  for t, index, _, cols in catalog.unique if t == table and column not in cols]
    for name, table, cols, target, target_cols in catalog.foreign:
        found += [f"{table}: foreign key {name} -> {target}: {why}"
                  for why in _foreign_key_faults(plan, table, cols, target, target_cols)]
    return found


def _foreign_key_faults(plan, table, cols, target, target_cols) -> list[str]:
    kind, target_kind = plan.classification(table), plan.classification(target)
    if target_kind == "reference" or (kind == target_kind == "local"):
        return []
    if kind == target_kind == "distributed" and plan.colocation_group(table) == plan.colocation_group(target):
        pairs = set(zip(cols, target_cols))
        if (plan.DISTRIBUTED[table], plan.DISTRIBUTED[target]) in pairs:
            return []
        return ["does not join the meter id on both sides (a cross-meter foreign key)"]
    return [f"from a {kind} table to a {target_kind} one (not on the same node)"]


@pytest.fixture(scope="module")
def catalog(local_stack):
    name = "test_sharding_ready_schema"
    admin = local_stack.postgres.dsn_for("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = local_stack.postgres.dsn_for(name)
    migrate(dsn, *SERVICE_MIGRATIONS)
    yield Catalog(dsn)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_every_table_is_placed_and_meter_keyed_tables_shard_by_meter_id(catalog):
    found = violations(catalog)
    assert not found, "\n".join(found)
    assert {t for t in catalog.tables() if "meter_id" in catalog.columns[t]} <= set(sharding.DISTRIBUTED)


def test_the_check_fails_on_a_table_that_breaks_a_rule(catalog):
    """The rules bite: the schema as it was before ingest_0007, and tables added without a place."""
    broken = copy.deepcopy(catalog)
    broken.unique = [u for u in broken.unique if u[1] != "meter_events_pkey"]
    broken.unique.append(("meters.meter_events", "meter_events_pkey", True, ["event_id", "event_time"]))
    broken.names[0] = "meters.new_meter_table"
    broken.columns["meters.new_meter_table"] = {"meter_id", "x"}
    broken.foreign.append(("fk", "grid.outage_meters", ["outage_id"], "meters.meter_events", ["event_id"]))
    broken.foreign.append(("fk2", "customers.customer_recommendations", ["meter_id"], "customers.hourly_usage",
                           ["meter_id"]))
    found = violations(broken)
    assert found == [
        "meters.new_meter_table: not placed in meters/sharding.py (distributed, reference or local)",
        "meters.new_meter_table: has meter_id but is not distributed by it",
        "meters.meter_events: primary key ['event_id', 'event_time'] lacks meter_id",
        "meters.meter_events: unique meter_events_pkey ['event_id', 'event_time'] lacks meter_id",
        "grid.outage_meters: foreign key fk -> meters.meter_events: does not join the meter id on both sides"
        " (a cross-meter foreign key)",
        "customers.customer_recommendations: foreign key fk2 -> customers.hourly_usage: from a local table to a"
        " distributed one (not on the same node)",
    ]


def test_every_unique_key_of_a_reference_table_may_stay(catalog):
    """smart_meters is the meter registry, a reference table (decisions.md 27): UNIQUE (meter_number) is
    checked on the coordinator, as on one node; it is the only cross-meter unique key left."""
    assert ("meters.smart_meters", "smart_meters_meter_number_key", False, ["meter_number"]) in catalog.unique
    assert sharding.classification("meters.smart_meters") == "reference"


def test_meter_id_keys_apply_to_a_database_at_the_previous_head(fresh_db, tmp_path):
    """Production databases upgrade: ingest_0007 on stored rows of every table whose keys it changes."""
    previous = tmp_path / "ingest"
    previous.mkdir()
    for sql in INGEST_MIGRATIONS.glob("*.sql"):
        if sql.name != METER_ID_KEYS:
            shutil.copy(sql, previous / sql.name)
    migrate(fresh_db, previous)
    with psycopg.connect(fresh_db) as conn:
        for parent, part in (("meter_events", "meter_events_20261201"),
                             ("rejected_meter_events", "rejected_meter_events_20261201"),
                             ("rejected_readings", "rejected_readings_20261201")):
            conn.execute(f"CREATE TABLE meters.{part} PARTITION OF meters.{parent}"
                         " FOR VALUES FROM ('2026-12-01 00:00Z') TO ('2026-12-02 00:00Z')")
        conn.execute("""INSERT INTO meters.meter_events (event_id, meter_id, event_type, event_time, detail, ingested_at,
                          kafka_partition, kafka_offset, row_index) VALUES ('e1', 7, 1, '2026-12-01 01:00Z', '',
                          '2026-12-01 01:00Z', 0, 1, 0)""")
        conn.execute("""INSERT INTO meters.rejected_meter_events VALUES ('e2', 7, 1, NULL, '', 'R', '',
                          '2026-12-01 02:00Z', 'meter-events', 0, 2, 0)""")
        conn.execute("""INSERT INTO meters.rejected_readings (meter_id, reason, detail, received_at, source_topic,
                          kafka_partition, kafka_offset, row_index) VALUES (7, 'R', '', '2026-12-01 02:00Z', 't', 0, 3, 0)""")
        conn.execute("""INSERT INTO meters.reading_edits (meter_id, reading_time, after_kwh, after_quality, after_version,
                          rule, kafka_partition, kafka_offset, row_index) VALUES (7, '2026-12-01 00:15Z', 1, 'A', 0,
                          'stream', 0, 4, 0)""")
    assert migrate(fresh_db, INGEST_MIGRATIONS) == 1
    with psycopg.connect(fresh_db) as conn:
        counts = [conn.execute(f"SELECT count(*) FROM meters.{t}").fetchone()[0]
                  for t in ("meter_events", "rejected_meter_events", "rejected_readings", "reading_edits")]
        keys = dict(conn.execute("""SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint
                                    WHERE conname = 'meter_events_pkey' AND conrelid = 'meters.meter_events'::regclass
                                   """).fetchall())
    assert counts == [1, 1, 1, 1]
    assert keys == {"meters.meter_events": "PRIMARY KEY (meter_id, event_id, event_time)"}


def test_citus_ddl_places_every_distributed_and_reference_table_once(catalog):
    ddl = sharding.citus_ddl()
    for table in sharding.REFERENCE:
        assert ddl.count(f"SELECT create_reference_table('{table}');") == 1
    for table, column in sharding.DISTRIBUTED.items():
        assert sum(s.startswith(f"SELECT create_distributed_table('{table}', '{column}',") for s in ddl) == 1
    assert len(ddl) == len(sharding.REFERENCE) + len(sharding.DISTRIBUTED)
    # a reference table is created after the reference tables its foreign keys point at
    order = {t: i for i, t in enumerate(sharding.REFERENCE)}
    for name, table, _, target, _ in catalog.foreign:
        if table in order and target in order:
            assert order[target] < order[table], name
