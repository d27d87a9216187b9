"""reports/thermal_etth1.md: the benchmark table from the evaluation's figures (evaluation.py)."""

from pathlib import Path

from scoring_svc.thermal.benchmark import HORIZONS

ROWS = [("S", "s", "univariate OT (S)"), ("MS-physics", "ms_physics", "OT + IEC physics projection (MS-physics)"),
        ("M", "m", "multivariate, 7 columns (M)")]
PEERS = [("ours", "**ours**"), ("naive", "last value"), ("naive_yesterday", "same hour yesterday"),
         ("physics", "IEC physics alone"), ("dlinear", "DLinear (paper)"), ("patchtst42", "PatchTST/42 (paper)"),
         ("patchtst64", "PatchTST/64 (paper)"), ("repeat", "Repeat (DLinear paper)")]


PUBLISHED_PEERS = {"dlinear", "patchtst42", "patchtst64", "repeat"}  # the papers print three decimals


def _cell(mse: float | None, mae: float | None, digits: int) -> str:
    return "—" if mse is None else f"{mse:.{digits}f} / {mae:.{digits}f}"


def write_markdown(path: Path, figures: dict, quick: bool) -> None:
    lines = [f"# ETTh1 benchmark{' (quick run: every 24th test window)' if quick else ''}", "",
             "MSE / MAE of z-scored values over the test windows; look-back 336 h; published figures from the papers' "
             "tables (scoring_svc/thermal/published.py, docs/thermal.md).", "",
             "| setting | H | " + " | ".join(name for _, name in PEERS) + " |",
             "|---|---|" + "---|" * len(PEERS)]
    for _, tag, label in ROWS:
        for h in HORIZONS:
            base = f"thermal_etth1_{tag}_h{h}"
            if f"{base}_windows" not in figures:
                continue
            cells = [_cell(figures.get(f"{base}_mse_{p}"), figures.get(f"{base}_mae_{p}"),
                           3 if p in PUBLISHED_PEERS else 4) for p, _ in PEERS]
            lines.append(f"| {label} | {h} | " + " | ".join(cells) + " |")
    f = figures
    lines += ["", f"IEC model, load-driven simulation over the test months: MAE {f['thermal_physics_test_mae_c']:.2f} °C "
              f"(bias {f['thermal_physics_test_bias_c']:+.2f} °C; training months {f['thermal_physics_train_mae_c']:.2f} °C).",
              "Forecast MAE in °C, H=96 / 336: "
              f"ours (MS-physics) {f['thermal_etth1_ms_physics_h96_mae_c_ours']:.2f} / "
              f"{f['thermal_etth1_ms_physics_h336_mae_c_ours']:.2f}, "
              f"IEC projection {f['thermal_physics_forecast_h96_mae_c']:.2f} / {f['thermal_physics_forecast_h336_mae_c']:.2f}, "
              f"last value {f['thermal_naive_h96_mae_c']:.2f} / {f['thermal_naive_h336_mae_c']:.2f}.",
              "Overload outlook of the 336 h forecasts (IEC hot spot with the standard's gradient, overload.py): highest "
              f"hot spot forecast {f['thermal_overload_h336_hot_spot_max_c_forecast']:.1f} °C vs "
              f"{f['thermal_overload_h336_hot_spot_max_c_actual']:.1f} °C from the measured oil (limit 120 °C); "
              f"loss of life over a window {f['thermal_overload_h336_loss_of_life_hours_mean_actual']:.4f} h, "
              f"forecast MAE {f['thermal_overload_h336_loss_of_life_hours_mae']:.4f} h.", ""]
    path.write_text("\n".join(lines))
