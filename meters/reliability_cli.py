"""`meters report reliability --month YYYY-MM`: the month's reliability report (HTML and CSVs).

From a fleet's files (--outages truth/outages.parquet --topology the fleet directory) or from
PostgreSQL (--dsn: grid.outages and the grid topology tables), or from a running scoring_svc
(--server HOST:PORT: OutageService.GetReliabilityReport, TLS and token from the environment as
meters.security.client reads them, e.g. `source .run/up/client.env`).
"""

from pathlib import Path

import typer

# A whole network's month, read and plotted by scoring_svc: seconds; generous but finite.
REPORT_S = 120.0
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
    server: str = typer.Option(None, help="ask a running scoring_svc (HOST:PORT) for the report instead"),
    region: str = typer.Option("", help="with --server: one NEM region only"),
    out: Path = typer.Option(Path("reports"), help="directory the report is written to"),
) -> None:
    """Write reliability-YYYY-MM.html (indices, major event days, plots) and its events and indices CSVs."""
    from scoring_svc.reliability import sources, write_reliability_report
    from scoring_svc.reliability.events import Month

    try:
        period = Month.parse(month)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--month")
    if server:
        paths = _from_server(server, month, region, out)
    elif outages is not None or topology is not None:
        if outages is None or topology is None:
            raise typer.BadParameter("--outages and --topology go together", param_hint="--outages/--topology")
        paths = write_reliability_report(sources.read_outages(outages), sources.read_served(topology), month, out)
    elif dsn:
        paths = write_reliability_report(*sources.read_postgres(dsn, period), month, out)
    else:
        raise typer.BadParameter("give --outages and --topology, --dsn, or --server", param_hint="--outages/--dsn")
    for path in (paths.html, paths.events_csv, paths.indices_csv):
        typer.echo(str(path))


def _from_server(addr: str, month: str, region: str, out: Path):
    import grpc

    from meters.scoring.v1 import outage_service_pb2 as pb, outage_service_pb2_grpc
    from meters.security.client import channel
    from scoring_svc.reliability import write_report_files

    with channel(addr) as ch:
        try:
            r = outage_service_pb2_grpc.OutageServiceStub(ch).GetReliabilityReport(
                pb.GetReliabilityReportRequest(month=month, region=region), timeout=REPORT_S).report
        except grpc.RpcError as err:
            typer.echo(f"GetReliabilityReport: {err.code().name}: {err.details()}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{r.month}{' ' + r.region if r.region else ''}: {r.customers_served:,} customers served, "
               f"unplanned SAIDI {r.unplanned.saidi:.3f} min, SAIFI {r.unplanned.saifi:.4f}")
    return write_report_files((f"reliability-{r.month}", r.html, r.events_csv, r.indices_csv), out)
