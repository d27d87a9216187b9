"""`meters report reliability --month YYYY-MM`: the month's reliability report (HTML and CSVs).

From a fleet's files (--outages truth/outages.parquet --topology the fleet directory) or from
PostgreSQL (--dsn: grid.outages and the grid topology tables).
"""

from pathlib import Path

import typer

report_app = typer.Typer(help="Operational reports.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `report` to the `meters` command."""
    app.add_typer(report_app, name="report")


@report_app.command("reliability")
def reliability(
    month: str = typer.Option(..., help="the month reported, YYYY-MM (NEM time)"),
    outages: Path = typer.Option(None, exists=True, dir_okay=False, help="outages parquet (e.g. a fleet's truth/outages.parquet)"),
    topology: Path = typer.Option(None, exists=True, help="a fleet directory, its topology/ directory, or a parquet of customers served"),
    dsn: str = typer.Option(None, envvar="METERS_PG_DSN", help="read grid.outages and the topology from PostgreSQL instead"),
    out: Path = typer.Option(Path("reports"), help="directory the report is written to"),
) -> None:
    """Write reliability-YYYY-MM.html (indices, major event days, plots) and its events and indices CSVs."""
    from scoring_svc.reliability import sources, write_reliability_report
    from scoring_svc.reliability.events import Month

    try:
        period = Month.parse(month)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--month")
    if outages is not None or topology is not None:
        if outages is None or topology is None:
            raise typer.BadParameter("--outages and --topology go together", param_hint="--outages/--topology")
        events, served = sources.read_outages(outages), sources.read_served(topology)
    elif dsn:
        events, served = sources.read_postgres(dsn, period)
    else:
        raise typer.BadParameter("give --outages and --topology, or --dsn", param_hint="--outages/--dsn")
    paths = write_reliability_report(events, served, month, out)
    for path in (paths.html, paths.events_csv, paths.indices_csv):
        typer.echo(str(path))
