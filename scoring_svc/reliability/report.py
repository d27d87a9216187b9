"""The monthly reliability report: one self-contained HTML file (figures as base64 PNG) and CSVs.

reliability-YYYY-MM.html: headline indices of the network (planned, unplanned, major event days
apart), the major event days and T_MED, SAIDI by feeder, the ten worst-served feeders (by unplanned
SAIDI, major event days included: what their customers lived through), the outage timeline and
customer-minutes by cause. reliability-YYYY-MM-events.csv: the month's interruptions, one row each.
reliability-YYYY-MM-indices.csv: every grouping's indices (network, region, substation, feeder).
"""

import base64
import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scoring_svc.reliability import plots
from scoring_svc.reliability.indices import CATEGORIES, MonthEvents, indices_of, month_events
from scoring_svc.reliability.served import GROUPINGS

WORST_FEEDERS = 10
EVENT_COLUMNS = ("outage_id", "level", "asset_id", "region", "substation_id", "feeder_id", "transformer_id",
                 "started_at", "restored_at", "started_unix_s", "restored_unix_s", "duration_min",
                 "customers_affected", "customer_minutes", "planned", "momentary", "major_event_day", "cause")
STYLE = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}img{max-width:100%}")


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    events_csv: Path
    indices_csv: Path


@dataclass(frozen=True)
class ReliabilityReport:
    """A month's report in memory: the HTML and both CSVs as bytes, the events and indices behind them."""

    month_events: MonthEvents
    by: dict[str, pd.DataFrame]  # grouping -> indices_of rows
    html: bytes
    events_csv: bytes
    indices_csv: bytes

    @property
    def stem(self) -> str:
        return f"reliability-{self.month_events.month.label}"


def events_table(me: MonthEvents) -> pd.DataFrame:
    """The month's interruptions as the CSV holds them (local times ISO 8601), in start order."""
    ev = me.events.sort_values(["started_unix_s", "outage_id"], kind="stable").copy()
    local = lambda s: pd.to_datetime(s, unit="s", utc=True).dt.tz_convert(me.month.tz).dt.strftime("%Y-%m-%dT%H:%M:%S%z")  # noqa: E731
    ev["started_at"] = local(ev["started_unix_s"])
    ev["restored_at"] = local(ev["restored_unix_s"]).where(ev["restored_unix_s"].notna(), "")
    ev["duration_min"] = (ev["duration_s"] / 60.0).round(2)
    ev["customer_minutes"] = ev["customer_minutes"].round(2)
    return ev.reindex(columns=list(EVENT_COLUMNS))


def indices_csv(by: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every grouping's rows in one table: grouping, month, region, substation_id, feeder_id, category, ..."""
    t = pd.concat([t.assign(grouping=g) for g, t in by.items()], ignore_index=True)
    for k in ("substation_id", "feeder_id"):
        t[k] = t[k].astype("Int64")
    first = ["grouping", "month", *GROUPINGS["feeder"], "category"]
    return t[first + [c for c in t.columns if c not in first]]


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, na_rep="–", float_format=lambda v: f"{v:,.3f}", border=0)


def _headline(network: pd.DataFrame) -> pd.DataFrame:
    t = network.set_index("category").loc[list(CATEGORIES)].reset_index()
    return t[["category", "customers_served", "saidi", "saifi", "caidi", "maifi", "sustained_events",
              "momentary_events", "customer_minutes"]]


def _worst(feeders: pd.DataFrame) -> pd.DataFrame:
    keys = GROUPINGS["feeder"]
    wide = feeders.pivot_table(index=keys, columns="category", values=["saidi", "saifi", "maifi"], aggfunc="sum")
    wide.columns = [f"{i}_{c}" for i, c in wide.columns]
    wide = wide.reset_index().merge(feeders[feeders["category"] == "total"][keys + ["customers_served"]], on=keys)
    cols = keys + ["customers_served", "saidi_unplanned", "saidi_unplanned_normalised", "saidi_planned",
                   "saifi_unplanned", "maifi_total"]
    return wide.sort_values(["saidi_unplanned", "feeder_id"], ascending=[False, True]).head(WORST_FEEDERS)[cols]


def _meds(me: MonthEvents) -> str:
    m = me.major_events
    days = m.in_month(me.month)
    rule = (f"T_MED = exp(alpha + 2.5 beta) = {m.t_med:,.3f} minutes per customer per day (alpha {m.alpha:.4f}, "
            f"beta {m.beta:.4f}, {len(m.daily_saidi)} non-zero days of history)" if np.isfinite(m.t_med)
            else "No threshold: fewer than two days with unplanned interruptions in the history.")
    if not len(days):
        return f"<p>{html.escape(rule)}</p><p>No major event day this month.</p>"
    t = pd.DataFrame({"day": days.strftime("%Y-%m-%d"), "daily SAIDI": m.daily_saidi.reindex(days).to_numpy()})
    return f"<p>{html.escape(rule)}</p>{_table(t)}"


def render_html(me: MonthEvents, by: dict[str, pd.DataFrame], scope: str = "Network") -> str:
    month, scope = html.escape(me.month.label), html.escape(scope)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Reliability {month}</title>",
        f"<style>{STYLE}</style></head><body><h1>{scope} reliability, {month}</h1>",
        f"<p>{me.customers:,} customers served; {len(me.events):,} interruptions started this month "
        f"(local time {html.escape(me.month.tz)}; an interruption counts whole on the day it started). "
        "Momentary: 3 minutes or less (AER STPIS). SAIDI in minutes per customer, SAIFI and MAIFI in "
        "interruptions per customer, CAIDI in minutes per interruption (– when there was none).</p>",
        "<h2>Headline indices</h2>", _table(_headline(by["network"])),
        "<h2>Major event days (IEEE 1366 2.5 beta)</h2>", _meds(me), _img(plots.daily_saidi(me), "daily SAIDI"),
        "<h2>Indices by region (unplanned, major event days excluded)</h2>", _table(by["region"][by["region"]["category"] == "unplanned_normalised"]
                                             [["region", "customers_served", "saidi", "saifi", "caidi", "maifi"]]),
        "<h2>SAIDI by feeder</h2>", _img(plots.feeder_saidi(by["feeder"]), "SAIDI by feeder"),
        f"<h2>The {WORST_FEEDERS} worst-served feeders</h2>", _table(_worst(by["feeder"])),
        "<h2>Outage timeline</h2>", _img(plots.outage_timeline(me), "outage timeline"),
        "<h2>Customer-minutes by cause</h2>", _img(plots.minutes_by_cause(me), "customer-minutes by cause"),
        "</body></html>",
    ]
    return "\n".join(parts)


def of_region(outages: pd.DataFrame, served: pd.DataFrame, region: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The outages and customers served of one region only (its own major event days follow from them)."""
    return (outages[outages["region"] == region].reset_index(drop=True),
            served[served["region"] == region].reset_index(drop=True))


def build_reliability_report(outages: pd.DataFrame, served: pd.DataFrame, month: str,
                             scope: str = "Network") -> ReliabilityReport:
    """The month's HTML report and its two CSVs, in memory (CPU-bound: pandas and matplotlib)."""
    me = month_events(outages, served, month)
    by = {g: indices_of(me, served, g) for g in GROUPINGS}
    return ReliabilityReport(me, by, render_html(me, by, scope).encode("utf-8"),
                             events_table(me).to_csv(index=False).encode("utf-8"),
                             indices_csv(by).to_csv(index=False).encode("utf-8"))


def write_reliability_report(outages: pd.DataFrame, served: pd.DataFrame, month: str, out_dir: Path) -> ReportPaths:
    """Write the month's HTML report and its two CSVs under out_dir; return their paths."""
    return write_report_files(build_reliability_report(outages, served, month), out_dir)


def write_report_files(report: ReliabilityReport | tuple[str, bytes, bytes, bytes], out_dir: Path) -> ReportPaths:
    """Write a report's three files as reliability-YYYY-MM.html, -events.csv, -indices.csv under out_dir.

    `report` is a ReliabilityReport or (stem, html, events_csv, indices_csv), e.g. as an RPC returned them."""
    stem, *data = ((report.stem, report.html, report.events_csv, report.indices_csv)
                   if isinstance(report, ReliabilityReport) else report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / f"{stem}.html", out / f"{stem}-events.csv", out / f"{stem}-indices.csv")
    for path, content in zip((paths.html, paths.events_csv, paths.indices_csv), data):
        path.write_bytes(content)
    return paths
