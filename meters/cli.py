"""The `meters` command line."""

from pathlib import Path

import typer

from meters.fleet.cli import app as fleet_app

app = typer.Typer(help="Smart-meter analytics platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(fleet_app, name="fleet")

REPO = Path(__file__).resolve().parent.parent
MIGRATION_DIRS = sorted(REPO.glob("*_svc/migrations"))


@db_app.command("migrate")
def db_migrate(dsn: str = typer.Option(..., envvar="METERS_PG_DSN", help="PostgreSQL DSN")) -> None:
    """Apply every service's pending migrations."""
    from meters.db import migrate

    typer.echo(f"applied {migrate(dsn, *MIGRATION_DIRS)} migrations")


@app.command()
def demo(
    meters: int = typer.Option(2000, help="meters in the synthetic fleet"),
    days: int = typer.Option(2, help="days of 15-minute readings"),
    seed: int = typer.Option(42),
    run_dir: Path = typer.Option(REPO / ".run" / "demo", help="state and logs of the local stack"),
) -> None:
    """Start Kafka, PostgreSQL and the services; stream a synthetic fleet through ingest; report."""
    from meters import demo as demo_job

    demo_job.run(meters, days, seed, run_dir)


if __name__ == "__main__":
    app()
