"""A throwaway PostgreSQL cluster on loopback, run as the `postgres` OS user when we are root."""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import psycopg

from meters.localstack.common import LOOPBACK, PortTaken, StartError, pid_alive, port_open, port_taken_in, signal_pid

DATABASE = "meters"
OS_USER = "postgres"  # the server refuses to run as root

# Appended to postgresql.conf once, after initdb. Durable (fsync, synchronous_commit on) but
# sized for tests and benchmarks on a small machine.
TUNING = f"""
# --- meters.localstack ---
listen_addresses = '{LOOPBACK}'
shared_buffers = 256MB
max_wal_size = 2GB
checkpoint_timeout = 15min
synchronous_commit = on
max_connections = 200
log_line_prefix = '%m [%p] %d '
log_min_messages = warning
"""


def pg_bin_dir() -> Path:
    """MET_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian's layout)."""
    if env := os.environ.get("MET_PG_BIN"):
        return Path(env)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise StartError("PostgreSQL server binaries not found (apt-get install postgresql-15)", Path("/dev/null"))
    return found[-1].parent


class LocalPostgres:
    def __init__(self, base_dir: Path, port: int):
        self.base_dir = Path(base_dir).resolve()
        self.port = port
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "run"
        self.log_file = self.base_dir / "postgres.log"
        self.bin = pg_bin_dir()

    @property
    def dsn(self) -> str:
        return self.dsn_for(DATABASE)

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def _as_owner(self, *args: str, **kw) -> subprocess.CompletedProcess:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", OS_USER, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, **kw)

    def _prepare_dirs(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam(OS_USER)
        for path in (self.base_dir, self.socket_dir, *([self.data_dir] if self.data_dir.exists() else [])):
            if path.stat().st_uid != pw.pw_uid:
                shutil.chown(path, pw.pw_uid, pw.pw_gid)
        self.log_file.touch()
        shutil.chown(self.log_file, pw.pw_uid, pw.pw_gid)
        # Every parent must be traversable by the postgres user; mkdtemp makes 0700 dirs, so give
        # the ones we own o+x (traverse, not list).
        for parent in self.base_dir.parents:
            st = parent.stat()
            if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
                parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)
        if subprocess.run(["runuser", "-u", OS_USER, "--", "test", "-w", str(self.base_dir)]).returncode != 0:
            raise StartError(f"user {OS_USER} cannot write {self.base_dir}: make its parents world-executable",
                             self.log_file)

    def _initdb(self) -> None:
        r = self._as_owner("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8")
        if r.returncode != 0:
            self.log_file.write_text(r.stdout + r.stderr)
            raise StartError(f"initdb failed in {self.data_dir}", self.log_file)
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write(TUNING)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._as_owner("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0

    def start(self) -> "LocalPostgres":
        self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.is_running():
            if port_open(self.port):
                raise PortTaken(f"port {self.port} is already taken by another process", self.log_file)
            opts = f"-p {self.port} -k {self.socket_dir}"
            r = self._as_owner("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                               "-w", "-t", "120", "-o", opts)
            if r.returncode != 0:
                error = PortTaken if port_taken_in(self.log_file) else StartError
                raise error(f"PostgreSQL did not start on port {self.port}: {r.stdout}{r.stderr}".strip(),
                                 self.log_file)
        self._ensure_database(DATABASE)
        return self

    def _ensure_database(self, name: str) -> None:
        try:
            with psycopg.connect(self.dsn_for("postgres"), autocommit=True, connect_timeout=10) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
                    conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as e:
            raise StartError(f"PostgreSQL on port {self.port} is not answering: {e}", self.log_file) from e

    def stop(self) -> None:
        if self.is_running():
            r = self._as_owner("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60")
            if r.returncode != 0:
                self._as_owner("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w")

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL the postmaster and every server process under it, no clean shutdown: the crash case
        (an OOM kill, a lost node). The next start() runs crash recovery from the WAL. Children are
        killed too: a backend outliving its postmaster would keep the shared memory and stop that start."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        victims = [pid, *_children(pid)]
        for p in victims:
            signal_pid(p, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while any(pid_alive(p) for p in victims):
            if time.monotonic() > deadline:
                raise StartError(f"PostgreSQL processes {victims} still alive after SIGKILL", self.log_file)
            time.sleep(0.05)


def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc/*/stat: the field after the command's closing paren)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found
