-- depends: scoring_0004_outages
-- Energy into each transformer per hour (kWh, signed: negative = net export), for the energy balance
-- against the sum of its meters (issue 14). NULL: the source sent no energy for the hour. A value the
-- scoring service rejects (outside +-10 x capacity_kva x 1 h, or infinite) is kept with its reason in
-- energy_kwh_rejected / energy_reject_reason, and energy_kwh stays NULL.
ALTER TABLE grid.transformer_telemetry
  ADD COLUMN energy_kwh DOUBLE PRECISION,
  ADD COLUMN energy_kwh_rejected DOUBLE PRECISION,
  ADD COLUMN energy_reject_reason TEXT;
