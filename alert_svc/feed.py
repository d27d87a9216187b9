"""Wakes WatchAlerts streams when an alert changes: LISTEN on the alert store's NOTIFY channel."""

from alert_svc.store import NOTIFY_CHANNEL
from meters.change_signal import ChangeSignal as _ChangeSignal


class ChangeSignal(_ChangeSignal):
    def __init__(self, dsn: str):
        super().__init__(dsn, NOTIFY_CHANNEL)
