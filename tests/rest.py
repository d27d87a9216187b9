"""A REST client of the gateway for tests: HTTPS trusting the mesh's CA, a bearer token per call."""

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

_DEFAULT = object()


@dataclass
class RestGateway:
    url: str
    context: ssl.SSLContext | None
    token: str = ""  # sent on every call unless a call says otherwise

    def call(self, path: str, method: str = "GET", body: dict | None = None, token=_DEFAULT) -> tuple[int, dict]:
        token = self.token if token is _DEFAULT else token
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.context) as resp:
                return resp.status, _json(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _json(err.read())


def _json(data: bytes) -> dict:
    try:
        return json.loads(data or b"{}")
    except ValueError:
        return {"raw": data.decode(errors="replace")}
