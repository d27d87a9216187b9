"""Registered planned work (asset and window) and the match of a detected outage against it."""

import numpy as np
import pandas as pd

PLANNED_COLUMNS = ("level", "asset_id", "start_unix_s", "end_unix_s", "announced_unix_s")
MATCH_MARGIN_S = 1800  # work starts up to half an hour outside its registered window


def planned_work_from_truth(outages: pd.DataFrame) -> pd.DataFrame:
    """The fleet's planted planned outages as registrations made at announced_unix_s, window = planted times."""
    p = outages[outages["planned"].astype(bool)]
    return pd.DataFrame({"level": p["level"].to_numpy(), "asset_id": p["asset_id"].to_numpy(np.int64),
                         "start_unix_s": p["started_unix_s"].to_numpy(np.int64),
                         "end_unix_s": p["restored_unix_s"].to_numpy(np.int64),
                         "announced_unix_s": p["announced_unix_s"].to_numpy(np.int64)})


class PlannedWork:
    """Look-up of registrations by (level, asset); `covering` also accepts work on the feeder or transformer above."""

    def __init__(self, work: pd.DataFrame | None):
        self._by_asset: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
        if work is None:
            return
        missing = set(PLANNED_COLUMNS) - set(work.columns)
        if missing:
            raise ValueError(f"planned work lacks columns {sorted(missing)}")
        for row in work.itertuples(index=False):
            key = (str(row.level), int(row.asset_id))
            self._by_asset.setdefault(key, []).append((int(row.start_unix_s), int(row.end_unix_s),
                                                       int(row.announced_unix_s)))

    def match(self, assets: list[tuple[str, int]], started_s: float, now_s: float) -> int | None:
        """announced_unix_s of registered work on one of `assets` whose window holds the start, if registered by now."""
        for key in assets:
            for start, end, announced in self._by_asset.get(key, ()):
                if announced <= now_s and start - MATCH_MARGIN_S <= started_s <= end + MATCH_MARGIN_S:
                    return announced
        return None
