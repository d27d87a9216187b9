"""The promotion rule: a candidate in shadow takes over only when it is better than the promoted model
on the agreed metric over the agreed window, on enough of the same steps, without a latency regression
beyond the stated margin. Plain functions: the forecast service feeds them its shadow scores.

Lower is better for the metric (an error: the forecast's MAPE %). "Better" means below the promoted
model's figure by at least `min_improvement` (relative). Latency: the candidate's median time to
answer may exceed the promoted model's by `latency_margin` (relative) plus `latency_slack_s`
(absolute: on a small model the median is milliseconds, and a relative margin alone would refuse on
scheduling noise).
"""

from dataclasses import asdict, dataclass

PROMOTE, REFUSE, WAIT = "promote", "refuse", "wait"


@dataclass(frozen=True)
class Rule:
    metric: str = "mape_percent"
    window_hours: int = 72  # the steps forecast in the last 72 h with actuals measured
    min_steps: int = 96  # a day of 15-minute steps scored by both
    min_improvement: float = 0.0
    latency_margin: float = 0.25
    latency_slack_s: float = 0.05


@dataclass(frozen=True)
class Score:
    version: str
    error: float  # the rule's metric over the window; NaN when nothing was scored
    steps: int  # steps with actuals scored
    latency_s: float  # median time to answer one request


@dataclass(frozen=True)
class Decision:
    action: str  # PROMOTE, REFUSE or WAIT (not enough evidence yet: nothing changes)
    reason: str

    def evidence(self, rule: Rule, promoted: Score, shadow: Score) -> dict:
        return {"action": self.action, "reason": self.reason, "rule": asdict(rule),
                "promoted": asdict(promoted), "shadow": asdict(shadow)}


def decide(promoted: Score, shadow: Score, rule: Rule = Rule()) -> Decision:
    steps = min(promoted.steps, shadow.steps)
    if steps < rule.min_steps or shadow.error != shadow.error or promoted.error != promoted.error:
        return Decision(WAIT, f"{steps} steps scored by both over {rule.window_hours} h;"
                              f" the rule needs {rule.min_steps}")
    latency_limit = promoted.latency_s * (1 + rule.latency_margin) + rule.latency_slack_s
    if shadow.latency_s > latency_limit:
        return Decision(REFUSE, f"latency regression: median {shadow.latency_s:.3f} s > {latency_limit:.3f} s allowed")
    bar = promoted.error * (1 - rule.min_improvement)
    if shadow.error < bar:
        return Decision(PROMOTE, f"{rule.metric} {shadow.error:.3f} < {promoted.error:.3f} over {steps} steps")
    return Decision(REFUSE, f"not better: {rule.metric} {shadow.error:.3f} >= {bar:.3f} over {steps} steps")
