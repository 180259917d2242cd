"""Helpers shared by the experiment modules (private)."""

import contextlib
import json
import math
import os

import numpy as np

from .._json import strict_json

# Environment variables that size the thread pools of BLAS, OpenMP and numba.
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(threads):
    """Run the body with at most ``threads`` BLAS and numba threads.

    Cells of a sweep run side by side, one per core; letting each of them
    start a multi-threaded BLAS or numba pool on a shared machine made a
    small GD step 20-40x slower (measured: 0.17 s vs 6.4 s for 50 steps of a
    width-1024 net), so every cell is single-threaded by default.
    """
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            yield
        else:
            with threadpool_limits(limits=int(threads)):
                yield
    finally:
        numba.set_num_threads(old)


@contextlib.contextmanager
def worker_thread_env(threads):
    """Set the thread-count variables (unless already set) for spawned workers."""
    saved = {k: os.environ.get(k) for k in _THREAD_ENV}
    for k in _THREAD_ENV:
        if saved[k] is None:
            os.environ[k] = str(int(threads))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def json_default(o):
    """JSON encoder fallback for NumPy scalars and arrays."""
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def write_json(path, obj):
    """Write ``obj`` as indented strict JSON."""
    with open(path, "w") as fh:
        json.dump(strict_json(obj), fh, indent=2, default=json_default)
        fh.write("\n")


def parse_float_list(text, name):
    """Parse ``"1,2,3"`` into a list of floats, naming ``name`` on error."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        items = [s for s in str(text).replace(" ", "").split(",") if s]
    try:
        return [float(s) for s in items]
    except ValueError:
        raise ValueError(
            f"{name} must be a comma-separated list of numbers, got {text!r}") from None


def parse_int_list(text, name):
    """Parse ``"1,2,3"`` into a list of ints, naming ``name`` on error."""
    vals = parse_float_list(text, name)
    if any(v != int(v) for v in vals):
        raise ValueError(f"{name} must be a comma-separated list of integers, got {text!r}")
    return [int(v) for v in vals]


def add_common_args(p, out_default):
    """The flags shared by the experiment commands."""
    g = p.add_argument_group("run")
    g.add_argument("--out", default=out_default, metavar="DIR",
                   help=f"output directory (default: {out_default})")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local worker processes (default: all CPUs; 1 = in this process)")
    g.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="run the cells on this Dask scheduler instead of a local pool")
    g.add_argument("--resume", action="store_true",
                   help="continue the sweep stored in --out (finished cells are not rerun)")
    g.add_argument("--seeds", type=int, default=5, metavar="K",
                   help="independent seeds per grid point (default: 5)")
    g.add_argument("--root-seed", type=int, default=0, help="root seed of the sweep (default: 0)")
    g.add_argument("--threads-per-cell", type=int, default=1, metavar="T",
                   help="BLAS/numba threads inside each cell (default: 1)")
    g.add_argument("--quiet", action="store_true", help="print nothing")
    g.add_argument("--json", action="store_true", help="print the summary as JSON")
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="show progress bars (default: on a terminal)")
    g.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bars")


def progress_flag(args):
    """Resolve --progress/--no-progress (default: on when stderr is a terminal and not quiet)."""
    if args.progress is not None:
        return bool(args.progress)
    import sys

    return (not args.quiet and not args.json) and sys.stderr.isatty()


def t_interval(values, confidence=0.95):
    """Mean and two-sided Student-t confidence interval of ``values``.

    Parameters
    ----------
    values : array_like of shape (k,)
        Independent replicates (NaNs are dropped).
    confidence : float, default 0.95
        Coverage.

    Returns
    -------
    dict
        ``mean``, ``std`` (ddof=1), ``k``, ``low``, ``high``, ``half_width``;
        the interval is ``mean +- t_{(1+c)/2, k-1} std / sqrt(k)``, and
        degenerate (equal to the mean) when ``k == 1``.
    """
    from scipy.stats import t as student_t

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    k = x.size
    if k == 0:
        return dict(mean=math.nan, std=math.nan, k=0, low=math.nan, high=math.nan,
                    half_width=math.nan)
    mean = float(x.mean())
    if k == 1:
        return dict(mean=mean, std=0.0, k=1, low=mean, high=mean, half_width=0.0)
    std = float(x.std(ddof=1))
    half = float(student_t.ppf(0.5 + confidence / 2.0, k - 1) * std / math.sqrt(k))
    return dict(mean=mean, std=std, k=k, low=mean - half, high=mean + half, half_width=half)
