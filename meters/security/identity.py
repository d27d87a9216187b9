"""The caller of the RPC being served: who (token subject or certificate name), with which roles.

The server interceptor sets it for the duration of each call; the audit writer and logs read it
from here, so no servicer has to thread it through its arguments.
"""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    subject: str  # token `sub` (or `oid`), or "cert:<common name>"
    roles: frozenset[str]
    via: str  # "token", "certificate" or "development" (plain-text mode, no checks)
    peer: str = ""  # the certificate common name of the connection, e.g. "gateway"
    method: str = ""  # the full gRPC method being served, e.g. "/meters.alert.v1.AlertService/GetAlert"


ANONYMOUS = Caller("anonymous", frozenset(), "none")
_current: ContextVar[Caller] = ContextVar("meters_caller", default=ANONYMOUS)


def current_caller() -> Caller:
    return _current.get()


def set_caller(caller: Caller):
    """Set for the current task; returns the token for ContextVar.reset."""
    return _current.set(caller)


def reset_caller(token) -> None:
    _current.reset(token)
