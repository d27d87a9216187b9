"""`meters fleet generate`: write a reproducible synthetic fleet to a directory, with a progress bar."""

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from meters.fleet.config import NEM_TZ, FleetConfig
from meters.fleet.writer import write_fleet

app = typer.Typer(help="Synthetic smart-meter fleet: network, readings and planted truth.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Synthetic smart-meter fleet."""


@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Directory to write (created if missing)."),
    meters: int = typer.Option(1_000, "--meters", min=1),
    days: int = typer.Option(7, "--days", min=1),
    seed: int = typer.Option(42, "--seed"),
    interval_minutes: int = typer.Option(15, "--interval-minutes", help="15 or 30."),
    start: str = typer.Option("2026-01-05", "--start", help="First day, NEM time (UTC+10)."),
    chunk_meters: int = typer.Option(50_000, "--chunk-meters", help="Meters per chunk (memory bound)."),
) -> None:
    """Generate topology, readings and truth under OUT, plus manifest.json."""
    cfg = FleetConfig(meters=meters, days=days, seed=seed, interval_minutes=interval_minutes,
                      start=datetime.fromisoformat(start).replace(tzinfo=NEM_TZ), chunk_meters=chunk_meters)
    console = Console(stderr=True)
    columns = (TextColumn("[bold]fleet"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[readings]:,} readings"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("chunks", total=None, readings=0)

        def on_chunk(n_readings: int, total: int) -> None:
            done = progress.tasks[0].fields["readings"] + n_readings
            progress.update(task, total=total, advance=1, readings=done)

        manifest = write_fleet(cfg, out, on_chunk)
    c = manifest["counts"]
    rate = c["readings"] / manifest["elapsed_s"]
    console.print(f"{c['meters']:,} meters, {c['transformers']:,} transformers, {c['readings']:,} readings "
                  f"({c['anomalous_readings']:,} anomalous, {c['missing_readings']:,} missing), "
                  f"{c['transformer_failures']} failures in {manifest['elapsed_s']:.1f} s ({rate:,.0f} readings/s) -> {out}")


if __name__ == "__main__":
    app()
