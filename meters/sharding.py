"""How the mesh's tables would be spread over a sharded PostgreSQL (Citus / Azure Cosmos DB for
PostgreSQL) by meter id: the distribution plan, in one place (docs/scaling.md, docs/decisions.md 27).

Every table of every service's schema is placed here, in exactly one class
(tests/test_sharding_ready_schema.py reads the catalog and fails on a table that is not):

- DISTRIBUTED: meter-keyed tables, hash-distributed on their meter id column, all in one co-location
  group so that one meter's readings, events, rejections, edits, usage and connections live on the
  same node and join there. Each key (primary, unique) holds the meter id; a time-partitioned one
  stays partitioned by time on every shard (daily retention is unchanged).
- REFERENCE: small dimension tables, copied to every node so that any shard joins them locally.
- LOCAL: tables that stay on the coordinator: service bookkeeping (consumer offsets, outboxes,
  detector state, migration history), the audit trail, and per-asset or per-network results that are
  not keyed by meter.

Nothing here runs Citus: `citus_ddl()` writes the statements an operator would run on the coordinator
after `meters db migrate`.
"""

# co-location group -> {table: its distribution column}; the group's first table anchors it.
COLOCATION_GROUPS: dict[str, dict[str, str]] = {
    "meter": {
        "meters.meter_readings": "meter_id",
        "meters.rejected_readings": "meter_id",
        "meters.reading_edits": "meter_id",
        "meters.meter_events": "meter_id",
        "meters.rejected_meter_events": "meter_id",
        "grid.meter_connections": "meter_id",
        "grid.outage_meters": "meter_id",
        "customers.customer_meters": "meter_id",
        "customers.hourly_usage": "meter_id",
        "forecast.meter_scopes": "meter_id",
    },
}

# In an order that puts a foreign key's target before the table holding the key.
REFERENCE: tuple[str, ...] = (
    # the meter registry: a lookup by meter number from any node; one row per meter (decisions.md 27)
    "meters.smart_meters",
    "grid.substations",
    "grid.feeders",
    "grid.transformers",
    "grid.planned_work",
    "customers.segmentation_runs",
    "customers.segment_profiles",
    "customers.customers",  # target of customer_meters' foreign key
    "customers.regional_weather",
    "customers.regional_weather_forecasts",
    "forecast.model_versions",
    "model_registry.runs",
    "model_registry.decisions",
)

LOCAL: tuple[str, ...] = (
    "public._yoyo_log", "public._yoyo_migration", "public._yoyo_version", "public.yoyo_lock",
    "audit.events", "audit.pending",
    "meters.imported_files",
    "grid.transformer_telemetry", "grid.voltage_stats", "grid.outages", "grid.outage_detector_state",
    "ml.predictions", "ml.alert_outbox",
    "customers.consumer_offsets", "customers.customer_recommendations", "customers.demand_response_events",
    "customers.demand_response_participants", "customers.usage_months", "customers.usage_summaries",
    "customers.running_summaries", "customers.refold_customers", "customers.refold_regions",
    "forecast.demand_actuals", "forecast.consumer_positions", "forecast.forecast_runs",
    "forecast.demand_forecasts", "forecast.counted_readings", "forecast.shadow_forecasts",
    "alerts.alerts", "alerts.outbox", "alerts.escalation_steps",
)

DISTRIBUTED: dict[str, str] = {t: col for group in COLOCATION_GROUPS.values() for t, col in group.items()}


def colocation_group(table: str) -> str | None:
    return next((name for name, tables in COLOCATION_GROUPS.items() if table in tables), None)


def classification(table: str) -> str | None:
    """'distributed', 'reference', 'local', or None for a table the plan does not place."""
    if table in DISTRIBUTED:
        return "distributed"
    if table in REFERENCE:
        return "reference"
    if table in LOCAL:
        return "local"
    return None


def citus_ddl() -> list[str]:
    """The Citus statements that apply the plan: reference tables first (foreign keys of distributed
    tables point at them), then each co-location group, its first table anchoring the others."""
    statements = [f"SELECT create_reference_table('{t}');" for t in REFERENCE]
    for group in COLOCATION_GROUPS.values():
        anchor = next(iter(group))
        for table, column in group.items():
            colocate = "'none'" if table == anchor else f"'{anchor}'"
            statements.append(f"SELECT create_distributed_table('{table}', '{column}', colocate_with => {colocate});")
    return statements
