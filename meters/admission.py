"""Admission bounds: what a server holds at once, and a retryable refusal of the excess.

A server that queues every call it is sent runs out of memory under overload, and every caller
waits behind the queue. Each bound here is a budget of units (calls in flight, readings in
flight); work that would take more than is left is refused at once with RESOURCE_EXHAUSTED, a
google.rpc.RetryInfo saying when to try again and an ErrorInfo naming the bound, so that clients
back off and retry instead of piling up. One event loop per server: plain counters, no locks.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from meters.errors import resource_exhausted
from meters.metrics import ADMISSION_CAPACITY, ADMISSION_IN_USE, ADMISSION_REFUSED


class Budget:
    def __init__(self, name: str, capacity: int, retry_after_s: float):
        if capacity < 1:
            raise ValueError(f"the {name} bound must be at least 1, not {capacity}")
        self.name = name
        self.capacity = capacity
        self.retry_after_s = retry_after_s
        self.in_use = 0
        self._gauge = ADMISSION_IN_USE.labels(name)
        self._refused = ADMISSION_REFUSED.labels(name)
        ADMISSION_CAPACITY.labels(name).set(capacity)

    def fits(self, units: int) -> bool:
        # Work larger than the whole budget passes only alone, so that it is never refused for good.
        return self.in_use + units <= self.capacity or self.in_use == 0

    @contextmanager
    def hold(self, units: int = 1) -> Iterator[None]:
        """Hold `units` for the block, or raise RESOURCE_EXHAUSTED (with RetryInfo) when they do not fit."""
        if not self.fits(units):
            self._refused.inc(units)
            raise resource_exhausted(
                f"server busy: {self.in_use:,} of {self.capacity:,} {self.name} in flight, {units:,} more refused;"
                f" retry in {self.retry_after_s:g} s", "OVERLOADED", self.retry_after_s,
                limit=self.name, capacity=str(self.capacity), requested=str(units))
        self.in_use += units
        self._gauge.set(self.in_use)
        try:
            yield
        finally:
            self.in_use -= units
            self._gauge.set(self.in_use)
