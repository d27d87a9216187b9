"""Detected against planted truth: the network's SAIDI and SAIFI from each and their relative error."""

import pandas as pd

from scoring_svc.reliability.indices import reliability_indices

GOAL_RELATIVE_ERROR = 0.02  # issue 14: SAIDI and SAIFI from detections within 2 % of truth
COMPARED = ("total", "unplanned", "planned")


def reliability_comparison(detected: pd.DataFrame, truth: pd.DataFrame, served: pd.DataFrame,
                           month: str) -> pd.DataFrame:
    """Rows (category, index) for SAIDI and SAIFI: detected, truth, relative_error, within_goal."""
    frames = {}
    for name, outages in (("detected", detected), ("truth", truth)):
        t = reliability_indices(outages, served, month).set_index("category")
        frames[name] = t.loc[list(COMPARED), ["saidi", "saifi"]].stack().rename(name)
    out = pd.concat(frames, axis=1).rename_axis(["category", "index"]).reset_index()
    out["relative_error"] = ((out["detected"] - out["truth"]).abs() / out["truth"]).where(out["truth"] > 0)
    exact = (out["truth"] == 0) & (out["detected"] == 0)
    out.loc[exact, "relative_error"] = 0.0
    out["within_goal"] = out["relative_error"] <= GOAL_RELATIVE_ERROR
    return out
