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
* **Ownership.** The engine writes only files it created: a database is
  made under a temporary name and linked into place complete, stamped with
  the application id ``_APPLICATION_ID`` in its header.  An existing
  ``sweep.sqlite`` is identified from its first 100 bytes (and, for files of
  the first layout, which carry no id, from an ``immutable`` read of its
  schema) before anything is opened for writing; a file that is not one of
  ours is refused and left byte for byte as it was.
* **One run per folder.** A sweep holds an exclusive OS lock
  (``fcntl.flock``) on ``<outdir>/sweep.sqlite.lock`` for its lifetime
  (:func:`sweep_lock`); a second sweep on the same folder is refused with
  the holder's process id.  The kernel releases the lock when its holder
  dies, so a killed sweep never blocks the next one (its lock file stays
  and is taken over; a normal exit removes it).  The lock file is never
  seen empty or half-written (made under a temporary name and linked into
  place, taken over by one write of a fixed-size record), so a file of that
  name that holds no record is someone else's and is refused untouched.
* **Failures.** A damaged, truncated, foreign or malformed database raises
  :class:`SweepDatabaseError`, a ``ValueError`` whose one-line message
  names the file.
* **Start method.** The local pool uses the ``"spawn"`` start method; see
  the comment at ``_START_METHOD``.  Workers exit when the sweep process
  dies, even by SIGKILL (``_worker_start``), and the multiprocessing
  resource tracker follows once the last of them is gone.
"""

import concurrent.futures as cf
import contextlib
import datetime
import errno
import hashlib
import json
import multiprocessing
import os
import pathlib
import pickle
import signal
import socket
import sqlite3
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .._validation import check_positive_int

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

__all__ = ["ENGINE_FILES", "NoSweepDatabaseError", "SweepBusyError", "SweepDatabaseError",
           "SweepResult", "cell_key", "cell_seed", "load_results", "run_sweep", "sweep_lock"]

#: File name of the results database inside ``outdir``.
DATABASE_NAME = "sweep.sqlite"

#: File name of the lock file inside ``outdir`` (see :func:`sweep_lock`).
LOCK_NAME = DATABASE_NAME + ".lock"

#: Every file the engine may create in ``outdir``: the database, SQLite's
#: side files and the lock file.
ENGINE_FILES = (DATABASE_NAME, DATABASE_NAME + "-wal", DATABASE_NAME + "-shm",
                DATABASE_NAME + "-journal", LOCK_NAME)

# SQLite's side files of the database: a stray one without the database is
# someone else's (SQLite would adopt or reset it when a new database is made).
_SIDE_FILES = ENGINE_FILES[1:4]

# Stored in the database header (offset 68, PRAGMA application_id): "PLTK".
_APPLICATION_ID = 0x504C544B
_SQLITE_MAGIC = b"SQLite format 3\x00"

# How often a pool worker checks that the sweep process is still its parent.
_PARENT_POLL_SECONDS = 0.25

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
# are safe.  Their cost is close (each worker imports pl_toolkit once; the
# two are timed in docs/performance.rst, "Solver choices, measured") and is
# paid once per sweep.  "spawn" wins on the rest: it exists on
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

# Columns of the two tables, as created by _SCHEMA.
_COLUMNS = {
    "meta": {"name", "value"},
    "cells": {"key", "status", "result", "error", "traceback", "seconds", "attempts",
              "finished"},
}


# ---------------------------------------------------------------------------
# errors


class SweepDatabaseError(ValueError):
    """A sweep database or output folder that cannot be used as asked.

    Raised for a damaged, truncated or foreign ``sweep.sqlite``, stored rows
    that do not decode, an output folder that cannot be created, and a
    folder locked by another sweep (:class:`SweepBusyError`).  The message
    is one line and names the file or folder.  It is a ``ValueError``: the
    command line reports it as bad input (exit 2).

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     with open(os.path.join(outdir, DATABASE_NAME), "w") as fh:
    ...         _ = fh.write("my notes")
    ...     try:
    ...         load_results(outdir)
    ...     except SweepDatabaseError as exc:
    ...         print(str(exc).split(" (")[0].endswith("is not a pl-toolkit sweep database"))
    True
    """


class SweepBusyError(SweepDatabaseError):
    """The output folder is in use by another running sweep.

    Examples
    --------
    >>> issubclass(SweepBusyError, ValueError)
    True
    """


class NoSweepDatabaseError(SweepDatabaseError, FileNotFoundError):
    """The output folder holds no sweep database.

    Both a ``ValueError`` and a ``FileNotFoundError``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     try:
    ...         load_results(outdir)
    ...     except NoSweepDatabaseError as exc:
    ...         print(isinstance(exc, FileNotFoundError), isinstance(exc, ValueError))
    True True
    """


def _sqlite_text(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def _sqlite_errors(path, what="is damaged or unreadable"):
    """Turn any ``sqlite3.Error`` in the body into a :class:`SweepDatabaseError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise SweepDatabaseError(f"{path} {what} ({_sqlite_text(exc)}); "
                                 "choose another outdir or move the file away") from exc


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
# output folder and lock


def _folder(outdir, *, create):
    """Check (and with ``create`` make) the output folder; returns its path as str."""
    outdir = os.fspath(outdir)
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise SweepDatabaseError(f"outdir {outdir!r} exists and is not a folder")
    if create:
        try:
            os.makedirs(outdir, exist_ok=True)
        except OSError as exc:
            raise SweepDatabaseError(
                f"outdir {outdir!r}: cannot create the folder ({exc.strerror or exc})") from exc
    return outdir


class _Held:
    __slots__ = ("fd", "depth", "thread")

    def __init__(self, fd, thread):
        self.fd, self.depth, self.thread = fd, 1, thread


# Locks this process holds: real path of outdir -> _Held.  flock() locks
# belong to an open file description, so a second open-and-lock of the same
# file by this process would fail; nested holders share the first instead.
_HELD = {}
_HELD_GUARD = threading.Lock()

_LOCK_TAG = "pl-toolkit sweep lock"
# Windows locks a byte range that readers then cannot read: lock one byte far
# past the (short) record so that the holder's id stays readable.
_MSVCRT_LOCK_OFFSET = 1 << 20


def _lock_record(data):
    """The parsed content of a lock file (a dict), or None if it is not ours."""
    try:
        record = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("tool") != _LOCK_TAG:
        return None
    return record


def _read_fd(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _busy(outdir, record, note=""):
    if record and isinstance(record.get("pid"), int):
        who = f"process {record['pid']}"
        if record.get("host") not in (None, socket.gethostname()):
            who += f" on {record['host']}"
        if record.get("started"):
            who += f", started {record['started']}"
    else:
        who = "another process"
    return SweepBusyError(f"outdir {outdir!r} is in use by {who}{note}: another sweep is "
                          "running there; wait for it to finish or choose another outdir")


def _try_lock(fd):
    """Take the exclusive lock without waiting; False if someone holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            os.lseek(fd, _MSVCRT_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        if isinstance(exc, BlockingIOError) or exc.errno in (errno.EACCES, errno.EAGAIN,
                                                             errno.EDEADLK):
            return False
        raise
    return True


def _same_file(fd, path):
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


# Every lock record is padded to this many bytes, so that taking over the
# record of a killed sweep is one write of the same size over it: the file
# never holds a partial or empty record, even if that sweep is killed too.
_LOCK_RECORD_SIZE = 1024


def _lock_bytes():
    record = {"tool": _LOCK_TAG, "pid": os.getpid(), "host": socket.gethostname()[:255],
              "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds")}
    text = json.dumps(record)
    return (text + " " * (_LOCK_RECORD_SIZE - 1 - len(text)) + "\n").encode("utf-8")


def _cannot_lock(outdir, path, exc):
    return SweepDatabaseError(
        f"outdir {outdir!r}: cannot open the lock file {path} ({exc.strerror or exc})")


def _place_lock(outdir, path):
    """Create ``path`` locked and complete; returns its descriptor, or None if it appeared.

    The record is written and locked under a temporary name and hard-linked
    into place, so that no one ever sees the lock file empty: an empty or
    unreadable file of that name is someone else's.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + LOCK_NAME + ".", suffix=".new", dir=outdir)
    except OSError as exc:
        raise _cannot_lock(outdir, path, exc) from exc
    try:
        os.write(fd, _lock_bytes())
        if not _try_lock(fd):  # pragma: no cover - nobody else knows the name
            raise SweepDatabaseError(f"outdir {outdir!r}: cannot lock {tmp}")
        try:
            os.link(tmp, path)
        except FileExistsError:
            os.close(fd)  # another sweep was faster: start over and meet its lock
            return None
        except OSError as exc:  # pragma: no cover - file systems without hard links
            raise _cannot_lock(outdir, path, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return fd


def _acquire(outdir):
    """Lock ``outdir/sweep.sqlite.lock`` (made if missing) and stamp it; returns the descriptor."""
    path = os.path.join(outdir, LOCK_NAME)
    flags = (os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))
    while True:
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            fd = _place_lock(outdir, path)
            if fd is None:
                continue
            return fd
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SweepDatabaseError(f"{path} is a symbolic link and was not written by "
                                         "pl-toolkit; move it away or choose another "
                                         "outdir") from exc
            raise _cannot_lock(outdir, path, exc) from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SweepDatabaseError(f"{path} is not a file and was not written by "
                                         "pl-toolkit; move it away or choose another outdir")
            locked = _try_lock(fd)
            if fcntl is not None and not _same_file(fd, path):
                # Its holder removed the file on release after our open(): the
                # descriptor is of an orphaned inode; start over.
                os.close(fd)
                continue
            if not locked:
                raise _busy(outdir, _lock_record(_read_fd(fd)))
            # Locked: nobody else writes the file now.  It holds the record of
            # a sweep that was killed, or it is someone else's file.
            if _lock_record(_read_fd(fd)) is None:
                raise SweepDatabaseError(f"{path} was not written by pl-toolkit; "
                                         "move it away or choose another outdir")
            data = _lock_bytes()
            os.lseek(fd, 0, os.SEEK_SET)
            if os.write(fd, data) != len(data):  # pragma: no cover - disk full
                raise SweepDatabaseError(f"outdir {outdir!r}: cannot write {path}")
        except BaseException:
            os.close(fd)  # releases the lock if it was taken
            raise
        return fd


def _release(outdir, fd):
    # Remove the lock file while still holding the lock (a waiting opener
    # notices, see _acquire), then drop the lock.  On Windows an open file
    # cannot be removed: the file stays, like after a crash.
    path = os.path.join(outdir, LOCK_NAME)
    try:
        if fcntl is not None and _same_file(fd, path):
            with contextlib.suppress(OSError):
                os.unlink(path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def sweep_lock(outdir):
    """Hold the exclusive lock of a sweep's output folder.

    :func:`run_sweep` holds it for its whole run; hold it around
    :func:`run_sweep` and the writing of reports to keep a second sweep out
    of the folder until the reports are written too.

    Parameters
    ----------
    outdir : str or path-like
        The output folder (created if needed).  The lock is an OS lock
        (``fcntl.flock``) on ``outdir/sweep.sqlite.lock``, a small file that
        records the holder's process id, host and start time; it is removed
        on release (it stays after a crash, and is taken over then).

    Yields
    ------
    str
        ``outdir`` as a string.

    Raises
    ------
    SweepBusyError
        If another process (or another thread of this one) holds the lock;
        the message names the holder's process id.
    SweepDatabaseError
        If the folder cannot be created, or ``sweep.sqlite.lock`` exists and
        was not written by pl-toolkit: no lock record (an empty file
        included), a symbolic link or a folder (it is left untouched).

    Notes
    -----
    The lock is reentrant within one thread (so :func:`run_sweep` can run
    inside it) and exclusive across threads and processes.  It is released
    when the block exits, and by the kernel when the holding process dies,
    even by SIGKILL, so a stale lock file never blocks a later sweep.
    Spawned pool workers do not inherit it.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     with sweep_lock(outdir):
    ...         summary = run_sweep(lambda cell, seed: {"x": cell["x"]}, [{"x": 1}], outdir,
    ...                             name="demo", workers=1, progress=False)
    ...         rows = load_results(outdir)
    >>> summary.n_ok, rows[0]["result"]
    (1, {'x': 1})
    """
    outdir = _folder(outdir, create=True)
    key = os.path.realpath(outdir)
    me = threading.get_ident()
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is None:
            held = _HELD[key] = _Held(_acquire(outdir), me)
        elif held.thread != me:
            raise _busy(outdir, {"pid": os.getpid()}, " (another thread of this process)")
        else:
            held.depth += 1
    try:
        yield outdir
    finally:
        with _HELD_GUARD:
            held.depth -= 1
            if held.depth == 0:
                del _HELD[key]
                _release(outdir, held.fd)


# ---------------------------------------------------------------------------
# database


def _not_ours(path, why):
    return SweepDatabaseError(
        f"{path} is not a pl-toolkit sweep database ({why}); it was left untouched: "
        "move it away or choose another outdir")


def _schema_of(conn):
    tables = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        tables[table] = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
    return tables


def _has_our_schema(tables):
    return all(tables.get(t) == cols for t, cols in _COLUMNS.items())


def inspect_database(path):
    """Tell whether ``path`` is missing or one of our databases, without writing.

    Returns ``"missing"``, ``"ours"`` or ``"first layout"`` (ours, written
    before the application id existed); raises :class:`SweepDatabaseError`
    for anything else.  Nothing is written: the header is read as plain
    bytes, and the schema of a file without the id through an
    ``immutable`` connection, which creates no side file.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):  # no such file, or no such folder
        if os.path.lexists(path):
            raise _not_ours(path, "a dangling symbolic link") from None
        return "missing"
    except OSError as exc:
        raise SweepDatabaseError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(st.st_mode):
        raise SweepDatabaseError(f"{path} is not a file; it was left untouched: "
                                 "move it away or choose another outdir")
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise SweepDatabaseError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    if not header:
        raise _not_ours(path, "an empty file: foreign or damaged")
    if len(header) < 100 or not header.startswith(_SQLITE_MAGIC):
        raise _not_ours(path, "not an SQLite file: foreign or damaged")
    app_id = int.from_bytes(header[68:72], "big")
    if app_id == _APPLICATION_ID:
        return "ours"
    if app_id != 0:
        raise _not_ours(path, f"SQLite application id {app_id:#x}")
    # No id: a database of the first layout, or someone else's.
    uri = pathlib.Path(path).absolute().as_uri()
    tables = None
    try:
        conn = sqlite3.connect(uri + "?immutable=1", uri=True)
        try:
            tables = _schema_of(conn)
        finally:
            conn.close()
        if not tables and os.path.exists(path + "-wal"):
            # The first layout's tables may still live in the write-ahead log
            # of a sweep killed early; a read-only connection replays it.
            conn = sqlite3.connect(uri + "?mode=ro", uri=True)
            try:
                tables = _schema_of(conn)
            finally:
                conn.close()
    except sqlite3.Error as exc:
        raise _not_ours(path, f"unreadable: {_sqlite_text(exc)}") from exc
    if not _has_our_schema(tables):
        raise _not_ours(path, "other tables" if tables else "no tables")
    return "first layout"


def _check_new_place(path):
    """Refuse stray SQLite side files where a new database is to be made."""
    for side in _SIDE_FILES:
        side_path = os.path.join(os.path.dirname(path), side)
        if os.path.lexists(side_path):
            raise SweepDatabaseError(
                f"outdir {os.path.dirname(path) or '.'!r} holds {side} but no "
                f"{DATABASE_NAME} ({side_path} was left untouched); move it away or choose "
                "another outdir")


def _create(path):
    """Make an empty database at ``path``, complete before it appears there.

    It is built under a temporary name (application id, schema, WAL mode
    recorded in the header) and hard-linked into place, which fails rather
    than replace a file that appeared meanwhile.
    """
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + DATABASE_NAME + ".", suffix=".new", dir=folder)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            conn.executescript(_SCHEMA)
            conn.commit()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        finally:
            conn.close()
        if mode.lower() != "wal":  # pragma: no cover - e.g. some network file systems
            raise SweepDatabaseError(f"outdir: cannot put {path} in WAL mode (got {mode!r})")
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise SweepDatabaseError(f"{path} appeared while the sweep was creating it; "
                                     "choose another outdir") from None
        except OSError:  # pragma: no cover - file systems without hard links
            if os.path.lexists(path):
                raise SweepDatabaseError(f"{path} appeared while the sweep was creating it; "
                                         "choose another outdir") from None
            os.rename(tmp, path)
    finally:
        for leftover in (tmp, tmp + "-journal", tmp + "-wal", tmp + "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _connect(path, *, write):
    """Open one of our databases and check it; the caller closes it.

    ``write=False`` gives a plain connection made read-only by
    ``query_only``: unlike a ``mode=ro`` one, it can recover the write-ahead
    log of a sweep killed mid-write (our file, so replaying it is fine).
    """
    conn = sqlite3.connect(path, timeout=60)
    try:
        with _sqlite_errors(path):
            if not write:
                conn.execute("PRAGMA query_only = ON")
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                found = "; ".join(" ".join(str(p).split()) for p in problems)
                raise SweepDatabaseError(f"{path} is damaged ({found}); "
                                         "choose another outdir or move the file away")
            tables = _schema_of(conn)
            for table, columns in _COLUMNS.items():
                if tables.get(table) != columns:
                    found = sorted(tables.get(table, ()))
                    raise SweepDatabaseError(
                        f"{path} is damaged: table {table} has columns {found}, expected "
                        f"{sorted(columns)}; choose another outdir or move the file away")
            if write:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":  # pragma: no cover - some network file systems
                    raise SweepDatabaseError(
                        f"outdir: cannot put {path} in WAL mode (got {mode!r})")
                conn.execute("PRAGMA synchronous=NORMAL")
                if conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
                    conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")  # first layout
                    conn.commit()
    except BaseException:
        conn.close()
        raise
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


def _exit_with_parent(parent_pid):
    # Poll rather than block: a pipe from the parent would need the parent
    # to keep its end out of every other child.
    while True:
        time.sleep(_PARENT_POLL_SECONDS)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_start(parent_pid):
    """Initializer of the pool workers: exit when the sweep process dies.

    ``ProcessPoolExecutor`` workers block on a queue whose write end they
    hold themselves, so they never notice the death of their parent; after
    a SIGKILL of the sweep they (and the resource tracker, which waits for
    every holder of its pipe) would live on.  Two guards, each enough where
    it works:

    * on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the
      worker when the thread that started it ends (the sweep's thread, which
      outlives the pool), even while the worker holds the GIL in a long
      compiled loop;
    * everywhere, a daemon thread that sees ``os.getppid()`` change within
      ``_PARENT_POLL_SECONDS`` and calls ``os._exit``.

    A worker whose parent is already gone exits at once.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no usable libc
            pass
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True,
                     name="pl_toolkit-exit-with-parent").start()


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
        executor = cf.ProcessPoolExecutor(min(workers, len(keys)), mp_context=context,
                                          initializer=_worker_start,
                                          initargs=(os.getpid(),))
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
              dask_scheduler=None, resume=False, progress=True, require=None):
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
    require : sequence of str, optional
        Keys that every stored result must have (as in
        :func:`load_results`): on resume, a stored result lacking one is
        refused before any cell runs.

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
    SweepBusyError
        If another sweep is running in ``outdir`` (the message names its
        process id); see :func:`sweep_lock`.
    SweepDatabaseError
        If ``outdir`` cannot be created, or its ``sweep.sqlite`` is not a
        pl-toolkit sweep database (it is left byte for byte untouched), is
        damaged, or holds rows that do not decode.  A subclass of
        ``ValueError`` with a one-line message naming the file.
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

    The pool adds a fixed cost per cell (pickling the call and its result,
    one database commit; the documentation's performance page gives a
    measured figure); merge computations not much costlier than that into
    larger cells.

    Workers inherit the environment: with many workers each running
    multi-threaded numba or BLAS code, set e.g. ``OMP_NUM_THREADS`` and
    ``NUMBA_NUM_THREADS`` before calling, to avoid oversubscription.
    Pool workers exit when this process dies, even by SIGKILL.

    The call holds the folder's lock (:func:`sweep_lock`): a second sweep
    on the same ``outdir`` is refused while this one runs.  In ``outdir`` the
    engine creates only the files of ``ENGINE_FILES`` (the database, its
    SQLite side files and ``sweep.sqlite.lock``), never replaces a file it
    did not write, and leaves every other file alone.

    Examples
    --------
    >>> import tempfile
    >>> from pl_toolkit.experiments._engine import run_sweep, load_results
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

    if require is not None:
        require = _required_keys(require)

    outdir = _folder(outdir, create=False)
    path = os.path.join(outdir, DATABASE_NAME)
    # Before anything is created (even the lock file): refuse what is not ours.
    if inspect_database(path) == "missing":
        _check_new_place(path)
    with sweep_lock(outdir):
        # Again under the lock, which decides.
        if inspect_database(path) == "missing":
            _check_new_place(path)
            with _sqlite_errors(path, "cannot be created"):
                _create(path)
        conn = _connect(path, write=True)
        try:
            return _run_locked(conn, path, outdir, fn, keys, position, meta, name, root_seed,
                               workers, dask_scheduler, resume, progress, require, t_start)
        finally:
            conn.close()


def _run_locked(conn, path, outdir, fn, keys, position, meta, name, root_seed, workers,
                dask_scheduler, resume, progress, require, t_start):
    counts = {"ok": 0, "error": 0}
    errors = []
    with _sqlite_errors(path):
        _prepare_meta(conn, meta, resume, path)
        stored = _decode_rows(conn.execute(_SELECT_ROWS).fetchall(), path, require)
    done = {cell_key(row["cell"]) for row in stored if row["status"] == "ok"}
    todo = [k for k in keys if k not in done]
    n_skipped = len(keys) - len(todo)
    with tqdm(total=len(keys), initial=n_skipped, desc=name, unit="cell",
              file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:

        def record(key, outcome):
            status, result, error, tb, seconds = outcome
            now = datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="milliseconds")
            with _sqlite_errors(path, "could not record a result"):
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
            _run_local_pool(fn, todo, root_seed, workers, record, lambda: counts["ok"])
    errors.sort(key=lambda item: position[item[0]])
    return SweepResult(
        outdir=outdir, database=path, n_cells=len(keys), n_skipped=n_skipped,
        n_ok=counts["ok"], n_error=counts["error"],
        errors=tuple((json.loads(k), msg) for k, msg in errors),
        seconds=time.perf_counter() - t_start)


_SELECT_ROWS = "SELECT rowid, key, status, result, error, seconds FROM cells ORDER BY key"


def _required_keys(require):
    if isinstance(require, str):
        require = (require,)
    try:
        keys = tuple(require)
    except TypeError:
        raise ValueError(f"require must be a sequence of strings, got {require!r}") from None
    if not all(isinstance(k, str) for k in keys):
        raise ValueError(f"require must be a sequence of strings, got {require!r}")
    return keys


def _short(text, limit=80):
    text = repr(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _decode_rows(rows, path, require):
    """Decode and check stored rows; raise SweepDatabaseError naming the first bad one."""
    out = []
    for rowid, key, status, result, error, seconds in rows:
        where = f"{path}: row {rowid}"

        def bad(problem):
            return SweepDatabaseError(f"{where}: {problem}; the database was edited or is "
                                      "damaged: choose another outdir or move the file away")

        try:
            cell = json.loads(key)
        except (TypeError, ValueError):
            raise bad(f"the cell key is not JSON ({_short(key)})") from None
        if not isinstance(cell, dict):
            raise bad(f"the cell key is not a JSON object ({_short(key)})")
        try:
            canonical = cell_key(cell)
        except ValueError:
            canonical = None
        if canonical != key:
            raise bad(f"the cell key is not canonical JSON ({_short(key)})")
        where = f"{path}: cell {key}"
        if status == "ok":
            try:
                value = json.loads(result)
            except (TypeError, ValueError):
                value = ...
            if value is ...:
                if result is None:
                    raise bad("the result is not a JSON object (NULL)")
                raise bad(f"the result is not JSON ({_short(result)})")
            if not isinstance(value, dict):
                raise bad(f"the result is not a JSON object ({_short(result)})")
            missing = [k for k in require or () if k not in value]
            if missing:
                raise SweepDatabaseError(
                    f"{where}: the stored result lacks {', '.join(map(repr, missing))} "
                    "(written by another version of the code, or edited); choose another "
                    "outdir")
        elif status == "error":
            value = None
            if error is not None and not isinstance(error, str):
                raise bad(f"the error message is not text ({_short(error)})")
        else:
            raise bad(f"unknown status {_short(status)}")
        if seconds is not None and (isinstance(seconds, bool)
                                    or not isinstance(seconds, (int, float))):
            raise bad(f"seconds is not a number ({_short(seconds)})")
        out.append({"cell": cell, "status": status, "result": value, "error": error,
                    "seconds": seconds})
    return out


def load_results(outdir, *, require=None):
    """Read every stored cell of the sweep in ``outdir``.

    Parameters
    ----------
    outdir : str or path-like
        Output directory of :func:`run_sweep`.  The database is only
        read, so this works while a sweep is still running.
    require : sequence of str, optional
        Keys that every stored result (status ``"ok"``) must have; a result
        that lacks one raises a :class:`SweepDatabaseError` naming the cell
        and the key, instead of a ``KeyError`` later.

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
    NoSweepDatabaseError
        If ``outdir`` holds no sweep database (a ``FileNotFoundError`` and a
        ``ValueError``).
    SweepDatabaseError
        If ``sweep.sqlite`` is not a pl-toolkit sweep database (it is left
        untouched), is damaged, or holds a row that does not decode or
        lacks a required key.  The one-line message names the file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as outdir:
    ...     _ = run_sweep(lambda cell, seed: {"twice": 2 * cell["x"]},
    ...                   [{"x": 2}, {"x": 1}], outdir, name="demo",
    ...                   workers=1, progress=False)
    ...     rows = load_results(outdir, require=["twice"])
    >>> [(row["cell"]["x"], row["result"]["twice"]) for row in rows]
    [(1, 2), (2, 4)]
    """
    if require is not None:
        require = _required_keys(require)
    outdir = _folder(outdir, create=False)
    path = os.path.join(outdir, DATABASE_NAME)
    if inspect_database(path) == "missing":
        raise NoSweepDatabaseError(f"outdir {outdir!r} holds no {DATABASE_NAME}")
    conn = _connect(path, write=False)
    try:
        with _sqlite_errors(path):
            rows = conn.execute(_SELECT_ROWS).fetchall()
    finally:
        conn.close()
    return _decode_rows(rows, path, require)
