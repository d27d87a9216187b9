"""Client deadlines. Every call a client of the mesh makes carries one: a call without a deadline
waits for ever on a stuck server and holds its caller (and the server's slot) with it.
tests/test_deadlines.py fails on a call to a service method written without `timeout=`.
"""

# Interactive reads and per-reading calls (scoring, forecasts, lists): seconds at worst.
QUERY_S = 10.0
# Registration, batch writes, reloads: a 20,000-meter BatchCreateMeters takes ~1 s here.
CALL_S = 60.0
# One StreamReadings call of meters.ingest_client.WINDOW_BATCHES batches (~1 s here), or a whole
# benchmark stream of ~2 M readings (~10 s): generous but finite.
STREAM_S = 300.0
