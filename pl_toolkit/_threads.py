"""Worker threads that each run single-threaded BLAS and serial numba kernels.

The tiled Gram matrices (:func:`pl_toolkit._features.ntk_gram_tiled`) split
their work into independent tasks (the features of a row block, the
products and the combination of one tile) and run them on ``w`` Python
threads.  Every heavy call in a task releases the GIL (NumPy's matrix
products, numba kernels compiled with ``nogil=True``), and inside
:func:`one_blas_thread` each BLAS call runs in its caller's thread, so each
worker keeps one core busy with its own task: the activation pass of one
block overlaps the products of another, and no BLAS thread pool or numba
thread pool waits or spins for the other.

Results do not depend on ``w``: every task runs the same single-threaded
instructions whichever worker picks it up, and tasks write disjoint parts
of the output.
"""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

__all__ = ["one_blas_thread", "run_tasks", "worker_count"]

_LOCK = threading.Lock()
_STATE = {"active": 0, "saved": [], "libs": None}


def _blas_libs():
    """The BLAS libraries threadpoolctl can steer (empty without threadpoolctl)."""
    if _STATE["libs"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _STATE["libs"] = [c for c in ThreadpoolController().lib_controllers
                              if c.user_api == "blas"]
        except Exception:  # threadpoolctl is optional (it comes with scikit-learn)
            _STATE["libs"] = []
    return _STATE["libs"]


@contextlib.contextmanager
def one_blas_thread():
    """Run the block with every BLAS library at one thread; yield the count they had.

    Yields the largest thread count the BLAS libraries had before (0 when
    they cannot be steered, in which case nothing is changed).  Nested and
    concurrent uses share one saved state: the counts are restored when the
    last use ends.
    """
    with _LOCK:
        libs = _blas_libs()
        if _STATE["active"] == 0:
            _STATE["saved"] = [c.num_threads for c in libs]
            for c in libs:
                c.set_num_threads(1)
        _STATE["active"] += 1
        before = max(_STATE["saved"], default=0)
    try:
        yield before
    finally:
        with _LOCK:
            _STATE["active"] -= 1
            if _STATE["active"] == 0:
                for c, k in zip(libs, _STATE["saved"]):
                    c.set_num_threads(k)


def worker_count(parallel, blas_threads):
    """Workers for a tiled product: numba's thread count, capped by the BLAS's; 1 if serial."""
    if not parallel or blas_threads < 1:
        return 1
    return max(1, min(numba.get_num_threads(), int(blas_threads)))


def run_tasks(fn, items, workers):
    """Call ``fn(item)`` for every item on ``workers`` threads; re-raise the first error.

    NumPy's floating-point error state is per thread, so each task runs
    with overflow and invalid warnings off, as the callers' own thread does
    (they check their results for non-finite entries instead).
    """
    def task(item):
        with np.errstate(over="ignore", invalid="ignore"):
            return fn(item)

    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [task(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as ex:
        futures = [ex.submit(task, item) for item in items]
        return [f.result() for f in futures]
