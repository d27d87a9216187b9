"""Every call of a mesh RPC in the platform's own code (services, shared package, benchmarks, scripts)
passes a deadline (`timeout=`): a call without one waits for ever on a stuck server."""

import ast
import importlib
from pathlib import Path

import meters

ROOT = Path(__file__).resolve().parent.parent
CLIENT_CODE = ["meters", "ingest_svc", "scoring_svc", "forecast_svc", "customer_svc", "alert_svc", "model_serving",
               "bench", "scripts"]


def rpc_names() -> set[str]:
    """Every method of every meters.*.v1 service, from the generated descriptors."""
    names = set()
    for module in sorted(Path(meters.__path__[0]).glob("*/v1/*_service_pb2.py")):
        descriptor = importlib.import_module(f"meters.{module.parent.parent.name}.v1.{module.stem}").DESCRIPTOR
        for service in descriptor.services_by_name.values():
            names |= {m.name for m in service.methods}
    return names


def calls_without_deadline(path: Path, rpcs: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{path}:{node.lineno} {ast.unparse(node.func)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in rpcs
            and not any(k.arg == "timeout" for k in node.keywords)]


def test_every_rpc_call_has_a_deadline():
    rpcs = rpc_names()
    assert {"StreamReadings", "CreateAlert", "GetDemandForecast"} <= rpcs
    files = [p for d in CLIENT_CODE for p in (ROOT / d).rglob("*.py") if "_pb2" not in p.name]
    missing = [hit for p in files for hit in calls_without_deadline(p, rpcs)]
    assert not missing, "RPC calls without timeout=:\n" + "\n".join(missing)


def test_the_check_sees_a_call_without_a_deadline(tmp_path):
    code = tmp_path / "client.py"
    code.write_text("stub.StreamReadings(iter(requests))\nstub.GetMeter(request, timeout=10)\n")
    assert [hit.split(" ", 1)[1] for hit in calls_without_deadline(code, rpc_names())] == ["stub.StreamReadings"]
