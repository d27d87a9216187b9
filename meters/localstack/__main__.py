"""Keep the stack running for development: python -m meters.localstack up|down|status.

State lives in $MET_RUN_DIR (default: <repo>/.run/localstack); ports come from MET_PG_PORT
(55432), MET_KAFKA_PORT (59092) and MET_KAFKA_CONTROLLER_PORT (MET_KAFKA_PORT + 1). The defaults
match the services' own defaults (meters.settings), so a service started by hand finds the stack.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from meters.localstack.stack import LocalStack


def stack_from_env() -> LocalStack:
    repo = Path(__file__).resolve().parents[2]
    run_dir = Path(os.environ.get("MET_RUN_DIR") or repo / ".run" / "localstack")
    pg_port = int(os.environ.get("MET_PG_PORT", 55432))
    kafka_port = int(os.environ.get("MET_KAFKA_PORT", 59092))
    controller_port = int(os.environ.get("MET_KAFKA_CONTROLLER_PORT", kafka_port + 1))
    return LocalStack(run_dir, pg_port, kafka_port, controller_port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m meters.localstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    args = parser.parse_args(argv)
    stack = stack_from_env()
    if args.command == "up":
        started = time.monotonic()
        stack.start()
        print(f"up in {time.monotonic() - started:.1f}s (state in {stack.base_dir})")
    elif args.command == "down":
        stack.stop()
        print("down")
    running = stack.is_running()
    print(f"postgres  {'running' if running['postgres'] else 'stopped'}  METERS_PG_DSN={stack.pg_dsn}")
    print(f"kafka     {'running' if running['kafka'] else 'stopped'}  METERS_KAFKA_BOOTSTRAP={stack.kafka_bootstrap}")
    if args.command == "status":
        return 0 if all(running.values()) else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
