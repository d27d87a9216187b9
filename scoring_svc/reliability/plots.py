"""The report's figures, each returned as PNG bytes (matplotlib's Agg canvas; no pyplot state)."""

import io

import numpy as np
import pandas as pd
import matplotlib.dates as mdates
from matplotlib.figure import Figure

from scoring_svc.reliability.indices import MonthEvents

MAX_FEEDER_BARS = 60
STACK = (("unplanned_normalised", "unplanned", "#c0392b"), ("major_event_days", "major event days", "#7f8c8d"),
         ("planned", "planned", "#2980b9"))


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _month_axis(ax, me: MonthEvents) -> None:
    locator = mdates.DayLocator(bymonthday=range(1, 29, 3))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    ax.set_xlim(me.month.start.tz_localize(None), me.month.end.tz_localize(None))


def feeder_saidi(feeders: pd.DataFrame) -> bytes:
    """SAIDI per feeder, stacked unplanned (normalised) / major event days / planned, worst first."""
    wide = feeders.pivot_table(index="feeder_id", columns="category", values="saidi", aggfunc="sum")
    wide = wide.reindex(columns=[c for c, _, _ in STACK], fill_value=0.0).fillna(0.0)
    wide = wide.loc[wide.sum(axis=1).sort_values(ascending=False).index[:MAX_FEEDER_BARS]]
    fig = Figure(figsize=(11, 4))
    ax = fig.add_subplot()
    x = np.arange(len(wide))
    bottom = np.zeros(len(wide))
    for col, label, colour in STACK:
        ax.bar(x, wide[col], bottom=bottom, label=label, color=colour, width=0.8)
        bottom += wide[col].to_numpy()
    ax.set_xticks(x, [str(f) for f in wide.index], rotation=90, fontsize=7)
    ax.set_xlabel("feeder id")
    ax.set_ylabel("SAIDI (minutes per customer)")
    shown = f"the {len(wide)} worst of {feeders['feeder_id'].nunique()}" if len(wide) < feeders["feeder_id"].nunique() else "all"
    ax.set_title(f"SAIDI by feeder ({shown} feeders)")
    ax.legend()
    return _png(fig)


def outage_timeline(me: MonthEvents) -> bytes:
    """Each interruption from start to restoration at the height of its customers; MED days shaded."""
    ev = me.events
    tz = me.month.tz
    fig = Figure(figsize=(11, 4))
    ax = fig.add_subplot()
    for day in me.major_events.in_month(me.month):
        ax.axvspan(day, day + pd.Timedelta(days=1), color="#f4d03f", alpha=0.35, lw=0)
    start = pd.to_datetime(ev["started_unix_s"], unit="s", utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    end = start + pd.to_timedelta(ev["duration_s"], unit="s")
    kinds = (("unplanned", ev["sustained"] & ~ev["planned"], "#c0392b"), ("planned", ev["sustained"] & ev["planned"], "#2980b9"),
             ("momentary", ev["momentary"], "#27ae60"))
    for label, mask, colour in kinds:
        if mask.any():
            ax.hlines(ev.loc[mask, "customers_affected"], start[mask], end[mask], color=colour, lw=3, label=label)
            ax.plot(start[mask], ev.loc[mask, "customers_affected"], "|", color=colour, ms=8)
    ax.set_yscale("log")
    _month_axis(ax, me)
    ax.set_ylabel("customers affected")
    ax.set_title(f"Outages of {me.month.label} (local time; major event days shaded)")
    if len(ev):
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def minutes_by_cause(me: MonthEvents) -> bytes:
    """Customer-minutes interrupted by cause, unplanned and planned."""
    ev = me.events
    table = ev.pivot_table(index="cause", columns="planned", values="customer_minutes", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=[False, True], fill_value=0.0)
    table = table.loc[table.sum(axis=1).sort_values().index]
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    y = np.arange(len(table))
    ax.barh(y, table[False], color="#c0392b", label="unplanned")
    ax.barh(y, table[True], left=table[False], color="#2980b9", label="planned")
    ax.set_yticks(y, list(table.index))
    ax.set_xlabel("customer-minutes interrupted")
    ax.set_title("Customer-minutes by cause")
    ax.legend()
    return _png(fig)


def daily_saidi(me: MonthEvents) -> bytes:
    """The month's daily unplanned SAIDI against the major event day threshold T_MED."""
    days = me.month.days()
    daily = me.major_events.daily_saidi.reindex(days, fill_value=0.0)
    meds = days.isin(me.major_events.days)
    fig = Figure(figsize=(11, 3))
    ax = fig.add_subplot()
    ax.bar(days + pd.Timedelta(hours=12), daily, color=np.where(meds, "#7f8c8d", "#c0392b"), width=0.8)
    _month_axis(ax, me)
    if np.isfinite(me.major_events.t_med):
        ax.axhline(me.major_events.t_med, color="black", ls="--", lw=1, label=f"T_MED = {me.major_events.t_med:.2f}")
        ax.legend()
    ax.set_ylabel("SAIDI (min/customer)")
    ax.set_title("Daily unplanned SAIDI (grey: major event day)")
    return _png(fig)
