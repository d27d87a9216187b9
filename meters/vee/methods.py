"""AEMO quality methods and method flags of the substitutes VEE makes.

Names and numbers are those of the method-flag table of AEMO's Meter Data File Format
specification (NEM12 & NEM13), which numbers the substitution and estimation types of the
Metrology Procedure: Part B. Types 11-25 are for metering installation types 1-4 (remotely read
interval meters, which is what streams into this platform); 51-59 are the same ideas for type 5
(manually read interval meters), 61-69 for basic meters, 71-75 for unmetered loads. We use only
flags of types 1-4:

| flag | Part B name | our reading of it |
|---|---|---|
| 14 | Retrospective Like Day | the same interval on the nearest preceding like day with an actual |
| 15 | Retrospective Average Like Day | the mean of the same interval over the nearest preceding like days |
| 17 | Linear | linear interpolation between the actuals either side of a short gap |
| 20 | Prospective Like Day | 14, for intervals after the meter's latest actual (a forward estimate) |
| 22 | Prospective Average Like Day | 15, for intervals after the latest actual |
| 25 | ADL (average daily load) | the meter's average daily load shaped by its own mean hour-of-week profile, when no like day has data |

Like days follow Part B's like-day table: a Monday, Friday, Saturday or Sunday is substituted from
the same weekday; a Tuesday, Wednesday or Thursday from any of those three. (Part B also treats
public holidays as Sundays; no holiday calendar is applied here.) Flag 16 ("Agreed") would be
the agreed-profile method, but the current table marks it obsolete for interval meters, so the
profile fallback carries 25. We could not read the Part B text of each type from here: the
right-hand column is our implementation, not a quotation.

Quality methods (NEM12 QualityMethod's first letter): A actual, S substituted (retrospective,
the actual is missing or failed validation), E estimated (forward, before any actual exists),
F final substituted, N null, V variable. VEE makes only S and E.
"""

import numpy as np

LIKE_DAY = 14
AVERAGE_LIKE_DAY = 15
LINEAR = 17
PROSPECTIVE_LIKE_DAY = 20
PROSPECTIVE_AVERAGE_LIKE_DAY = 22
ADL = 25

NAMES = {
    LIKE_DAY: "retrospective like day",
    AVERAGE_LIKE_DAY: "retrospective average like day",
    LINEAR: "linear",
    PROSPECTIVE_LIKE_DAY: "prospective like day",
    PROSPECTIVE_AVERAGE_LIKE_DAY: "prospective average like day",
    ADL: "ADL (own profile)",
}

# A retrospective method -> the same method made forward (after the latest actual).
PROSPECTIVE = {LIKE_DAY: PROSPECTIVE_LIKE_DAY, AVERAGE_LIKE_DAY: PROSPECTIVE_AVERAGE_LIKE_DAY, ADL: ADL}

SUBSTITUTED = "S"
ESTIMATED = "E"
ACTUAL = "A"

# Like-day table, weekday 0 = Monday: which weekdays may stand in for which.
LIKE_WEEKDAYS = {0: (0,), 1: (1, 2, 3), 2: (1, 2, 3), 3: (1, 2, 3), 4: (4,), 5: (5,), 6: (6,)}


def like_day_offsets(weekday: int, lookback_days: int) -> np.ndarray:
    """Days back (1..lookback_days, nearest first) whose weekday may stand in for `weekday`."""
    back = np.arange(1, lookback_days + 1)
    return back[np.isin((weekday - back) % 7, LIKE_WEEKDAYS[weekday])]
