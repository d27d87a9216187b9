"""One spawned worker process for CPU-heavy requests (reports, theft suspects), off the event loop.

In a thread of the service's own process such work holds the GIL for long stretches and stalls the
asyncio loop that serves scoring (measured for the reliability report: up to ~130 ms at a time at
200,000 meters). Spawned, not forked (a clean interpreter, not a copy of the service's threads), at
the first call; a worker that died is replaced at the next call, the call it failed is UNAVAILABLE.
"""

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from meters.errors import unavailable


class WorkerProcess:
    def __init__(self, what: str, reason: str):
        self._what, self._reason = what, reason
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, fn, *args):
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:
            self._pool = None  # the next call starts another
            raise unavailable(f"the {self._what} worker process died; retry", reason=self._reason) from None

    async def close(self) -> None:
        if self._pool is not None:
            await asyncio.to_thread(self._pool.shutdown, cancel_futures=True)
            self._pool = None
