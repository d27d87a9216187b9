"""Small helpers shared by the server wrappers: errors with log tails, ports, pids."""

import os
import random
import signal
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"


class StartError(RuntimeError):
    """A server did not come up; the message ends with the tail of its log."""

    def __init__(self, what: str, log: Path, lines: int = 40):
        super().__init__(f"{what}\n--- last {lines} lines of {log} ---\n{tail(log, lines)}")


class PortTaken(StartError):
    """Another process holds the port; a caller that picked the port itself can pick another."""


def port_taken_in(log: Path) -> bool:
    return "Address already in use" in tail(log, 200)


def tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def free_port() -> int:
    """A free TCP port on loopback, below Linux's ephemeral range (32768+), so that an outgoing
    connection cannot take it between now and the server's bind; above the mesh's gRPC ports' range."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port in 20000-32000")


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; it is not running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def signal_pid(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
