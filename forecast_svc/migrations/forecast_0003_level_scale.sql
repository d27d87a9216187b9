-- Level adaptation (forecast_svc/level.py): what the model's forecast was multiplied by to follow the
-- scope's measured demand (1 = the model's own level, confirmed by actuals; for a borrowed model the
-- share times the parent's level); NULL when there were no actuals to check the level against.
ALTER TABLE forecast.forecast_runs ADD COLUMN level_scale DOUBLE PRECISION;
