"""Run a parameter sweep: cells in parallel, results in SQLite, resumable.

A *sweep* is a list of *cells* (dicts of JSON-serializable parameters such
as ``{"n": 64, "d1": 512, "seed": 3}``) and one top-level function
``fn(cell, seed) -> dict``.  :func:`run_sweep` runs ``fn`` on every cell,
locally in a process pool or on a Dask cluster, and writes each result to
``<outdir>/sweep.sqlite`` the moment it arrives.  A sweep that was killed,
even with SIGKILL, is continued with ``resume=True``: finished cells are not
recomputed and none is lost.  :func:`load_results` reads the results back.

Design
------
* **Identity.** A cell is identified by its key, the canonical JSON of its
  parameters (sorted keys, no whitespace, see :func:`cell_key`).  The
  database as a whole is bound to the sweep's name, ``config``, root seed and
  the qualified name of ``fn``; they are stored in the ``meta`` table with
  their hash, and a resume with different values is refused.
* **Seeds.** Cell seeds depend only on ``(root_seed, cell key)``
  (:func:`cell_seed`), never on the order of the cells, on the executor or
  on which cells were already done, so an interrupted-and-resumed sweep
  gives the same numbers as an uninterrupted one.
* **Durability.** Only the parent process writes to the database, one
  transaction per finished cell, in WAL mode with ``synchronous=NORMAL``:
  a committed cell survives any death of the process (SIGKILL included); a
  power cut may lose the last few commits but never corrupts the file.
* **Start method.** The local pool uses the ``"spawn"`` start method; see
  the comment at ``_START_METHOD``.
"""

import concurrent.futures as cf
import datetime
import hashlib
import json
import multiprocessing
import os
import pathlib
import pickle
import sqlite3
import sys
import time
import traceback
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ._validation import check_positive_int

__all__ = ["SweepResult", "cell_key", "cell_seed", "load_results", "run_sweep"]

#: File name of the results database inside ``outdir``.
DATABASE_NAME = "sweep.sqlite"

# Version of the database layout; stored in ``meta`` and checked on resume.
_FORMAT = "1"

# Start method of the local pool: "spawn".
#
# "fork" is unsafe here.  Measured on this project's stack (numba 0.68, its
# default threading layer resolving to GNU OpenMP): after one parallel numba
# kernel has run in the parent, a forked worker running a parallel kernel
# prints "Terminating: fork() called from a process already using GNU
# OpenMP, this is unsafe." and never answers (the pool hangs).  OpenBLAS
# thread pools and Dask's threads in the parent are the same hazard, and
# Python 3.12+ warns about fork() in multi-threaded processes.
#
# "spawn" and "forkserver" both start workers from a fresh interpreter and
# are safe.  Their cost is close: a 2-worker pool whose workers import
# pl_toolkit took 0.30 s (spawn) vs 0.25 s (forkserver) from creation to the
# last result, paid once per sweep.  "spawn" wins on the rest: it exists on
# every platform (Windows has nothing else, macOS defaults to it) and keeps
# no process-global server whose preload list or environment would leak
# from one sweep into the next.
_START_METHOD = "spawn"

# Cells in flight per worker: enough to keep workers busy while the parent
# records results, few enough that Ctrl-C or a crash abandons little work.
_WINDOW = 2

_DASK_MISSING = "dask_scheduler requires the 'dask' extra: pip install pl_toolkit[dask]"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    key       TEXT PRIMARY KEY,  -- canonical JSON of the cell parameters
    status    TEXT NOT NULL,     -- 'ok' or 'error'
    result    TEXT,              -- JSON of fn's dict ('ok' only)
    error     TEXT,              -- one-line message ('error' only)
    traceback TEXT,              -- full traceback ('error' only)
    seconds   REAL,              -- time spent in fn, measured by the worker
    attempts  INTEGER NOT NULL,  -- how many times the cell was run
    finished  TEXT NOT NULL      -- UTC time of the last attempt
);
"""

# Fields of ``meta`` that must agree for a resume, in the order reported.
_CHECKED_META = ("format", "name", "function", "root_seed", "config")


# ---------------------------------------------------------------------------
# keys, seeds, JSON


def _json_default(obj):
    # NumPy scalars and arrays become plain Python numbers and lists.
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON-serializable")


def _canonical_json(obj, what):
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
            allow_nan=False, default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} is not canonical JSON ({exc}): {obj!r}") from None


def cell_key(cell):
    """Return the stable key of a cell: its canonical JSON.

    Parameters
    ----------
    cell : mapping of str to JSON-serializable values
        The cell parameters.  NumPy scalars and arrays are accepted and
        stored as Python numbers and lists; NaN and infinities are not.

    Returns
    -------
    str
        ``json.dumps(cell, sort_keys=True, separators=(",", ":"))``.

    Raises
    ------
    ValueError
        If ``cell`` is not a mapping with string keys or is not
        JSON-serializable.

    Notes
    -----
    The key is the JSON text, so ``{"n": 1}`` and ``{"n": 1.0}`` are two
    different cells, and tuples become lists.  ``fn`` always receives the
    cell decoded back from its key, so it sees the same values in every
    executor and after a resume.

    Examples
    --------
    >>> cell_key({"n": 8, "d1": 64})
    '{"d1":64,"n":8}'
    """
    if not isinstance(cell, Mapping):
        raise ValueError(f"cell must be a dict, got {type(cell).__name__}")
    bad = [k for k in cell if not isinstance(k, str)]
    if bad:
        raise ValueError(f"cell keys must be strings, got {bad[0]!r} in {dict(cell)!r}")
    return _canonical_json(dict(cell), "cell")


def _spawn_key(key):
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def cell_seed(root_seed, cell):
    """Return the seed sequence that :func:`run_sweep` gives a cell.

    Parameters
    ----------
    root_seed : int
        The sweep's root seed (non-negative).
    cell : mapping or str
        The cell parameters, or their key from :func:`cell_key`.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(root_seed, spawn_key=k)`` where ``k`` holds the first
        four little-endian 32-bit words of the SHA-256 digest of the cell
        key.

    Notes
    -----
    The seed depends on nothing but ``root_seed`` and the cell key: not on
    the order of the cells, the executor, or which cells were already done.
    128 bits of digest make a collision between two cells of one sweep
    negligible.  Use it to recompute one cell by hand.

    Examples
    --------
    >>> import numpy as np
    >>> seed = cell_seed(0, {"n": 8})
    >>> x = np.random.default_rng(seed).standard_normal(2)
    >>> y = np.random.default_rng(cell_seed(0, '{"n":8}')).standard_normal(2)
    >>> bool((x == y).all())
    True
    """
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    key = cell if isinstance(cell, str) else cell_key(cell)
    return np.random.SeedSequence(root_seed, spawn_key=_spawn_key(key))


def _one_line(exc):
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _run_cell(fn, key, root_seed):
    """Run ``fn`` on one cell; executed by the worker (or in-process).

    Returns ``(status, result_json, error, traceback, seconds)``.  Every
    exception of ``fn``, and a result that is not a JSON-serializable dict,
    becomes an ``"error"`` outcome, so a worker never fails because of a
    cell.
    """
    cell = json.loads(key)
    seed = np.random.SeedSequence(root_seed, spawn_key=_spawn_key(key))
    start = time.perf_counter()
    try:
        out = fn(cell, seed)
        seconds = time.perf_counter() - start
        if not isinstance(out, Mapping):
            raise TypeError(f"fn must return a dict, got {type(out).__name__}")
        bad = [k for k in out if not isinstance(k, str)]
        if bad:
            raise TypeError(f"fn returned a dict with a non-string key {bad[0]!r}")
        # allow_nan=True (the default) writes NaN/Infinity, which json.loads reads back.
        text = json.dumps(dict(out), default=_json_default)
    except Exception as exc:
        seconds = time.perf_counter() - start
        return ("error", None, _one_line(exc), traceback.format_exc(), seconds)
    return ("ok", text, None, None, seconds)


# ---------------------------------------------------------------------------
# database


def _open(path):
    conn = sqlite3.connect(path, timeout=60)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":  # pragma: no cover - e.g. some network file systems
        conn.close()
        raise OSError(f"outdir: cannot put {path} in WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    conn.commit()
    return conn


def _function_name(fn):
    module = getattr(fn, "__module__", None) or "?"
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    return f"{module}:{qualname}"


def _make_meta(fn, name, config, root_seed):
    meta = {
        "format": _FORMAT,
        "name": name,
        "function": _function_name(fn),
        "root_seed": str(root_seed),
        "config": _canonical_json(config, "config"),
    }
    meta["config_hash"] = hashlib.sha256(
        _canonical_json(meta, "meta").encode("utf-8")).hexdigest()
    return meta


def _prepare_meta(conn, meta, resume, path):
    n_rows = conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    stored = dict(conn.execute("SELECT name, value FROM meta"))
    if n_rows and not resume:
        raise ValueError(
            f"outdir already holds a sweep with {n_rows} stored cells ({path}); "
            "pass resume=True to continue it or choose another outdir")
    if n_rows:
        if not stored:
            raise ValueError(f"outdir: {path} has cells but no sweep configuration; "
                             "choose another outdir")
        for field in _CHECKED_META:
            if stored.get(field) != meta[field]:
                raise ValueError(
                    f"cannot resume the sweep in {path}: {field} differs "
                    f"(database: {stored.get(field)!r}, this run: {meta[field]!r}); "
                    "rerun with the original settings or choose another outdir")
        return
    # No finished cell yet: (re)write the configuration.
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with conn:
        conn.execute("DELETE FROM meta")
        conn.executemany("INSERT INTO meta (name, value) VALUES (?, ?)",
                         list(meta.items()) + [("created", now)])


_UPSERT = """
INSERT INTO cells (key, status, result, error, traceback, seconds, attempts, finished)
VALUES (?, ?, ?, ?, ?, ?, 1, ?)
ON CONFLICT (key) DO UPDATE SET
    status = excluded.status, result = excluded.result, error = excluded.error,
    traceback = excluded.traceback, seconds = excluded.seconds,
    attempts = cells.attempts + 1, finished = excluded.finished
"""


# ---------------------------------------------------------------------------
# executors


def _drive(executor, fn, keys, root_seed, window, record):
    """Run ``keys`` on ``executor`` with at most ``window`` cells in flight.

    ``record(key, outcome)`` is called in this (the parent) process as each
    cell finishes.  Returns the keys never submitted because the executor
    broke (empty when all went through).
    """
    pending = {}
    remaining = iter(keys)
    unsubmitted = []
    broken = False

    def fill():
        nonlocal broken
        while not broken and len(pending) < window:
            key = next(remaining, None)
            if key is None:
                return
            try:
                pending[executor.submit(_run_cell, fn, key, root_seed)] = key
            except BrokenProcessPool:
                broken = True
                unsubmitted.append(key)

    fill()
    while pending:
        done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
        for future in sorted(done, key=pending.get):
            key = pending.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # the worker died or the cluster lost the task
                broken = broken or isinstance(exc, BrokenProcessPool)
                outcome = ("error", None, "worker failure: " + _one_line(exc),
                           "".join(traceback.format_exception(exc)), None)
            record(key, outcome)
        fill()
    if broken:
        unsubmitted.extend(remaining)
    return unsubmitted


def _run_local_pool(fn, keys, root_seed, workers, record, n_ok):
    try:
        pickle.dumps(fn)
    except Exception as exc:
        raise ValueError(
            "fn must be picklable (a function defined at the top level of an "
            f"importable module) to run in a process pool: {_one_line(exc)}; "
            "use workers=1 to run in-process") from None
    context = multiprocessing.get_context(_START_METHOD)
    while keys:
        ok_before = n_ok()
        executor = cf.ProcessPoolExecutor(min(workers, len(keys)), mp_context=context)
        try:
            keys = _drive(executor, fn, keys, root_seed, _WINDOW * workers, record)
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=True)
        if keys and n_ok() == ok_before:
            # A pool that dies before finishing any cell will die again.
            raise RuntimeError(
                "the process pool broke before finishing any cell (cells in flight "
                f"were recorded as errors, {len(keys)} cells were not run); fn must be "
                "importable by a fresh interpreter (not defined interactively or in "
                "'python -c'), and scripts need an 'if __name__ == \"__main__\":' "
                "guard; use workers=1 to debug")
        # Otherwise one cell killed its worker (segfault, out of memory):
        # the cells in flight are recorded as errors; go on with a new pool.


def _dask_client(dask_scheduler):
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(_DASK_MISSING) from exc
    if isinstance(dask_scheduler, str):
        return distributed.Client(dask_scheduler, set_as_default=False), True
    if isinstance(dask_scheduler, distributed.Client):
        return dask_scheduler, False
    raise ValueError("dask_scheduler must be a scheduler address or a distributed.Client, "
                     f"got {type(dask_scheduler).__name__}")


def _run_dask(fn, keys, root_seed, dask_scheduler, record):
    client, owned = _dask_client(dask_scheduler)
    try:
        threads = sum(client.nthreads().values())
        executor = client.get_executor(pure=False)
        try:
            # Returns no unsubmitted key: only a local process pool "breaks";
            # a lost Dask worker fails just its own tasks (recorded as errors).
            _drive(executor, fn, keys, root_seed, max(_WINDOW * threads, 8), record)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        executor.shutdown(wait=True)
    finally:
        if owned:
            client.close()


# ---------------------------------------------------------------------------
# public API


@dataclass(frozen=True)
class SweepResult:
    """Summary of one call of :func:`run_sweep`.

    The fields are read-only attributes of the same names.

    Parameters
    ----------
    outdir : str
        The output directory.
    database : str
        Path of the SQLite results database.
    n_cells : int
        Number of cells requested in this call.
    n_skipped : int
        Cells already finished (status ``"ok"``) before this call, not rerun.
    n_ok : int
        Cells that finished without error in this call.
    n_error : int
        Cells whose ``fn`` raised (or whose worker died) in this call.
    errors : tuple of (dict, str)
        ``(cell, one-line message)`` of every error of this call, in the
        order of ``cells``.
    seconds : float
        Wall time of the call.
    """

    outdir: str
    database: str
    n_cells: int
    n_skipped: int
    n_ok: int
    n_error: int
    errors: tuple
    seconds: float

    @property
    def complete(self):
        """Tell whether every requested cell has a result (no error).

        Returns
        -------
        bool
            ``n_error == 0``.
        """
        return self.n_error == 0


def run_sweep(fn, cells, outdir, *, name, config=None, root_seed=0, workers=None,
              dask_scheduler=None, resume=False, progress=True):
    """Run ``fn`` on every cell and store each result as it finishes.

    Parameters
    ----------
    fn : callable
        ``fn(cell, seed) -> dict``, called with the cell (a dict decoded from
        its key, see :func:`cell_key`) and its
        :class:`numpy.random.SeedSequence` (see :func:`cell_seed`); pass the
        seed to :func:`numpy.random.default_rng`.  It returns a dict of
        JSON-serializable values (numbers, strings, bools, lists, dicts;
        NaN and infinities are kept; NumPy scalars and arrays become Python
        numbers and lists).  For a process pool it must be defined at the
        top level of an importable module.
    cells : iterable of dict
        The cell parameters; JSON-serializable, string keys, no duplicates.
        Cells are started in this order.
    outdir : str or path-like
        Directory of the results (created if needed); the database is
        ``outdir/sweep.sqlite``.
    name : str
        Name of the sweep; stored and checked on resume.
    config : JSON-serializable, optional
        Anything else that determines the results (grid description, code
        version, ...); stored and checked on resume.
    root_seed : int, default 0
        Root of every cell seed.
    workers : int, optional
        Size of the local process pool; defaults to the number of CPUs this
        process may use.  ``workers=1`` runs every cell in this process, with
        no pool (for debugging and tests).
    dask_scheduler : str or distributed.Client, optional
        Run the cells on an existing Dask cluster instead: a scheduler
        address (a client is opened and closed here) or a client (left
        open).  Needs the ``dask`` extra.  Incompatible with ``workers``.
    resume : bool, default False
        Continue the sweep stored in ``outdir``: cells already finished are
        skipped, errored cells are run again, new cells are added.  With no
        database yet, a new sweep is started.
    progress : bool, default True
        Show a tqdm progress bar over cells on stderr.

    Returns
    -------
    SweepResult
        Counts and error messages of this call; the results themselves are
        read with :func:`load_results`.

    Raises
    ------
    ValueError
        If an argument is invalid, if ``outdir`` already holds finished cells
        and ``resume`` is False, or if it holds a sweep whose name, function,
        root seed or config differ from this call's (the message names the
        first difference).
    ImportError
        If ``dask_scheduler`` is given and ``distributed`` is not installed.
    RuntimeError
        If the process pool breaks before finishing a single cell.

    Notes
    -----
    An exception in ``fn`` does not stop the sweep: the cell is stored with
    status ``"error"``, its one-line message and traceback, and the sweep
    goes on; ``resume=True`` runs errored cells again.  If a worker process
    dies (segfault, out of memory), the cells in flight are recorded as
    errors and a new pool takes over.

    Each result is committed by this process alone, as soon as it arrives,
    so a sweep killed at any moment (SIGKILL included) loses only the cells
    that were running.  ``seconds`` is the time spent inside ``fn``.

    The pool costs about 2 ms per cell (measured with 2 workers); merge
    computations of a few milliseconds into larger cells.

    Workers inherit the environment: with many workers each running
    multi-threaded numba or BLAS code, set e.g. ``OMP_NUM_THREADS`` and
    ``NUMBA_NUM_THREADS`` before calling, to avoid oversubscription.
    Two processes must not run the same ``outdir`` at the same time.

    Examples
    --------
    >>> import tempfile
    >>> from pl_toolkit._engine import run_sweep, load_results
    >>> def mean_of_normals(cell, seed):
    ...     x = np.random.default_rng(seed).standard_normal(cell["n"])
    ...     return {"mean": float(x.mean())}
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     summary = run_sweep(mean_of_normals, [{"n": 20}, {"n": 10}], outdir,
    ...                         name="demo", workers=1, progress=False)
    ...     rows = load_results(outdir)
    >>> summary.n_ok, [row["cell"]["n"] for row in rows]
    (2, [10, 20])
    """
    t_start = time.perf_counter()
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    root_seed = check_positive_int(root_seed, "root_seed", minimum=0)
    if dask_scheduler is not None and workers is not None:
        raise ValueError("workers and dask_scheduler are exclusive: give one of them")
    if workers is None:
        workers = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else os.cpu_count() or 1)
    workers = check_positive_int(workers, "workers")
    if isinstance(cells, Mapping):
        raise ValueError("cells must be an iterable of dicts, got a single dict")

    keys, position = [], {}
    for i, cell in enumerate(cells):
        try:
            key = cell_key(cell)
        except ValueError as exc:
            raise ValueError(f"cells[{i}]: {exc}") from None
        if key in position:
            raise ValueError(f"cells[{i}] duplicates cells[{position[key]}]: {key}")
        position[key] = i
        keys.append(key)
    meta = _make_meta(fn, name, config, root_seed)

    outdir = os.fspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, DATABASE_NAME)
    conn = _open(path)
    counts = {"ok": 0, "error": 0}
    errors = []
    try:
        _prepare_meta(conn, meta, resume, path)
        done = {k for (k,) in conn.execute("SELECT key FROM cells WHERE status = 'ok'")}
        todo = [k for k in keys if k not in done]
        n_skipped = len(keys) - len(todo)
        with tqdm(total=len(keys), initial=n_skipped, desc=name, unit="cell",
                  file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:

            def record(key, outcome):
                status, result, error, tb, seconds = outcome
                now = datetime.datetime.now(datetime.timezone.utc).isoformat(
                    timespec="milliseconds")
                with conn:  # one transaction, committed per cell
                    conn.execute(_UPSERT, (key, status, result, error, tb, seconds, now))
                counts[status] += 1
                if status == "error":
                    errors.append((key, error))
                    bar.set_postfix(errors=counts["error"], refresh=False)
                bar.update(1)

            if not todo:
                pass
            elif dask_scheduler is not None:
                _run_dask(fn, todo, root_seed, dask_scheduler, record)
            elif workers == 1:
                for key in todo:
                    record(key, _run_cell(fn, key, root_seed))
            else:
                _run_local_pool(fn, todo, root_seed, workers, record,
                                lambda: counts["ok"])
    finally:
        conn.close()
    errors.sort(key=lambda item: position[item[0]])
    return SweepResult(
        outdir=outdir, database=path, n_cells=len(keys), n_skipped=n_skipped,
        n_ok=counts["ok"], n_error=counts["error"],
        errors=tuple((json.loads(k), msg) for k, msg in errors),
        seconds=time.perf_counter() - t_start)


def load_results(outdir):
    """Read every stored cell of the sweep in ``outdir``.

    Parameters
    ----------
    outdir : str or path-like
        Output directory of :func:`run_sweep`.  The database is only
        read, so this works while a sweep is still running.

    Returns
    -------
    list of dict
        One dict per cell, sorted by cell key (the JSON text, so
        ``{"n": 1000}`` comes before ``{"n": 20}``), with entries ``cell`` (the
        parameters), ``status`` (``"ok"`` or ``"error"``), ``result`` (the
        dict returned by ``fn``, None on error), ``error`` (one-line message,
        None when ok) and ``seconds`` (time spent in ``fn``; None when
        the worker process died).

    Raises
    ------
    FileNotFoundError
        If ``outdir`` holds no sweep database.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     _ = run_sweep(lambda cell, seed: {"twice": 2 * cell["x"]},
    ...                   [{"x": 2}, {"x": 1}], outdir, name="demo",
    ...                   workers=1, progress=False)
    ...     [(row["cell"]["x"], row["result"]["twice"]) for row in load_results(outdir)]
    [(1, 2), (2, 4)]
    """
    path = pathlib.Path(os.fspath(outdir)) / DATABASE_NAME
    if not path.is_file():
        raise FileNotFoundError(f"outdir {os.fspath(outdir)!r} holds no {DATABASE_NAME}")
    # A plain connection, made read-only by query_only: unlike a "mode=ro"
    # one, it can recover the write-ahead log of a sweep killed mid-write.
    conn = sqlite3.connect(path, timeout=60)
    try:
        conn.execute("PRAGMA query_only = ON")
        rows = conn.execute(
            "SELECT key, status, result, error, seconds FROM cells ORDER BY key").fetchall()
    finally:
        conn.close()
    return [
        {"cell": json.loads(key), "status": status,
         "result": None if result is None else json.loads(result),
         "error": error, "seconds": seconds}
        for key, status, result, error, seconds in rows
    ]
