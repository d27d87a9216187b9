"""`meters import nem12 FILE...` and `meters export nem12 ...`: MDFF files in and out through ingest's
gRPC API (ImportNem12, ExportNem12), over TLS with the caller's token (meters.security.client:
METERS_TLS_*_FILE and METERS_TOKEN, as `source .run/up/client.env` sets them after `make up`).

Exit status of `meters import nem12`: 0 when every file was imported without a problem; 1 when any
file had problems (malformed records, a truncated file, ...: its valid blocks are imported all the
same, the table and the listed problems say what was not) or was refused (wrong participant, too
large, ...: nothing of it imported); 2 for a usage error (e.g. a file that does not exist).
"""

from pathlib import Path

import typer

import_app = typer.Typer(help="Import meter data files through the ingest service.", no_args_is_help=True)
export_app = typer.Typer(help="Export stored meter data as files.", no_args_is_help=True)

CHUNK_BYTES = 1 << 20  # ImportNem12 request size: well under gRPC's 4 MiB default message bound
DEFAULT_ADDR = "127.0.0.1:50051"  # ingest under `make up`
ADDR_HELP = "ingest_svc's gRPC address"
FILE_DEADLINE_S = 3600.0  # one file's import or export: a 10 M-interval file takes ~35 s here
SHOWN_PROBLEMS = 5  # problems and unknown NMIs printed per file under the table (the summary keeps more)


def register(app: typer.Typer) -> None:
    """Add `import` and `export` to the `meters` command."""
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")


def _stub(addr: str):
    from meters.ingest.v1 import ingest_service_pb2_grpc
    from meters.security.client import channel
    from meters.security.tls import TlsNotConfigured

    try:
        ch = channel(addr)
    except TlsNotConfigured as err:
        raise typer.BadParameter(f"{err} (after `make up`: source .run/up/client.env)", param_hint="--addr")
    return ch, ingest_service_pb2_grpc.IngestServiceStub(ch)


def _requests(path: Path, progress, task):
    """ImportNem12Requests of one file, CHUNK_BYTES each (the first names the file), counted on the bar."""
    from meters.ingest.v1 import ingest_service_pb2 as pb

    with path.open("rb") as f:
        name = path.name
        while chunk := f.read(CHUNK_BYTES):
            yield pb.ImportNem12Request(file_name=name, chunk=chunk)
            progress.advance(task, len(chunk))
            name = ""
    if name:  # an empty file: named all the same, the service reports it (EMPTY_FILE)
        yield pb.ImportNem12Request(file_name=name)
    progress.update(task, description=f"{path.name}: importing")


@import_app.command("nem12")
def import_nem12(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                       help="NEM12 / NEM13 files (.csv, or .zip of them)"),
    addr: str = typer.Option(DEFAULT_ADDR, "--addr", envvar="METERS_INGEST_ADDR", help=ADDR_HELP),
) -> None:
    """Stream each file to ImportNem12 (1 MiB chunks, a progress bar of bytes sent), then print a
    summary table per file. Exit 1 when any file had problems or was refused (see the module doc)."""
    import grpc
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from meters.nem12_summary import FileOutcome, print_outcomes

    outcomes: list[FileOutcome] = []
    ch, stub = _stub(addr)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with ch, Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        for path in files:
            task = progress.add_task(f"{path.name}: sending", total=path.stat().st_size)
            try:
                reply = stub.ImportNem12(_requests(path, progress, task), timeout=FILE_DEADLINE_S)
                outcomes.append(FileOutcome(path.name, reply.summary))
                progress.update(task, description=f"{path.name}: imported")
            except grpc.RpcError as err:
                outcomes.append(FileOutcome(path.name, None, f"{err.code().name}: {err.details()}"))
                progress.update(task, description=f"{path.name}: refused")
    if not print_outcomes(Console(), outcomes, SHOWN_PROBLEMS):
        raise typer.Exit(1)


@export_app.command("nem12")
def export_nem12(
    nmi: str = typer.Option(..., "--nmi", help="the NMI (the meter's meter_number)"),
    start: str = typer.Option(..., "--from", help="first day, YYYY-MM-DD (NEM time, UTC+10)"),
    end: str = typer.Option(..., "--to", help="last day, YYYY-MM-DD (NEM time), inclusive"),
    interval: int = typer.Option(30, "--interval", help="interval length of the file, minutes: 5, 15 or 30"),
    out: Path | None = typer.Option(None, "--out", help="the file to write (default: stdout)"),
    addr: str = typer.Option(DEFAULT_ADDR, "--addr", envvar="METERS_INGEST_ADDR", help=ADDR_HELP),
) -> None:
    """Write the stored intervals of one NMI over whole NEM days as a NEM12 file (ExportNem12)."""
    import grpc

    from meters.ingest.v1 import ingest_service_pb2 as pb

    start_s, end_s = nem_days_unix_s(start, end)
    ch, stub = _stub(addr)
    sink = out.open("wb") if out else typer.get_binary_stream("stdout")
    try:
        with ch:
            for reply in stub.ExportNem12(pb.ExportNem12Request(
                    nmi=nmi, start_time_unix_s=start_s, end_time_unix_s=end_s, interval_minutes=interval),
                    timeout=FILE_DEADLINE_S):
                sink.write(reply.chunk)
    except grpc.RpcError as err:
        typer.echo(f"export refused: {err.code().name}: {err.details()}", err=True)
        raise typer.Exit(1)
    finally:
        sink.flush()
        if out:
            sink.close()


def nem_days_unix_s(first: str, last: str) -> tuple[int, int]:
    """[start, end) in UTC seconds holding the interval ends of NEM days first..last (inclusive): an
    interval ending at a day's 00:00 belongs to the day before, so both bounds are one second on."""
    from meters.nem12.nemtime import BadDate, day_start_unix_s

    try:
        start, stop = (day_start_unix_s(day.replace("-", "").encode()) for day in (first, last))
    except BadDate as err:
        raise typer.BadParameter(f"{err}: dates are YYYY-MM-DD")
    if stop < start:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    return start + 1, stop + 86_400 + 1
