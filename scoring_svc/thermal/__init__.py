"""Transformer top-oil thermal forecast on real data (ETTh1): the IEC 60076-7 physics baseline,
a learnt forecaster on top, and the literature's standard ETTh1 benchmark. docs/thermal.md."""
