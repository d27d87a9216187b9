"""Alertmanager's webhook receiver inside alert_svc: `POST /alertmanager/v1/webhook` over HTTPS.

On when METERS_ALERTMANAGER_WEBHOOK_PORT is set. TLS with the service's own certificate. A sender is
let in by `Authorization: Bearer <token>` equal to the contents of METERS_ALERTMANAGER_TOKEN_FILE
(read on every request, so a rotated Secret applies without a restart; Alertmanager reads it from its
`credentials_file`), or by a client certificate of the mesh's CA whose common name is listed in
METERS_ALERTMANAGER_CLIENT_CNS. Anything else: 401. In plain-text development mode
(METERS_DEV_PLAINTEXT=1) without a token file every sender is let in, as on the gRPC ports.

Answers: 200 with what was done, 400 with the reason for a body that is not a webhook notification
(nothing changed), 401, 404 for another path, 413 past MAX_BODY, 500 when the store failed
(Alertmanager retries). The HTTP server is the standard library's, on a thread (as the local token
issuer's); each notification is applied on the service's event loop, where the store's pool lives.
Payload handling: alert_svc/alertmanager_intake.py.
"""

import asyncio
import hmac
import json
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from alert_svc import alertmanager_intake as intake
from alert_svc.config import AlertSettings
from alert_svc.store import AlertStore
from meters.audit import Actor

PATH = "/alertmanager/v1/webhook"
MAX_BODY = 4 * 1024 * 1024
READ_TIMEOUT_S = 10.0
APPLY_TIMEOUT_S = 30.0
log = logging.getLogger(__name__)

Apply = Callable[[intake.GroupNotice, Actor], Awaitable[tuple[str, int]]]


def ssl_context(settings: AlertSettings) -> ssl.SSLContext | None:
    if settings.dev_plaintext:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=settings.tls_ca_file)
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    context.verify_mode = ssl.CERT_OPTIONAL  # a certificate is one way in, the token the other
    return context


def peer_cn(cert: dict | None) -> str:
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return ""


class Authenticator:
    def __init__(self, settings: AlertSettings):
        self._token_file = settings.alertmanager_token_file
        self._cns = {c.strip() for c in settings.alertmanager_client_cns.split(",") if c.strip()}
        self._open = settings.dev_plaintext and not self._token_file
        if self._token_file and not self._token():  # fail at start-up, not at the first alert
            raise ValueError(f"METERS_ALERTMANAGER_TOKEN_FILE {self._token_file} is empty")
        if not (self._token_file or self._cns or self._open):
            raise ValueError("the Alertmanager webhook needs METERS_ALERTMANAGER_TOKEN_FILE or "
                             "METERS_ALERTMANAGER_CLIENT_CNS")

    def _token(self) -> str:
        return Path(self._token_file).read_text().strip()

    def actor(self, authorization: str, cert: dict | None) -> Actor | None:
        """The sender, or None when it proved nothing."""
        if self._token_file and authorization.startswith("Bearer "):
            try:
                expected = self._token().encode()
            except OSError:
                log.error("cannot read the Alertmanager token file", exc_info=True)
                expected = b""
            if expected and hmac.compare_digest(authorization.removeprefix("Bearer ").strip().encode(), expected):
                return Actor("alertmanager", "token")
        cn = peer_cn(cert)
        if cn and cn in self._cns:
            return Actor(f"cert:{cn}", "certificate", peer=cn)
        if self._open:
            return Actor("alertmanager", "development")
        return None


def handle(auth: Authenticator, run: Callable[[intake.GroupNotice, Actor], tuple[str, int]],
           authorization: str, cert: dict | None, body: bytes) -> tuple[int, dict]:
    """One request to PATH: (HTTP status, JSON answer). Transport-free, for the handler and the tests."""
    actor = auth.actor(authorization, cert)
    if actor is None:
        return 401, {"error": "unauthenticated: a bearer token or an allowed client certificate is required"}
    try:
        notice = intake.parse(json.loads(body))
    except RecursionError:
        return 400, {"error": "bad payload: nested too deeply"}
    except (ValueError, UnicodeDecodeError) as err:  # BadPayload and bad JSON are ValueErrors
        return 400, {"error": f"bad payload: {str(err)[:300]}"}
    try:
        outcome, alert_id = run(notice, actor)
    except Exception:  # noqa: BLE001 - the store failed: Alertmanager retries a 5xx
        log.error("alertmanager notification not applied", exc_info=True)
        return 500, {"error": "internal error; retry"}
    log.info("alertmanager notification", extra={"fields": {"status": notice.status, "outcome": outcome,
                                                            "alert_id": alert_id}})
    return 200, {"outcome": outcome, "alert": f"alerts/{alert_id}" if alert_id else ""}


def _handler(auth: Authenticator, run) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S

        def setup(self):
            super().setup()
            if isinstance(self.connection, ssl.SSLSocket):  # the handshake on this thread, not the acceptor's
                self.connection.do_handshake()

        def _answer(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                               **(headers or {})}.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 - http.server's naming
            if self.path.split("?", 1)[0] != PATH:
                return self._answer(404, {"error": f"not found; the webhook is POST {PATH}"})
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self._answer(411, {"error": "Content-Length required"})
            if not 0 <= length <= MAX_BODY:
                self.close_connection = True
                return self._answer(413, {"error": f"body over {MAX_BODY} bytes"})
            cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            status, answer = handle(auth, run, self.headers.get("Authorization", ""), cert, self.rfile.read(length))
            self._answer(status, answer, {"WWW-Authenticate": 'Bearer realm="alertmanager"'} if status == 401 else None)

        def log_message(self, *args):  # quiet: the service's logs are JSON
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a failed handshake or a dropped client: not ours to crash on
        log.info("alertmanager webhook connection failed", exc_info=True)


def background_task(settings: AlertSettings, store: AlertStore,
                    enabled: frozenset[str]) -> Callable[[], Awaitable[None]]:
    auth = Authenticator(settings)  # a bad token setting stops the start here
    context = ssl_context(settings)

    async def serve_alertmanager_webhook() -> None:
        loop = asyncio.get_running_loop()

        def run(notice: intake.GroupNotice, actor: Actor) -> tuple[str, int]:
            future = asyncio.run_coroutine_threadsafe(intake.apply(store, enabled, notice, actor), loop)
            try:
                return future.result(APPLY_TIMEOUT_S)
            finally:
                future.cancel()

        server = _Server((settings.alertmanager_webhook_host, settings.alertmanager_webhook_port),
                         _handler(auth, run))
        if context is not None:
            server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        thread = threading.Thread(target=server.serve_forever, name="alertmanager-webhook", daemon=True)
        thread.start()
        log.info("alertmanager webhook listening", extra={"fields": {
            "port": settings.alertmanager_webhook_port, "path": PATH, "tls": context is not None}})
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(server.shutdown)
            server.server_close()

    return serve_alertmanager_webhook
