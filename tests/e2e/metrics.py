"""What a mesh process's /metrics says (meters.scrape, shared with the benchmarks)."""

from meters.scrape import metric

__all__ = ["metric"]
