"""The perimeter, on the real mesh: every RPC of every service is called without a token, with a
wrong role and with a right one, over gRPC and (where it has a REST mapping) through the gateway.

The methods come from the services' own descriptors, not from the role table, so an RPC that the
table forgets cannot slip through: the server refuses to start, and this test names it.
"""

import http.client
import importlib
import json
import re
import ssl
import time

import grpc
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pool, message_factory

from meters.security import issuer, pki
from meters.security.client import ClientIdentity, channel
from meters.security.roles import HUMAN_ROLES, METHOD_ROLES
from tests.grpc_helpers import rich_details

pytestmark = pytest.mark.infra

# Service file (package, file) -> the mesh process hosting it.
HOSTS = {("ingest", "ingest_service"): "ingest", ("scoring", "scoring_service"): "scoring",
         ("scoring", "outage_service"): "scoring", ("forecast", "forecast_service"): "forecast",
         ("customer", "customer_service"): "customer", ("alert", "alert_service"): "alert",
         ("audit", "audit_service"): "alert"}
DENIED = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def hosted_methods():
    """(mesh process, method descriptor) of every RPC the mesh serves."""
    pool = descriptor_pool.Default()
    found = []
    for (package, stem), host in HOSTS.items():
        try:
            importlib.import_module(f"meters.{package}.v1.{stem}_pb2")
        except ModuleNotFoundError:
            continue
        file = pool.FindFileByName(f"meters/{package}/v1/{stem}.proto")
        for service in file.services_by_name.values():
            found += [(host, m) for m in service.methods]
    return found


METHODS = hosted_methods()


def full_name(method) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def call(ch: grpc.Channel, method, timeout: float = 20) -> grpc.StatusCode:
    """Call `method` with an empty request; the status it ended with (OK or the error's code)."""
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    kwargs = dict(request_serializer=request_cls.SerializeToString, response_deserializer=response_cls.FromString)
    name = full_name(method)
    try:
        if method.client_streaming and method.server_streaming:
            for _ in ch.stream_stream(name, **kwargs)(iter([request_cls()]), timeout=timeout):
                break
        elif method.client_streaming:
            ch.stream_unary(name, **kwargs)(iter([request_cls()]), timeout=timeout)
        elif method.server_streaming:
            for _ in ch.unary_stream(name, **kwargs)(request_cls(), timeout=3):
                break
        else:
            ch.unary_unary(name, **kwargs)(request_cls(), timeout=timeout)
    except grpc.RpcError as err:
        if err.code() in DENIED:
            reason = rich_details(err)["ErrorInfo"].reason  # both carry an ErrorInfo
            assert reason, name
        return err.code()
    return grpc.StatusCode.OK


def wrong_role(allowed: frozenset[str]) -> str:
    return sorted(set(HUMAN_ROLES) - allowed)[0]


def test_every_hosted_method_is_in_the_role_table():
    assert METHODS, "no service descriptors found"
    missing = [full_name(m) for _, m in METHODS if full_name(m) not in METHOD_ROLES]
    assert not missing


@pytest.mark.parametrize("host,method", METHODS, ids=[full_name(m) for _, m in METHODS])
def test_grpc_method_needs_a_token_and_a_role(all_services, host, method):
    allowed = METHOD_ROLES[full_name(method)]
    with all_services.channel(host, roles=None) as ch:
        assert call(ch, method) == grpc.StatusCode.UNAUTHENTICATED
    with all_services.channel(host, roles=[wrong_role(allowed)]) as ch:
        assert call(ch, method) == grpc.StatusCode.PERMISSION_DENIED
    with all_services.channel(host, roles=[sorted(allowed)[0]]) as ch:
        assert call(ch, method) not in DENIED


def http_rule(method):
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        return None
    # Path variables get a placeholder of their pattern's shape: {name=meters/*} -> meters/1.
    path = re.sub(r"\{(\w+)=([^}]*)\}", lambda m: m.group(2).replace("*", "1"), getattr(rule, verb))
    path = re.sub(r"\{\w+\}", "1", path)
    return verb.upper(), path, rule.body


REST = [(m, http_rule(m)) for _, m in METHODS if http_rule(m)]


@pytest.mark.parametrize("method,rule", REST, ids=[full_name(m) for m, _ in REST])
def test_rest_route_answers_401_then_403_then_passes(all_services, gateway, method, rule):
    verb, path, body = rule
    payload = {} if body else None
    allowed = METHOD_ROLES[full_name(method)]
    status, reply = gateway.call(path, verb, payload, token="")
    assert status == 401, (path, status, reply)
    error = reply.get("error", reply)  # a server stream's error comes wrapped in {"error": ...}
    assert error["details"][0]["reason"]
    status, reply = gateway.call(path, verb, payload, token=all_services.token([wrong_role(allowed)]))
    assert status == 403, (path, status, reply)
    try:
        status, _ = gateway.call(path, verb, payload, token=all_services.token([sorted(allowed)[0]]))
    except TimeoutError:
        assert method.server_streaming, path  # an open stream (WatchAlerts) waiting for its first event
        return
    assert status not in (401, 403), path


def ingest_method(name: str):
    return next(m for _, m in METHODS if m.name == name)


def test_tokens_are_verified(all_services):
    list_meters = ingest_method("ListMeters")

    def status_with(token: str):
        with channel(all_services.grpc_addr("ingest"), all_services.identity(token=token)) as ch:
            return call(ch, list_meters)

    mint = lambda **kw: all_services.token(["analyst"], **kw)  # noqa: E731
    assert status_with(mint()) == grpc.StatusCode.OK
    assert status_with(mint(now=time.time() - 10 * 3600, ttl_s=60)) == grpc.StatusCode.UNAUTHENTICATED
    assert status_with(mint(audience="api://someone-else")) == grpc.StatusCode.UNAUTHENTICATED
    assert status_with("not-a-jwt") == grpc.StatusCode.UNAUTHENTICATED
    # Signed by a key the issuer does not publish (another issuer's folder, same claims).
    other = all_services.run_dir / "other-issuer"
    other.mkdir(exist_ok=True)
    forged = issuer.mint(other, all_services.issuer_url, ["analyst"])
    assert status_with(forged) == grpc.StatusCode.UNAUTHENTICATED


def test_a_device_certificate_stands_for_its_role(all_services):
    """The head-end's certificate grants meter_head_end without a token, and nothing else."""
    with all_services.channel("ingest", roles=None, cert="head-end") as ch:
        assert call(ch, ingest_method("IngestReadings")) not in DENIED
        assert call(ch, ingest_method("ListMeters")) == grpc.StatusCode.PERMISSION_DENIED


def test_plain_text_and_certificate_less_clients_are_refused(all_services):
    addr = all_services.grpc_addr("ingest")
    list_meters = ingest_method("ListMeters")
    with channel(addr, ClientIdentity(plaintext=True)) as ch:
        assert call(ch, list_meters, timeout=5) == grpc.StatusCode.UNAVAILABLE
    ca = pki.ca_path(all_services.pki_dir).read_bytes()
    creds = grpc.composite_channel_credentials(grpc.ssl_channel_credentials(root_certificates=ca),
                                               grpc.access_token_call_credentials(all_services.token()))
    with grpc.secure_channel(addr, creds) as ch:  # TLS, a valid token, but no client certificate
        assert call(ch, list_meters, timeout=5) == grpc.StatusCode.UNAVAILABLE


def test_gateway_speaks_https_only(all_services, gateway):
    plain = gateway.url.replace("https://", "http://")
    try:
        status, _ = type(gateway)(plain, None, gateway.token).call("/api/v1/meters")
        assert status == 400  # Go's answer to plain HTTP on a TLS port, when it gets to answer
    except ConnectionError:
        pass
    with pytest.raises(Exception) as err:  # a client that does not trust the mesh's CA refuses the gateway
        type(gateway)(gateway.url, ssl.create_default_context(), gateway.token).call("/api/v1/meters")
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


def test_oversized_bodies_are_refused_by_the_gateway(gateway):
    """A body announced past the bound (16 MiB) is answered 413 before it is read, in the error
    model of every other REST error (a google.rpc.Status: RESOURCE_EXHAUSTED, code 8)."""
    host, port = gateway.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=gateway.context, timeout=10)
    conn.putrequest("POST", "/api/v1/readings:ingest")
    conn.putheader("Authorization", f"Bearer {gateway.token}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(17 << 20))
    conn.endheaders()
    conn.send(b"{")
    answer = conn.getresponse()
    assert answer.status == 413 and answer.getheader("Content-Type") == "application/json"
    assert json.loads(answer.read()) == {"code": 8, "message": f"request body over {16 << 20} bytes", "details": []}
    conn.close()
