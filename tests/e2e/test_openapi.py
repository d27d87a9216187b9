"""The gateway's OpenAPI description (generated from proto/ by `make gateway`) and its 405s."""

import importlib
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from google.api import annotations_pb2

import meters

pytestmark = pytest.mark.infra


def _get(gateway, path: str, method: str = "GET") -> tuple[int, dict, bytes]:
    headers = {"Authorization": f"Bearer {gateway.token}"}
    req = urllib.request.Request(gateway.url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=gateway.context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def _annotated_rpcs() -> set[str]:
    """Service_Method of every RPC in the generated stubs with a google.api.http mapping."""
    rpcs = set()
    for stub in Path(meters.__file__).parent.glob("*/v1/*_service_pb2.py"):
        module = importlib.import_module(f"meters.{stub.parent.parent.name}.v1.{stub.stem}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if method.GetOptions().HasExtension(annotations_pb2.http):
                    rpcs.add(f"{service.name}_{method.name}")
    assert len(rpcs) > 40
    return rpcs


def test_openapi_describes_every_rest_mapping(gateway):
    status, headers, body = _get(gateway, "/openapi.json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    spec = json.loads(body)
    assert spec["swagger"] == "2.0" and spec["securityDefinitions"]["bearer"]["name"] == "Authorization"
    operations = [op for ops in spec["paths"].values() for op in ops.values()]
    # an additional binding is a second operation of the same RPC, named with a digit suffix
    rpcs = _annotated_rpcs()
    ids = {op["operationId"] for op in operations}
    assert {i if i in rpcs else re.sub(r"\d+$", "", i) for i in ids} == rpcs
    assert all("rpcStatus" in op["responses"]["default"]["schema"]["$ref"] for op in operations)
    # the gateway's JSON uses proto field names, and so does the description
    assert "reading_times_unix_s" in spec["definitions"]["v1ReadingBatch"]["properties"]
    # field comments become descriptions
    assert spec["definitions"]["v1ReadingBatch"]["properties"]["reading_times_unix_s"].get("description")


@pytest.mark.parametrize("path, method, allow", [
    ("/api/v1/alerts", "DELETE", "GET, POST"),
    ("/api/v1/meters/123", "PUT", "GET"),
    ("/api/v1/readings:ingest", "GET", "POST"),
])
def test_unsupported_method_on_a_known_path_is_405_with_allow(gateway, path, method, allow):
    status, headers, body = _get(gateway, path, method)
    assert status == 405, body
    assert headers["Allow"] == allow
    assert json.loads(body)["message"] == "Method Not Allowed"


def test_unknown_path_is_still_404(gateway):
    status, _, _ = _get(gateway, "/api/v1/nothingHere")
    assert status == 404


def test_swagger_ui_is_served_offline_over_the_description(gateway):
    status, headers, body = _get(gateway, "/docs/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    page = body.decode()
    assert "/openapi.json" in page and "swagger-ui" in page
    # the page's script is the binary's own copy (no CDN): served from under /docs/
    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', page).group(1)
    assert not script.startswith("http")
    status, _, bundle = _get(gateway, "/docs/" + script.rsplit("/", 1)[-1])
    assert status == 200 and b"SwaggerUIBundle" in bundle
