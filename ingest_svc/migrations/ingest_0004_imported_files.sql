-- MDFF files imported to the end, by SHA-256: importing the same file again answers its first
-- summary and publishes nothing, so consumers that fold readings as they come (hourly usage,
-- forecast actuals) do not see its intervals twice.
CREATE TABLE meters.imported_files (
  sha256 TEXT PRIMARY KEY,
  file_name TEXT NOT NULL,
  intervals BIGINT NOT NULL,
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  summary BYTEA NOT NULL  -- meters.ingest.v1.Nem12ImportSummary, serialized
);
