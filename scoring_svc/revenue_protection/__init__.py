"""Revenue protection (issue 14): transformer energy balance and ranked theft suspects.

energy_balance: per-transformer hourly loss model fitted on early history, the unexplained residual.
suspects: which meter's own load shape stepped into its transformer's residual, and when (a
matched filter per meter and candidate start), with tamper / cover-open events at the step.
fleet_data: hourly aggregates of a generated fleet (streamed); evaluation: against planted thefts.
"""

from scoring_svc.revenue_protection.energy_balance import daily_balance, fit_loss_model, hourly_residual
from scoring_svc.revenue_protection.suspects import SuspectInputs, consumption_drop_baseline, rank_suspects

__all__ = ["SuspectInputs", "consumption_drop_baseline", "daily_balance", "fit_loss_model", "hourly_residual",
           "rank_suspects"]
