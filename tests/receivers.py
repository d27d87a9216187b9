"""Local stand-ins for notification endpoints that record what they were sent.

`HttpReceiver` answers every POST (PagerDuty, Teams, ServiceNow paths alike) with 2xx and keeps the
path, headers and JSON body; it answers a ServiceNow table query by correlation_id from the incidents
posted so far, keeping those queries apart (`queries`). `SmtpReceiver` is a minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT) that keeps each message. Both can be stopped and started again on the same port,
to play a channel that is down for a while.
"""

import email
import email.policy
import json
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Restartable:
    server_class: type
    handler_class: type

    def __init__(self):
        self.received: list = []
        self._lock = threading.Lock()
        self.port = 0
        self._server = None

    def start(self) -> None:
        owner = self

        class Handler(self.handler_class):
            receiver = owner

        self.server_class.allow_reuse_address = True
        self._server = self.server_class(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def record(self, item) -> None:
        with self._lock:
            self.received.append(item)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


class _HttpHandler(BaseHTTPRequestHandler):
    receiver: "HttpReceiver"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        item = {"method": self.command, "path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        self.receiver.record(item)
        if self.path.endswith("/api/now/table/incident") and self.command == "POST":
            # Like ServiceNow's table API: 201 with the created record, sys_id included.
            status, reply = 201, {"result": {"sys_id": f"{len(self.receiver.received):032x}", **item["json"]}}
        elif "/api/now/table/" in self.path:
            status, reply = 200, {"result": item["json"]}
        else:
            status, reply = 202, {"status": "success"}
        item["reply"] = reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(reply).encode())

    do_PATCH = do_POST

    def do_GET(self):
        """GET /api/now/table/incident?sysparm_query=correlation_id=<key>: the incidents created with that key."""
        url = urllib.parse.urlsplit(self.path)
        key = urllib.parse.parse_qs(url.query).get("sysparm_query", [""])[0].removeprefix("correlation_id=")
        found = [r["reply"]["result"]["sys_id"] for r in self.receiver.on(url.path)
                 if r["method"] == "POST" and r["json"].get("correlation_id") == key and "reply" in r]
        self.receiver.queries.append({"path": self.path, "correlation_id": key, "found": len(found)})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"result": [{"sys_id": sys_id} for sys_id in found[:1]]}).encode())

    def log_message(self, *args):
        pass


class HttpReceiver(_Restartable):
    server_class = ThreadingHTTPServer
    handler_class = _HttpHandler

    def __init__(self):
        super().__init__()
        self.queries: list[dict] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path_prefix: str) -> list[dict]:
        return [r for r in self.received if r["path"].startswith(path_prefix)]


class _SmtpHandler(socketserver.StreamRequestHandler):
    receiver: "SmtpReceiver"

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        try:
            self._session()
        except ConnectionError:  # the sender died mid-session (a crash test): the session is over
            pass

    def _session(self):
        self.reply("220 localhost test SMTP")
        sender, rcpts = None, []
        while line := self.rfile.readline():
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, rcpts = cmd.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpts.append(cmd.split(":", 1)[1].strip())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                msg = email.message_from_bytes(b"".join(data), policy=email.policy.default)
                self.receiver.record({"from": sender, "to": rcpts, "message": msg})
                self.reply("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 command not implemented")


class _SmtpServer(socketserver.ThreadingTCPServer):
    pass


class SmtpReceiver(_Restartable):
    server_class = _SmtpServer
    handler_class = _SmtpHandler


def channel_env(http: HttpReceiver, smtp: SmtpReceiver) -> dict[str, str]:
    """alert_svc's environment pointing all four channels at these receivers, with fast retries."""
    return {
        "METERS_PAGERDUTY_URL": http.url("/pagerduty/v2/enqueue"), "METERS_PAGERDUTY_ROUTING_KEY": "R0UT1NG",
        "METERS_TEAMS_WEBHOOK_URL": http.url("/teams/webhook"), "METERS_SERVICENOW_URL": http.url("/servicenow"),
        "METERS_SERVICENOW_USER": "svc", "METERS_SERVICENOW_PASSWORD": "pw",
        "METERS_SMTP_HOST": "127.0.0.1", "METERS_SMTP_PORT": str(smtp.port),
        "METERS_EMAIL_TO": "grid-ops@example.com, oncall@example.com",
        "METERS_NOTIFY_POLL_S": "0.2", "METERS_NOTIFY_RETRY_BASE_S": "0.2", "METERS_NOTIFY_RETRY_MAX_S": "1",
        "METERS_WATCH_POLL_S": "0.5", "METERS_NOTIFY_TIMEOUT_S": "2",
    }
