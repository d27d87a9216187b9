"""`meters report theft-suspects --server HOST:PORT --start ... --end ...`: the ranked theft suspects of a
running scoring_svc (OutageService.ListTheftSuspects; TLS and token from the environment as
meters.security.client reads them, e.g. `source .run/up/client.env`), printed as CSV or written to --out.
"""

import csv
import datetime as dt
import io
from pathlib import Path

import typer

from meters.reliability_cli import report_app

# A feeder's or region's year is read and ranked by scoring_svc in tens of seconds: generous but finite.
SUSPECTS_S = 300.0
COLUMNS = ("rank", "meter_id", "transformer_id", "score", "balance_z", "suspected_start", "unmetered_share",
           "tamper_event", "flat_after_tamper", "reverse_flow", "reverse_flow_kwh")


def _when(value: str, hint: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or time", param_hint=hint) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def rows_csv(suspects) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for s in suspects:
        w.writerow([s.rank, s.meter_id, s.transformer_id, f"{s.score:.2f}", f"{s.balance_z:.2f}",
                    s.suspected_start_time.ToDatetime(dt.timezone.utc).date().isoformat(), f"{s.unmetered_share:.3f}",
                    s.tamper_event, s.flat_after_tamper, s.reverse_flow, f"{s.reverse_flow_kwh:.1f}"])
    return out.getvalue()


@report_app.command("theft-suspects")
def theft_suspects(
    server: str = typer.Option(..., help="a running scoring_svc, HOST:PORT"),
    start: str = typer.Option(..., help="window start, ISO date or time (UTC unless it says otherwise)"),
    end: str = typer.Option(..., help="window end (28 to 366 days after start)"),
    transformer: int = typer.Option(0, help="only this transformer's meters"),
    feeder: int = typer.Option(0, help="only this feeder's meters"),
    region: str = typer.Option("", help="only this NEM region's meters"),
    top: int = typer.Option(100, help="how many suspects (at most 1000)"),
    out: Path = typer.Option(None, dir_okay=False, help="write the CSV here instead of stdout"),
) -> None:
    """Ranked theft suspects with their evidence, as CSV."""
    import grpc
    from google.protobuf.timestamp_pb2 import Timestamp

    from meters.scoring.v1 import outage_service_pb2 as pb, outage_service_pb2_grpc
    from meters.security.client import channel

    a, b = Timestamp(), Timestamp()
    a.FromDatetime(_when(start, "--start"))
    b.FromDatetime(_when(end, "--end"))
    request = pb.ListTheftSuspectsRequest(start_time=a, end_time=b, transformer_id=transformer, feeder_id=feeder,
                                          region=region, page_size=top)
    with channel(server) as ch:
        try:
            r = outage_service_pb2_grpc.OutageServiceStub(ch).ListTheftSuspects(request, timeout=SUSPECTS_S)
        except grpc.RpcError as err:
            typer.echo(f"ListTheftSuspects: {err.code().name}: {err.details()}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{r.meters_ranked:,} meters ranked on {r.transformers_balanced:,} transformers"
               f" ({r.transformers_without_energy:,} without energy), {r.start_time.ToDatetime().date()}"
               f" to {r.end_time.ToDatetime().date()}", err=True)
    text = rows_csv(r.suspects)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        typer.echo(str(out), err=True)
