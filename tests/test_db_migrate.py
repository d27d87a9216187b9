"""Migrations survive a migrator killed mid-way (its yoyo lock row left behind) and stay serialised."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg

from meters.db import migrate


def _migrations(tmp_path: Path, sleep_s: float = 0) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "0001_t.sql").write_text(f"SELECT pg_sleep({sleep_s});\nCREATE TABLE t (id int8 PRIMARY KEY);\n")
    return d


def test_a_migrator_killed_mid_migration_does_not_block_the_next(fresh_db, tmp_path):
    migrate(fresh_db)  # the audit schema, which every run applies first: the counts below are the test's own
    slow = _migrations(tmp_path, sleep_s=60)
    code = textwrap.dedent(f"""
        from meters.db import migrate
        migrate({fresh_db!r}, {str(slow)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    with psycopg.connect(fresh_db) as conn:  # wait until it holds yoyo's lock row and is migrating
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if conn.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0]:
                    break
            except psycopg.errors.UndefinedTable:
                conn.rollback()
            time.sleep(0.1)
        else:
            raise AssertionError("the first migrator never took yoyo's lock")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0] == 1  # left behind

    (slow / "0001_t.sql").write_text("CREATE TABLE t (id int8 PRIMARY KEY);\n")
    assert migrate(fresh_db, slow) == 1  # would time out on the stale row without the advisory lock
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0] == 0
        assert conn.execute("SELECT to_regclass('t') IS NOT NULL").fetchone()[0]
    assert migrate(fresh_db, slow) == 0
