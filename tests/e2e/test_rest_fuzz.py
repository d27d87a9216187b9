"""schemathesis against the live gateway and mesh (TLS, tokens on), driven by the gateway's own
/openapi.json: no operation may answer a server error (5xx), with a valid token or with none; every
answer must match the description (status code, content type, headers, body schema: an unset
Timestamp or message is left out, never null); unsupported methods must answer 405 with Allow.
Bounded (examples per operation) so `make test` stays fast; METERS_FUZZ_EXAMPLES raises it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from meters.security import pki

pytestmark = pytest.mark.infra

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
EXAMPLES = os.environ.get("METERS_FUZZ_EXAMPLES", "10")
# Left out: server streams never end by themselves, and :retrain starts a real training job (under the
# full suite's load queued retrains took over 120 s each, which is the job's cost, not an error).
EXCLUDED = r"(:watch|:retrain)$"
# Every answer, success or error, against the description.
CONFORMANCE = "status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"


def _schemathesis(mesh, tmp_path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(SCHEMATHESIS), "run", mesh.gateway_url + "/openapi.json",
           "--tls-verify", str(pki.ca_path(mesh.pki_dir)), "--exclude-path-regex", EXCLUDED,
           "--max-examples", EXAMPLES, "--seed", "18", "--request-timeout", "120", "--workers", "1",
           "--suppress-health-check", "all", "--generation-database", "none", "--no-color", *args]
    # in tmp_path: schemathesis keeps a .schemathesis/ folder in its working directory
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path)


def _failure(run: subprocess.CompletedProcess) -> str:
    """schemathesis' report of what went wrong (its ERRORS / FAILURES sections), then the tail."""
    out = run.stdout
    start = min((i for i in (out.find(" ERRORS "), out.find(" FAILURES ")) if i >= 0), default=max(len(out) - 6000, 0))
    return out[start:start + 12000] + "\n...\n" + out[-3000:] + run.stderr[-2000:]


def test_no_server_error_with_a_valid_token(gateway, mesh, tmp_path):
    run = _schemathesis(mesh, tmp_path, "--header", f"Authorization: Bearer {gateway.token}",
                        "--checks", f"not_a_server_error,unsupported_method,allow_header_conformance,{CONFORMANCE}")
    assert run.returncode == 0, _failure(run)


def test_no_server_error_without_a_token(gateway, mesh, tmp_path):
    run = _schemathesis(mesh, tmp_path, "--checks", f"not_a_server_error,{CONFORMANCE}", "--phases", "examples,coverage")
    assert run.returncode == 0, _failure(run)
