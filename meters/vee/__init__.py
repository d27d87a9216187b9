"""VEE: validation, estimation and editing of interval data, as a meter data management system
does before the data is used.

Domain logic only (numpy in, numpy out; no gRPC, no database):
- `series`: one meter's readings placed on a regular grid of interval ends (NaN = missing), with
  NEM-time calendar helpers (slot of day, weekday, hour of week);
- `detect`: gaps, implausible zero runs and spikes against the meter's own history;
- `estimate`: substitutes by the AEMO Metrology Procedure Part B methods that fit interval data
  (linear interpolation, like days, a profile fallback), each with its method flag and quality;
- `methods`: the NEM12 method flags and quality methods used.
"""
