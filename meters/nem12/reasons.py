"""Stable reason codes of a Problem (UPPER_SNAKE, never renamed: callers store them).

Codes that reject intervals: MALFORMED_RECORD, BAD_DATE, BAD_VALUE, INTERVAL_COUNT_MISMATCH,
INTERVAL_LENGTH_MISMATCH, BAD_INTERVAL_LENGTH, UNKNOWN_UOM, BAD_QUALITY, QUALITY_RANGE_MISMATCH,
RECORD_OUT_OF_ORDER (a 300 with no 200 before it). The others are notes about the file.
"""

EMPTY_FILE = "EMPTY_FILE"  # no bytes, or only blank lines
NO_DATA = "NO_DATA"  # a header and an end but no data record
MISSING_HEADER = "MISSING_HEADER"  # the first record is not a 100; NEM12 is assumed
UNKNOWN_VERSION = "UNKNOWN_VERSION"  # a 100 whose version is neither NEM12 nor NEM13
TRUNCATED_FILE = "TRUNCATED_FILE"  # no 900 end record: the file may have been cut short
RECORDS_AFTER_END = "RECORDS_AFTER_END"  # records after a 900 (concatenated files); they are still read
UNKNOWN_RECORD = "UNKNOWN_RECORD"  # a record indicator MDFF does not define
RECORD_OUT_OF_ORDER = "RECORD_OUT_OF_ORDER"  # a 300 before any 200, a 400 / 500 / 550 with nothing to apply to
MALFORMED_RECORD = "MALFORMED_RECORD"  # too few fields, an unreadable number in a 100 / 200 / 250 / 400
MISSING_FIELDS = "MISSING_FIELDS"  # a 300 without ReasonDescription / UpdateDateTime (kept, update time 0)
BAD_DATE = "BAD_DATE"  # an IntervalDate or date-time that is not a valid Date8 / DateTime14
BAD_VALUE = "BAD_VALUE"  # an interval value that is not a finite number
BAD_INTERVAL_LENGTH = "BAD_INTERVAL_LENGTH"  # a 200 IntervalLength that is not 1, 5, 10, 15, 30 or 60
INTERVAL_COUNT_MISMATCH = "INTERVAL_COUNT_MISMATCH"  # a 300 with a number of values no interval length gives
INTERVAL_LENGTH_MISMATCH = "INTERVAL_LENGTH_MISMATCH"  # 300 / 400 written for another interval length than the 200's
UNKNOWN_UOM = "UNKNOWN_UOM"  # a 200 UOM that is not an MDFF unit: its values cannot be converted
BAD_QUALITY = "BAD_QUALITY"  # a quality method that is not A S F E N V (+ method flag), or V in a 400
QUALITY_RANGE_MISMATCH = "QUALITY_RANGE_MISMATCH"  # 400 ranges of a V day that leave intervals uncovered
