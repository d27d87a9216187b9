from meters.settings import ServiceSettings


class AlertSettings(ServiceSettings):
    grpc_addr: str = "127.0.0.1:50055"
    metrics_port: int = 9105
    # WatchAlerts re-reads the store at least this often even without a NOTIFY.
    watch_poll_s: float = 1.0

    # Notification channels. A channel without its endpoint is off: alerts are
    # not queued for it (the service logs which channels are on at start-up).
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_routing_key: str = ""
    teams_webhook_url: str = ""
    # ServiceNow instance base URL, e.g. https://example.service-now.com
    servicenow_url: str = ""
    servicenow_user: str = ""
    servicenow_password: str = ""
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    email_from: str = "meters-alerts@localhost"
    # Comma-separated recipients.
    email_to: str = ""
    # Link shown in notifications, e.g. the Grafana Anomaly Tracker.
    console_url: str = ""

    # Outbox drain: poll interval, and retry backoff base and cap (seconds).
    notify_poll_s: float = 1.0
    notify_retry_base_s: float = 2.0
    notify_retry_max_s: float = 300.0
    # Per-request timeout of every channel.
    notify_timeout_s: float = 10.0

    # Escalation (alert_svc/escalation_policy.py): a YAML or JSON routing policy of tiers per severity;
    # empty: the defaults (critical 5 min then 10 min more, warning 30 min then 2 h more, info none).
    escalation_policy_file: str = ""
    # How often the escalator looks for due steps (a step is taken at most this late, plus the outbox's poll).
    escalation_poll_s: float = 2.0
    # Comma-separated recipients of escalated emails (tier 2 and above, e.g. the duty manager); empty: email_to.
    escalation_email_to: str = ""

    # Alertmanager's webhook receiver (alert_svc/alertmanager_webhook.py): off when the port is 0. HTTPS with
    # this service's certificate; a sender needs the bearer token held in the token file (Alertmanager's
    # credentials_file), or a mesh client certificate whose common name is among the comma-separated client_cns.
    alertmanager_webhook_port: int = 0
    alertmanager_webhook_host: str = "127.0.0.1"
    alertmanager_token_file: str = ""
    alertmanager_client_cns: str = ""

    # FAULT INJECTION, for tests only; off ("") by default and never set in the chart. A channel name
    # (pagerduty, teams, email, servicenow) or "any": the process SIGKILLs itself right after its first
    # successful send on that channel, before the outbox commit that records it, to prove that a crash
    # there delivers each notification once after the channel's de-duplication (tests/e2e/test_alert_crash.py).
    fault_kill_after_send: str = ""
