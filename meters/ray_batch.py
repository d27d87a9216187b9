"""Run a list of independent tasks in this process or as Ray tasks on a Ray cluster (issue 16).

`run_batch(fn, items, ray_address=None)` returns `[fn(item) for item in items]`, in order:
- `ray_address=None` (the default everywhere): in this process, one item after another;
- `"local"`: a Ray head started here on loopback (`num_cpus` workers, a small object store, no
  dashboard, no usage stats) and shut down afterwards;
- anything else (`"127.0.0.1:6379"`, `"auto"`, a KubeRay head service): `ray.init(address=...)`
  on that existing cluster.
On Ray each item is one task of one CPU with `max_retries`: a task whose worker process dies (a
SIGKILL, a lost node) is run again, so the result is the same list. An exception raised by `fn`
itself is not retried; it is raised here. `fn` must be importable on the workers (a module-level
function of the installed project) and its items and results picklable. Progress is a rich bar
on stderr, as the CLI's other long jobs show it.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from meters.progress import progress_bar

T = TypeVar("T")
R = TypeVar("R")

MAX_RETRIES = 3
LOCAL = "local"
LOCAL_OBJECT_STORE_BYTES = 200 * 1024 * 1024


def run_batch(fn: Callable[[T], R], items: Sequence[T], ray_address: str | None = None, *,
              label: str = "tasks", max_retries: int = MAX_RETRIES, num_cpus: int = 2,
              progress: bool = True) -> list[R]:
    items = list(items)
    with progress_bar(transient=True, stderr=True, shown=progress) as bar:
        task = bar.add_task(label, total=len(items))
        if ray_address is None:
            out = []
            for item in items:
                out.append(fn(item))
                bar.advance(task)
            return out
        return _on_ray(fn, items, ray_address, max_retries, num_cpus, lambda: bar.advance(task))


def _on_ray(fn, items, address, max_retries, num_cpus, advance) -> list:
    import ray

    with connected(address, num_cpus):
        remote = ray.remote(num_cpus=1, max_retries=max_retries)(_call)
        fn_ref = ray.put(fn)
        refs = [remote.remote(fn_ref, item) for item in items]
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=1)
            advance()
        return ray.get(refs)


@contextmanager
def connected(address: str, num_cpus: int = 2) -> Iterator[None]:
    """This process as a Ray driver: on the cluster at `address`, or on a head started here for
    `LOCAL`; left as it was found (a driver already connected stays connected)."""
    import ray

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address == LOCAL:
        ray.init(num_cpus=num_cpus, object_store_memory=LOCAL_OBJECT_STORE_BYTES, include_dashboard=False,
                 _node_ip_address="127.0.0.1", logging_level="warning", log_to_driver=False)
    else:
        ray.init(address=address, logging_level="warning", log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def _call(fn, item):
    return fn(item)
