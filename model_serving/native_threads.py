"""One thread in every native pool (OpenMP under torch and xgboost, OpenBLAS, MKL) of a process that
hosts the models, as scoring_svc/server.py does; call before torch loads.

OpenMP keeps its thread count per calling thread, and a thread that never set it uses the
OMP_NUM_THREADS it found at start-up (else one per core): BentoML runs a sync API in a worker
thread, where `torch.set_num_threads(1)` of the loading thread does not apply. Measured here: the
LSTM of one reading took 0.2 ms on the main thread and 73 ms on a pool thread with two OpenMP
threads on two busy cores (idle threads spin, then the call waits for a core).
"""

import os

POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def one_thread_per_pool() -> None:
    for pool in POOLS:
        os.environ.setdefault(pool, "1")
