-- depends: forecast_0004_shadow_forecasts
-- Which weather forecast a run used (forecast_svc/weather_inputs.py): 'request', 'stored <source> issued
-- <time>' (the region's latest stored weather forecast), or 'none: ' and why. A stored run is served
-- again only while the weather it would use now is the same.
ALTER TABLE forecast.forecast_runs ADD COLUMN weather TEXT NOT NULL DEFAULT '';
