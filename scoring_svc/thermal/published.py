"""Published ETTh1 figures (MSE, MAE on z-scored values), copied from the papers' tables.

- DLinear: Zeng, Chen, Zhang, Xu, "Are Transformers Effective for Time Series Forecasting?",
  AAAI 2023 (arXiv 2205.13504 v3). Univariate "S": Table 9 (appendix, "Univariate long sequence
  time-series forecasting results on ETT full benchmark"); multivariate "M": Table 2, where the
  "Repeat" column is the last value repeated. Look-back 336 (the repository's
  scripts/EXP-LongForecasting/DLinear/etth1.sh, seq_len=336).
- PatchTST: Nie, Nguyen, Sinthong, Kalagnanam, "A Time Series is Worth 64 Words", ICLR 2023
  (arXiv 2211.14730). Univariate: Table 8 (appendix A.3); multivariate: Table 3 (the same figures
  as Table 11's "+in" columns). PatchTST/64: look-back 512; PatchTST/42: look-back 336.
"""

# (setting, horizon) -> model -> (mse, mae)
PUBLISHED = {
    ("S", 96): {"dlinear": (0.056, 0.180), "patchtst64": (0.059, 0.189), "patchtst42": (0.055, 0.179)},
    ("S", 336): {"dlinear": (0.098, 0.244), "patchtst64": (0.076, 0.220), "patchtst42": (0.081, 0.225)},
    ("M", 96): {"dlinear": (0.375, 0.399), "patchtst64": (0.370, 0.400), "patchtst42": (0.375, 0.399),
                "repeat": (1.295, 0.713)},
    ("M", 336): {"dlinear": (0.439, 0.443), "patchtst64": (0.422, 0.440), "patchtst42": (0.431, 0.436),
                 "repeat": (1.323, 0.744)},
}
