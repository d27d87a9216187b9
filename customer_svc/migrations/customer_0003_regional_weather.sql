-- Regional hourly temperature from a weather feed (RecordRegionalWeather): the input of each
-- customer's heating/cooling sensitivity in segmentation.
CREATE TABLE customers.regional_weather (
  region VARCHAR(8) NOT NULL,
  hour_start TIMESTAMPTZ NOT NULL,
  temperature_c DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (region, hour_start)
);
