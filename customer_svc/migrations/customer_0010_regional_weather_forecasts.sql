-- depends: customer_0003_regional_weather
-- Regional weather forecasts from a weather provider's feed (RecordRegionalWeatherForecasts): the
-- forecast service forecasts a region's demand with the latest issue covering its horizon.
CREATE TABLE customers.regional_weather_forecasts (
  region VARCHAR(8) NOT NULL,
  issued_at TIMESTAMPTZ NOT NULL,
  source VARCHAR(64) NOT NULL,
  valid_time TIMESTAMPTZ NOT NULL,
  temperature_c DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (region, issued_at, source, valid_time)
);
