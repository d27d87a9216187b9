"""`meters model ...`: the registry's records, rollback, and the local training scheduler."""

import asyncio
import datetime as dt
import json

import typer

app = typer.Typer(help="Model lifecycle: training runs, shadow, promotion, rollback.", no_args_is_help=True)
DSN = typer.Option(..., envvar="METERS_PG_DSN", help="PostgreSQL DSN")


def _registry():
    from meters.model_registry import ModelRegistry

    return ModelRegistry()


async def _with_pool(dsn: str, work):
    from meters.db import migrate, open_pool
    from meters.model_lifecycle import MIGRATIONS

    await asyncio.to_thread(migrate, dsn, MIGRATIONS)
    pool = await open_pool(dsn, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def _echo(rows) -> None:
    for row in rows:
        typer.echo(json.dumps({k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in row.items()},
                              default=str))


@app.command()
def rollback(name: str = typer.Argument(..., help="the registry's model name, e.g. forecast-network"),
             job: str = typer.Option("cli", help="who runs it, recorded as the actor"), dsn: str = DSN) -> None:
    """Restore the version served before the current one (audited). The forecast service follows the
    pointer at its next request; scoring and customer at their ReloadModels."""
    from meters.model_lifecycle import store

    row = asyncio.run(_with_pool(dsn, lambda pool: store.rollback(pool, _registry(), name,
                                                                  store.job_change("rollback", job))))
    typer.echo(f"rolled back {name}: {row['from_version']} -> {row['to_version']}")


@app.command()
def decide(name: str = typer.Argument(..., help="forecast-network (the one model with a shadow stage)"),
           window_hours: int = typer.Option(0, help="hours of scored steps; 0 = the rule's window"),
           job: str = typer.Option("cli", help="who runs it, recorded as the actor: cli, schedule, cronjob"),
           dsn: str = DSN) -> None:
    """Promote or refuse the candidate in shadow by the promotion rule (audited), as
    DecideShadowForecastModel does; exit 0 also when there is nothing to decide yet."""
    import importlib

    from meters.errors import DomainError
    from meters.model_lifecycle import store

    if name != "forecast-network":
        raise typer.BadParameter("only forecast-network has a shadow stage", param_hint="NAME")
    promotion = importlib.import_module("forecast_svc.promotion")
    try:
        row = asyncio.run(_with_pool(dsn, lambda pool: promotion.decide(
            pool, _registry(), store.job_change("decide", job), window_hours)))
    except DomainError as err:  # no candidate, or not enough steps scored: nothing changes
        typer.echo(f"no decision: {err.message}")
        return
    typer.echo(f"{row['action']} {name} {row['to_version']}: {row['evidence'].get('reason', '')}")


@app.command()
def runs(name: str = typer.Argument(...), dsn: str = DSN) -> None:
    """The model's training runs, one JSON object a line."""
    from meters.model_lifecycle import store

    _echo(asyncio.run(_with_pool(dsn, lambda pool: store.runs(pool, name))))


@app.command()
def decisions(name: str = typer.Argument(...), dsn: str = DSN) -> None:
    """The model's shadow, promotion, refusal and rollback decisions, one JSON object a line."""
    from meters.model_lifecycle import store

    _echo(asyncio.run(_with_pool(dsn, lambda pool: store.decisions(pool, name))))


@app.command()
def scheduler(dsn: str = DSN) -> None:
    """Run the training schedule (meters/model_lifecycle/schedules.py) until SIGTERM: each job runs
    `meters train <model>` as a child process."""
    from meters import log
    from meters.model_lifecycle.scheduler import run_forever

    log.configure("model_scheduler", "INFO")
    run_forever(dsn)
