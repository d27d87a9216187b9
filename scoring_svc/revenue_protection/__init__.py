"""Revenue protection: transformer energy balance and ranked theft suspects (issue 14).

energy_balance: per-transformer hourly loss model fitted on early history, daily unexplained residual.
suspects: per-meter change points of the meter's share of its transformer, checked against the
balance residual, plus tamper events, flat-lining and reverse flow without registered solar.
fleet_data: daily aggregates of a generated fleet (streamed); evaluation: precision/recall vs truth.
"""

from scoring_svc.revenue_protection.energy_balance import daily_balance, fit_loss_model

__all__ = ["daily_balance", "fit_loss_model"]
