"""No log call of the services or of meters/ is handed a raw customer or meter identifier.

A static guard beside the leak scan of a running mesh (tests/e2e/test_pii_leaks.py), which only sees
the paths the demo's traffic takes: every logging call's arguments (message arguments, extra fields,
exc_info) are read, and one naming an NMI, meter number or account number fails unless the value
goes through a keyed hash (`.digest(...)`) first.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("meters", "ingest_svc", "scoring_svc", "forecast_svc", "customer_svc", "alert_svc", "model_serving")
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
LOGGERS = {"log", "logger", "logs", "logging", "LOG"}
PII_NAMES = {"meter_number", "meter_numbers", "nmi", "nmis", "unknown_nmis", "account_number", "account_numbers"}


def _is_log_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in LOG_METHODS):
        return False
    owner = node.func.value
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute) and owner.func.attr == "getLogger":
        return True
    name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
    return name in LOGGERS or name.endswith("log") or name.endswith("logger")


def _pii_mentions(node: ast.AST) -> list[str]:
    """Names, attributes and dict keys naming an identifier, outside a `.digest(...)` call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "digest":
        return []
    here = []
    if isinstance(node, ast.Name) and node.id in PII_NAMES:
        here.append(node.id)
    elif isinstance(node, ast.Attribute) and node.attr in PII_NAMES:
        here.append(node.attr)
    elif isinstance(node, ast.Dict):
        here += [k.value for k in node.keys if isinstance(k, ast.Constant) and k.value in PII_NAMES]
    return here + [m for child in ast.iter_child_nodes(node) for m in _pii_mentions(child)]


def offending_calls(source: str, filename: str = "<source>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if _is_log_call(node):
            args = [*node.args, *(k.value for k in node.keywords)]
            names = sorted({m for a in args for m in _pii_mentions(a)})
            if names:
                found.append(f"{filename}:{node.lineno}: {', '.join(names)}")
    return found


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if "/v1/" not in p.as_posix() and not p.name.endswith("_pb2.py"))


def test_the_guard_finds_identifiers_handed_to_a_logger():
    bad = '''
log.info("meter %s registered", m.meter_number)
logger.warning("unknown", extra={"fields": {"nmi": block.nmi}})
self._log.error("accounts: %s", account_numbers)
logging.getLogger(__name__).info("imported %s", summary.unknown_nmis)
'''
    assert [line.split(": ", 1)[1] for line in offending_calls(bad)] == [
        "meter_number", "nmi", "account_numbers", "unknown_nmis"]
    fine = '''
log.info("meter registered", extra={"fields": {"meter": pii.digest(m.meter_number), "meter_id": m.meter_id}})
log.info("imported", extra={"fields": {"unknown_nmi_count": summary.unknown_nmi_count}})
print(m.meter_number)
'''
    assert offending_calls(fine) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_log_call_is_handed_a_raw_identifier(package):
    sources = [p for p in _sources() if p.relative_to(ROOT).parts[0] == package]
    assert sources, f"no sources found for {package}"
    found = [f for p in sources for f in offending_calls(p.read_text(), str(p.relative_to(ROOT)))]
    assert not found, "log calls handed a raw identifier:\n" + "\n".join(found)
