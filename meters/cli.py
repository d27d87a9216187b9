"""The `meters` command line."""

from pathlib import Path

import typer

from forecast_svc.cli import forecast as forecast_command
from meters.fleet.cli import app as fleet_app
from meters.model_lifecycle.cli import app as model_app
from meters.nem12_cli import register as add_nem12_commands
from meters.reliability_cli import register as add_report_commands
from meters.theft_cli import theft_suspects  # noqa: F401  (registers `meters report theft-suspects`)
from meters.vee.cli import app as vee_app

app = typer.Typer(help="Smart-meter analytics platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(fleet_app, name="fleet")
app.add_typer(vee_app, name="vee")
app.add_typer(model_app, name="model")
add_nem12_commands(app)  # meters import nem12 / meters export nem12
add_report_commands(app)  # meters report reliability / theft-suspects
app.command("forecast")(forecast_command)

REPO = Path(__file__).resolve().parent.parent
MIGRATION_DIRS = [*sorted(REPO.glob("*_svc/migrations")), REPO / "meters" / "model_lifecycle" / "migrations"]


@db_app.command("migrate")
def db_migrate(dsn: str = typer.Option(..., envvar="METERS_PG_DSN", help="PostgreSQL DSN")) -> None:
    """Apply every service's pending migrations."""
    from meters.db import migrate

    typer.echo(f"applied {migrate(dsn, *MIGRATION_DIRS)} migrations")


@app.command()
def token(
    role: list[str] = typer.Option(..., "--role", help="a role to grant (repeat): grid_ops, analyst, ..."),
    pki_dir: Path = typer.Option(REPO / ".run" / "up" / "mesh" / "pki", "--pki", help="the local mesh's PKI folder"),
    subject: str = typer.Option("dev-user", help="the token's subject"),
) -> None:
    """Print a token of the local issuer (`make up`'s) carrying the given roles. Development only."""
    from meters.security import issuer

    url_file = pki_dir / issuer.URL_FILE
    if not url_file.exists():
        raise typer.BadParameter(f"no local issuer in {pki_dir}: run `make up` first", param_hint="--pki")
    typer.echo(issuer.mint(pki_dir, url_file.read_text().strip(), role, subject))


@app.command()
def demo(
    meters: int = typer.Option(2000, help="meters in the synthetic fleet"),
    days: int = typer.Option(7, help="days of 15-minute readings"),
    seed: int = typer.Option(42),
    run_dir: Path = typer.Option(REPO / ".run" / "demo", help="state and logs of the local stack"),
) -> None:
    """Start Kafka, PostgreSQL and the services; stream a synthetic fleet through ingest; report."""
    from meters import demo as demo_job

    demo_job.run(meters, days, seed, run_dir)


@app.command()
def train(
    model: str = typer.Argument("", help="one model: anomaly, failure, segmentation or forecast (default: all,"
                                         " trained on the synthetic fleet and promoted)"),
    meters: int = typer.Option(3000, help="meters in the training fleet"),
    days: int = typer.Option(21, help="days of readings"),
    seed: int = typer.Option(7),
    training_days: int = typer.Option(28, help="forecast: days of measured demand fitted"),
    holdout_days: int = typer.Option(1, help="forecast: days after them scored as the holdout"),
    data_end: str = typer.Option("", help="forecast: the data window ends here (ISO time; default the latest)"),
    quick: bool = typer.Option(False, help="small fleets (tests)"),
    job: str = typer.Option("cli", help="who runs it, recorded with the run: cli, schedule, cronjob"),
    dsn: str = typer.Option("", envvar="METERS_PG_DSN", help="PostgreSQL DSN (one model: the run's record)"),
) -> None:
    """Train models. With MODEL: one model, recorded in the model registry (model_registry.runs) and
    then put in shadow (forecast) or promoted (docs/model-lifecycle.md)."""
    from meters.model_registry import ModelRegistry

    if not model:
        from meters.ml_jobs import MlJob, train_all

        for name, version in train_all(MlJob(ModelRegistry(), REPO / "reports", meters, days, seed)).items():
            typer.echo(f"promoted {name} {version}")
        return
    import asyncio
    import datetime as dt

    from meters.model_lifecycle import jobs
    from meters.model_lifecycle.schedules import SCHEDULES
    from meters.model_lifecycle.trainers import options

    if model not in SCHEDULES:
        raise typer.BadParameter(f"one of {', '.join(SCHEDULES)}", param_hint="MODEL")
    if not dsn:
        raise typer.BadParameter("needed to record the run", param_hint="--dsn / METERS_PG_DSN")
    end = dt.datetime.fromisoformat(data_end) if data_end else None
    done = asyncio.run(jobs.run(model, dsn, ModelRegistry(), options(
        training_days=training_days, holdout_days=holdout_days, data_end=end, meters=meters, days=days, seed=seed,
        quick=quick), job))
    typer.echo(f"{done['decision']} {done['model']} {done['version']} (run {done['run_id']},"
               f" sha256 {done['artifact_sha256']})")


@app.command()
def evaluate(
    meters: int = typer.Option(3000, help="meters in the evaluation fleet"),
    days: int = typer.Option(21, help="days of readings"),
    seed: int = typer.Option(7),
) -> None:
    """Evaluate the promoted models on held-out data: reports/metrics.json and PNG plots."""
    from meters.ml_jobs import MlJob, evaluate_all
    from meters.model_registry import ModelRegistry

    figures = evaluate_all(MlJob(ModelRegistry(), REPO / "reports", meters, days, seed))
    for key, value in sorted(figures.items()):
        typer.echo(f"{key:40s} {value:12.4f}")


if __name__ == "__main__":
    app()
