"""A local OIDC token issuer for the harness: what Entra ID is to the platform on AKS.

It holds an RSA key in the harness's PKI folder, publishes it as a JWKS over HTTPS
(/.well-known/openid-configuration, /jwks.json) for the services to verify against, and mints
RS256 tokens with a `roles` claim: in process (`mint`, used by the mesh, tests and
`meters token`) or over HTTP for curl (`POST /token` with `roles=grid_ops,analyst`).
Run: python -m meters.security.issuer --pki DIR --addr 127.0.0.1:PORT. Development only.
"""

import argparse
import base64
import hashlib
import json
import ssl
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from meters.security import pki

AUDIENCE = "api://meters"
KEY_FILE = "issuer-signing-key.pem"
URL_FILE = "issuer.url"  # the running issuer's URL, written by the mesh: the `iss` of its tokens
TOKEN_TTL_S = 8 * 3600


def signing_key(pki_dir: Path) -> rsa.RSAPrivateKey:
    path = pki_dir / KEY_FILE
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    return serialization.load_pem_private_key(path.read_bytes(), None)


def key_id(key: rsa.RSAPrivateKey) -> str:
    """The RFC 7638 thumbprint of the public key: stable, and changes when the key does."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def jwks(key: rsa.RSAPrivateKey) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=key_id(key), use="sig", alg="RS256")
    return {"keys": [jwk]}


def mint(pki_dir: Path, issuer_url: str, roles: list[str] | tuple[str, ...], subject: str = "dev-user",
         ttl_s: int = TOKEN_TTL_S, audience: str = AUDIENCE, now: float | None = None) -> str:
    key = signing_key(pki_dir)
    now = time.time() if now is None else now
    claims = {"iss": issuer_url, "sub": subject, "aud": audience, "iat": int(now), "nbf": int(now) - 5,
              "exp": int(now + ttl_s), "roles": list(roles), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key)})


def serve(pki_dir: Path, addr: str) -> None:
    host, port = addr.rsplit(":", 1)
    pki.make_pki(pki_dir, ("issuer",))
    issuer_url = f"https://{addr}"
    key = signing_key(pki_dir)
    discovery = {"issuer": issuer_url, "jwks_uri": f"{issuer_url}/jwks.json", "token_endpoint": f"{issuer_url}/token",
                 "id_token_signing_alg_values_supported": ["RS256"]}

    class Handler(BaseHTTPRequestHandler):
        def _json(self, body: dict, status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/.well-known/openid-configuration":
                self._json(discovery)
            elif self.path == "/jwks.json":
                self._json(jwks(key))
            else:
                self._json({"error": "not_found"}, 404)

        def do_POST(self):  # noqa: N802
            if self.path != "/token":
                return self._json({"error": "not_found"}, 404)
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
            roles = [r for r in ",".join(form.get("roles", [])).split(",") if r]
            subject = form.get("sub", ["dev-user"])[0]
            self._json({"access_token": mint(pki_dir, issuer_url, roles, subject), "token_type": "Bearer",
                        "expires_in": TOKEN_TTL_S})

        def log_message(self, *args):  # quiet: the mesh's logs are JSON
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_path(pki_dir, "issuer"), pki.key_path(pki_dir, "issuer"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pki", type=Path, required=True)
    parser.add_argument("--addr", required=True)
    args = parser.parse_args()
    serve(args.pki, args.addr)


if __name__ == "__main__":
    main()
