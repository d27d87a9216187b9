"""The mesh's audit trail: who changed what, when, through which method, and how it ended.

One append-only table, `audit.events` (migrations/audit_0001_events.sql, applied by meters.db.migrate
before every service's own migrations). A change and its record commit together: writers take the
caller's open transaction (`Change.record(conn, ...)`), and the audited tables of each service carry
a trigger that makes a transaction changing them without a record fail at COMMIT. Refused attempts
are recorded too, in a transaction of their own (`call`). Read through AuditService.ListAuditEvents
(meters/audit/servicer.py, hosted by alert_svc); docs/security.md has the list of audited methods.
"""

from meters.audit.writer import Actor, Change, call, record

__all__ = ["Actor", "Change", "call", "record"]
