"""Who may call what: the one role table of the mesh (documented in docs/security.md).

Roles come from the `roles` claim of an OIDC token (Entra ID app roles), or, for devices and
services that call without a token, from the common name of their client certificate
(CERTIFICATE_ROLES). Every RPC of every service has an entry; a server refuses to start with a
method the table does not name, so a new RPC cannot ship open by accident.
"""

GRID_OPS = "grid_ops"  # control room: grid health, alerts, forecasts, demand response events
ANALYST = "analyst"  # data science: models, predictions, segmentation, forecasts
CUSTOMER_SERVICE = "customer_service"  # customer records, recommendations
METER_HEAD_END = "meter_head_end"  # head-end systems and metering data providers: readings in
PLATFORM_ADMIN = "platform_admin"  # registration of assets, model operations, the audit trail
WEATHER_FEED = "weather_feed"  # a weather provider's feed: regional weather forecasts in
SERVICE_SCORING = "service_scoring"  # scoring_svc's own identity (its certificate), raising alerts
SERVICE_FORECAST = "service_forecast"  # forecast_svc's own identity (its certificate), reading weather

HUMAN_ROLES = (GRID_OPS, ANALYST, CUSTOMER_SERVICE, METER_HEAD_END, PLATFORM_ADMIN, WEATHER_FEED)

# Certificate common name -> roles, for callers without a token. The gateway's certificate maps
# to nothing: a REST call without a token is anonymous, whatever proxy carried it.
CERTIFICATE_ROLES: dict[str, frozenset[str]] = {
    "scoring": frozenset({SERVICE_SCORING}),
    "forecast": frozenset({SERVICE_FORECAST}),
    "head-end": frozenset({METER_HEAD_END}),
}

_INGEST = "/meters.ingest.v1.IngestService/"
_SCORING = "/meters.scoring.v1.ScoringService/"
_OUTAGE = "/meters.scoring.v1.OutageService/"
_FORECAST = "/meters.forecast.v1.ForecastService/"
_CUSTOMER = "/meters.customer.v1.CustomerService/"
_ALERT = "/meters.alert.v1.AlertService/"
_AUDIT = "/meters.audit.v1.AuditService/"

_READERS = frozenset({GRID_OPS, ANALYST})


def _roles(*names: str) -> frozenset[str]:
    return frozenset(names)


METHOD_ROLES: dict[str, frozenset[str]] = {
    # ingest
    _INGEST + "StreamReadings": _roles(METER_HEAD_END),
    _INGEST + "IngestReadings": _roles(METER_HEAD_END),
    _INGEST + "ImportNem12": _roles(METER_HEAD_END),
    _INGEST + "ImportNem12File": _roles(METER_HEAD_END),
    _INGEST + "ExportNem12": _roles(ANALYST, PLATFORM_ADMIN),
    _INGEST + "BatchCreateMeters": _roles(PLATFORM_ADMIN),
    _INGEST + "ListMeters": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _INGEST + "GetMeter": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _INGEST + "ListReadings": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE, SERVICE_SCORING),
    _INGEST + "StreamMeterEvents": _roles(METER_HEAD_END),
    _INGEST + "IngestMeterEvents": _roles(METER_HEAD_END),
    _INGEST + "ListMeterEvents": _roles(GRID_OPS, ANALYST, PLATFORM_ADMIN),
    # scoring
    _SCORING + "ScoreReadings": _READERS,
    _SCORING + "StreamScores": _READERS,
    _SCORING + "PredictTransformerFailure": _READERS,
    _SCORING + "ListPredictions": _READERS,
    _SCORING + "GetTransformer": _READERS,
    _SCORING + "ListTransformers": _READERS,
    _SCORING + "GetGridHealth": _READERS,
    _SCORING + "BatchCreateSubstations": _roles(PLATFORM_ADMIN),
    _SCORING + "BatchCreateTransformers": _roles(PLATFORM_ADMIN),
    _SCORING + "BatchCreateMeterConnections": _roles(PLATFORM_ADMIN),
    _SCORING + "RecordTransformerTelemetry": _roles(METER_HEAD_END),
    _SCORING + "ReloadModels": _roles(PLATFORM_ADMIN),
    # outages (in scoring_svc)
    _OUTAGE + "ListOutages": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _OUTAGE + "GetOutage": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _OUTAGE + "WatchOutages": _roles(GRID_OPS, CUSTOMER_SERVICE),
    _OUTAGE + "CreatePlannedWork": _roles(GRID_OPS),
    _OUTAGE + "ListPlannedWork": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _OUTAGE + "BatchCreateFeeders": _roles(PLATFORM_ADMIN),
    _OUTAGE + "GetReliabilityReport": _roles(GRID_OPS, ANALYST),
    # revenue protection: analysts rank suspects, the control room sends the inspection crews
    _OUTAGE + "ListTheftSuspects": _roles(GRID_OPS, ANALYST),
    # forecast
    _FORECAST + "GetDemandForecast": _READERS,
    _FORECAST + "ListForecastRuns": _READERS,
    _FORECAST + "GetForecastModelVersion": _READERS,
    _FORECAST + "RetrainForecastModel": _roles(ANALYST, PLATFORM_ADMIN),
    _FORECAST + "DecideShadowForecastModel": _roles(ANALYST, PLATFORM_ADMIN),
    _FORECAST + "RollbackForecastModel": _roles(ANALYST, PLATFORM_ADMIN),
    _FORECAST + "BatchCreateMeterScopes": _roles(PLATFORM_ADMIN),
    # customer
    _CUSTOMER + "GetCustomer": _roles(CUSTOMER_SERVICE, ANALYST),
    _CUSTOMER + "BatchCreateCustomers": _roles(PLATFORM_ADMIN),
    _CUSTOMER + "ListRecommendations": _roles(CUSTOMER_SERVICE, ANALYST),
    _CUSTOMER + "GetRecommendation": _roles(CUSTOMER_SERVICE, ANALYST),
    _CUSTOMER + "DeliverRecommendation": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "AcceptRecommendation": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "DeclineRecommendation": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "MeasureRecommendation": _roles(CUSTOMER_SERVICE, ANALYST),
    _CUSTOMER + "GetSegmentDistribution": _roles(CUSTOMER_SERVICE, ANALYST),
    _CUSTOMER + "RunSegmentation": _roles(ANALYST),
    _CUSTOMER + "GetSegmentationRun": _roles(ANALYST),
    _CUSTOMER + "CreateDemandResponseEvent": _roles(GRID_OPS),
    _CUSTOMER + "GetDemandResponseEvent": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _CUSTOMER + "ListDemandResponseEvents": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _CUSTOMER + "MeasureDemandResponseEvent": _roles(GRID_OPS, ANALYST),
    _CUSTOMER + "DispatchDemandResponseEvent": _roles(GRID_OPS),
    _CUSTOMER + "CancelDemandResponseEvent": _roles(GRID_OPS),
    _CUSTOMER + "SettleDemandResponseEvent": _roles(GRID_OPS),
    _CUSTOMER + "OptInDemandResponseEvent": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "OptOutDemandResponseEvent": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "ListDemandResponseParticipants": _roles(GRID_OPS, ANALYST, CUSTOMER_SERVICE),
    _CUSTOMER + "SetDemandResponseEnrolment": _roles(CUSTOMER_SERVICE),
    _CUSTOMER + "RecordRegionalWeather": _roles(PLATFORM_ADMIN),
    _CUSTOMER + "RecordRegionalWeatherForecasts": _roles(WEATHER_FEED, PLATFORM_ADMIN),
    _CUSTOMER + "GetRegionalWeather": _roles(SERVICE_FORECAST, GRID_OPS, ANALYST),
    # alert
    _ALERT + "CreateAlert": _roles(GRID_OPS, SERVICE_SCORING),
    _ALERT + "GetAlert": _READERS,
    _ALERT + "ListAlerts": _READERS,
    _ALERT + "WatchAlerts": _READERS,
    _ALERT + "AcknowledgeAlert": _roles(GRID_OPS),
    _ALERT + "ResolveAlert": _roles(GRID_OPS, SERVICE_SCORING),
    # audit
    _AUDIT + "ListAuditEvents": _roles(PLATFORM_ADMIN),
}

# Open to every caller, token or not: the standard health service (Kubernetes probes) and reflection
# (off by default in the chart).
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def missing_methods(full_method_names: list[str]) -> list[str]:
    """Methods a server hosts that the table does not name."""
    return [m for m in full_method_names if not m.startswith(PUBLIC_PREFIXES) and m not in METHOD_ROLES]
