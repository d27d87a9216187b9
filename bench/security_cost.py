"""What the perimeter costs: ingest throughput and scoring latency with TLS, mTLS and token checks
on (the default) beside the same mesh in plain-text development mode, on one machine in one run.

Figures: <figure>_tls_auth and <figure>_plaintext for ingest_readings_per_s, scoring_p99_ms and
scoring_p50_ms, and security_cost_* ratios (goal: under 10 % cost). Each mode gets a stack of its
own, so neither sees the other's topics or offsets. Models: the promoted ones, else small ones
trained once (as `make demo` does).
"""

from bench import modes


def run() -> dict[str, float]:
    with modes.workdir("bench-security-") as tmp:
        figures = {**modes.measure(tmp, "tls_auth"), **modes.measure(tmp, "plaintext", secure=False)}
    return {**figures, **modes.cost(figures, "security_cost", "tls_auth", "plaintext")}
