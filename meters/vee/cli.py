"""`meters vee ...`: VEE's evaluation and tuning on the real SGSC households."""

from pathlib import Path

import typer

app = typer.Typer(help="Validation, estimation and editing of interval data.", no_args_is_help=True)
REPORTS = Path(__file__).resolve().parents[2] / "reports"


@app.command("evaluate")
def evaluate_command(seed: int = typer.Option(7, help="seed of the gaps cut out"),
                     reports: Path = typer.Option(REPORTS, help="where metrics.json and the plot go")) -> None:
    """Only VEE's part of `meters evaluate`: figures merged into reports/metrics.json, and the plot."""
    from meters.ml_jobs import MlJob, merge_figures
    from meters.model_registry import ModelRegistry
    from meters.vee.evaluation import evaluate

    reports.mkdir(parents=True, exist_ok=True)
    figures = evaluate(MlJob(ModelRegistry(), reports, seed=seed))
    merge_figures(reports, figures)
    for key, value in sorted(figures.items()):
        typer.echo(f"{key:40s} {value:12.4f}")


@app.command("run")
def run_command(start: str = typer.Option(..., "--from", help="first interval end, YYYY-MM-DD (NEM time)"),
                end: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD (NEM time), inclusive"),
                ray: str = typer.Option(None, "--ray", envvar="METERS_RAY_ADDRESS",
                                        help="plan the meters as Ray tasks: 'local' or a cluster's HOST:PORT")) -> None:
    """One VEE run over stored readings: gaps and short suspect runs get flagged substitutes (through the
    ingest path, every edit recorded in meters.reading_edits). Reads METERS_PG_DSN and
    METERS_KAFKA_BOOTSTRAP like the ingest server; with --ray each chunk's meters are planned on Ray."""
    import asyncio

    from ingest_svc.config import IngestSettings
    from ingest_svc.vee_run import run_once
    from datetime import date

    from meters.nem12.nemtime import NEM_OFFSET_S

    def nem_midnight_utc_s(day: str) -> int:
        return (date.fromisoformat(day) - date(1970, 1, 1)).days * 86_400 - NEM_OFFSET_S

    start_s = nem_midnight_utc_s(start) + 1  # interval ends after midnight: the first interval of the day
    end_s = nem_midnight_utc_s(end) + 86_400 + 1
    summary = asyncio.run(run_once(IngestSettings(), start_s, end_s, ray or None))
    typer.echo(f"meters {summary.meters}, substitutes {summary.substitutes}, left for review {summary.left_suspect}")


@app.command("tune")
def tune_command(top: int = typer.Option(15, help="configurations to print")) -> None:
    """Search the estimator's settings on the tuning households (never the held-out ones)."""
    from meters.vee.evaluation import tune

    typer.echo(tune().head(top).round(4).to_string(index=False))


if __name__ == "__main__":
    app()
