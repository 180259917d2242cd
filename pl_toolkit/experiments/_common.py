"""Functions shared by the experiment modules (private).

Output folders
--------------
A command never overwrites a file it did not write.  Every command that
writes a folder (``run``, ``sweep``, ``init-scale``, ``ledger --out``) goes
through :func:`claim_output_dir` before writing and :func:`record_outputs`
after; the folder then carries the marker file ``.pl_toolkit-output.json``
(:data:`MARKER_NAME`) listing every file the toolkit wrote there, with its
size, modification time and SHA-256.  Single-file outputs (``ntk --save``)
go through :func:`safe_output_file`.
"""

import contextlib
import datetime
import fnmatch
import hashlib
import json
import math
import os
import tempfile

import numpy as np

from .._json import json_default, strict_json, write_json  # noqa: F401 (re-exported)

# Environment variables that size the thread pools of BLAS, OpenMP and numba.
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(threads):
    """Run the body with at most ``threads`` BLAS and numba threads.

    Cells of a sweep run side by side, one per core; letting each of them
    start a multi-threaded BLAS or numba pool puts ``k`` threads per core
    on ``k`` cores, whose spinning and waiting make small GD steps many
    times slower (figures on the documentation's performance page), so
    every cell is single-threaded by default.
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


# ---------------------------------------------------------------------------
# output folders and files

#: Name of the marker file that a folder written by pl-toolkit carries.
MARKER_NAME = ".pl_toolkit-output.json"

_MARKER_TAG = "pl-toolkit output folder"
_MARKER_FORMAT = 1


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _is_pattern(name):
    return any(c in name for c in "*?[")


def _check_names(files, what="files"):
    if isinstance(files, (str, bytes, os.PathLike)):
        files = [files]
    names = []
    for name in files:
        name = os.fspath(name)
        if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name
                or os.sep in name or (os.altsep and os.altsep in name)
                or name == MARKER_NAME):
            raise ValueError(f"{what} must be plain file names inside the folder, got {name!r}")
        names.append(name)
    return names


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_marker(folder):
    """The marker of ``folder`` as a dict; None if absent; a str (the problem) if unreadable."""
    path = os.path.join(folder, MARKER_NAME)
    if not os.path.lexists(path):
        return None
    try:
        if os.path.islink(path) or not os.path.isfile(path):
            raise ValueError("not a regular file")
        with open(path, encoding="utf-8") as fh:
            marker = json.load(fh)
        if not (isinstance(marker, dict) and marker.get("written_by") == _MARKER_TAG
                and all(isinstance(marker.get(k, {}), dict)
                        for k in ("files", "claims", "managed"))
                and all(isinstance(v, dict) for v in marker.get("files", {}).values())):
            raise ValueError("not a pl-toolkit marker")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    for key in ("files", "claims", "managed"):
        marker.setdefault(key, {})
    return marker


def _write_marker(folder, marker):
    from .. import __version__

    marker = dict(marker, written_by=_MARKER_TAG, format=_MARKER_FORMAT, version=__version__,
                  updated=_now())
    fd, tmp = tempfile.mkstemp(prefix=MARKER_NAME + ".", suffix=".new", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(marker, fh, indent=1, sort_keys=True)
            fh.write("\n")
        os.replace(tmp, os.path.join(folder, MARKER_NAME))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _unchanged(path, entry):
    """Whether the file at ``path`` is the one recorded in ``entry``."""
    st = os.stat(path)
    if st.st_size != entry.get("size"):
        return False
    if st.st_mtime_ns == entry.get("mtime_ns"):
        return True
    return _sha256(path) == entry.get("sha256")


def _claimed_by(marker, name):
    """The command that claimed ``name`` (by name or pattern), or None."""
    if name in marker["claims"]:
        return marker["claims"][name]
    for pattern, tool in marker["claims"].items():
        if _is_pattern(pattern) and fnmatch.fnmatchcase(name, pattern):
            return tool
    return None


def claim_output_dir(path, *, tool, files, overwrite=False, resume=False, engine=False,
                     arg="--out", flag="--overwrite"):
    """Make sure a command may write ``files`` into the folder ``path``.

    Call it before writing anything, then write each file with
    :func:`output_file` (or write it and call :func:`record_outputs` right
    away).  Nothing in the folder is changed but the marker file
    (:data:`MARKER_NAME`), which records the claim.

    Parameters
    ----------
    path : str or path-like
        The output folder; created (with its parents) if missing.
    tool : str
        Name of the command (``"run"``, ``"sweep"``, ...), recorded per file.
    files : sequence of str
        Every file name the command may write into the folder; names
        without a folder part.  Glob patterns (``"*.png"``) claim every
        matching name.
    overwrite : bool, default False
        Allow writing into a non-empty folder pl-toolkit did not write, and
        replacing files of the claimed names that it did not write (or that
        changed since it wrote them).  Other files stay untouched.
    resume : bool, default False
        The command continues a sweep: a folder without marker but holding
        a pl-toolkit sweep database (written before markers existed) is
        accepted; its other files of claimed names still need ``overwrite``.
    engine : bool, default False
        The command runs the sweep engine in this folder: the engine's
        files (``pl_toolkit.experiments._engine.ENGINE_FILES``) are claimed as managed
        by the engine, which checks their ownership itself.
    arg, flag : str
        How the folder argument and the overwrite switch are named in
        messages (``"--out"``, ``"--overwrite"`` on the command line;
        e.g. ``"outdir"``, ``"overwrite=True"`` in Python).

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    ValueError
        One line starting with ``arg``: when ``path`` is a file or cannot
        be created; when it is not empty and carries no marker; when it
        holds a file of a claimed name that pl-toolkit did not write, did
        not finish writing, or that changed since; when it holds a marker
        that cannot be read (these four unless ``overwrite``); when a
        claimed name is a symbolic link or a folder (always).  The folder
        is left as it was.

    Notes
    -----
    A file counts as written by pl-toolkit when the marker records it (by
    :func:`record_outputs`) and its size and content are as recorded
    (SHA-256, with an equal modification time as a shortcut).  Files whose
    names the command does not claim are never looked at, so a user's own
    files may live beside the outputs.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = os.path.join(tempfile.mkdtemp(), "out")
    >>> out = claim_output_dir(folder, tool="demo", files=["report.md"])
    >>> with output_file(out, "report.md") as tmp:
    ...     with open(tmp, "w") as fh:
    ...         _ = fh.write("# ours")
    >>> _ = claim_output_dir(folder, tool="demo", files=["report.md"])  # ours: allowed
    >>> with open(os.path.join(out, "report.md"), "w") as fh:
    ...     _ = fh.write("# edited by hand")
    >>> try:
    ...     claim_output_dir(folder, tool="demo", files=["report.md"])
    ... except ValueError as exc:
    ...     print(str(exc).split(";")[0].split("holds ")[1])
    report.md, changed since pl-toolkit wrote it
    """
    folder = os.fspath(path)
    if not isinstance(tool, str) or not tool:
        raise ValueError(f"tool must be a non-empty string, got {tool!r}")
    names = _check_names(files)
    managed = []
    if engine:
        from ._engine import ENGINE_FILES

        managed = list(ENGINE_FILES)
        names = [n for n in names if n not in managed]
    where = f"{arg} {folder!r}"
    if os.path.lexists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{where} exists and is not a folder; choose another folder")
    if not os.path.isdir(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"{where}: cannot create the folder ({exc.strerror or exc})") from exc
        marker = None
    else:
        try:
            entries = sorted(os.listdir(folder))
        except OSError as exc:
            raise ValueError(f"{where} cannot be read ({exc.strerror or exc})") from exc
        marker = _read_marker(folder)
        if isinstance(marker, str):
            if not overwrite:
                raise ValueError(f"{where} holds {MARKER_NAME} that pl-toolkit cannot read "
                                 f"({marker}); pass {flag} or choose another folder")
            marker = None
        if marker is None and entries and not overwrite \
                and not (resume and engine and _holds_our_sweep(folder)):
            raise ValueError(f"{where} is not empty and was not written by pl-toolkit "
                             f"(no {MARKER_NAME}); pass {flag} or choose another folder")
        # (A sweep folder from before markers: the engine vouches for its own
        # files; any other file of a claimed name counts as foreign.)
        _check_collisions(folder, where, flag, names, entries,
                          marker or {"files": {}}, overwrite)
    marker = marker or {"files": {}, "claims": {}, "managed": {}}
    for name in managed:
        marker["managed"][name] = tool
    for name in names:
        marker["claims"][name] = tool
    try:
        _write_marker(folder, marker)
    except OSError as exc:
        raise ValueError(f"{where}: cannot write {MARKER_NAME} ({exc.strerror or exc})") from exc
    return folder


def _holds_our_sweep(folder):
    from ._engine import DATABASE_NAME, SweepDatabaseError, inspect_database

    try:
        return inspect_database(os.path.join(folder, DATABASE_NAME)) != "missing"
    except SweepDatabaseError:
        return False


def _check_collisions(folder, where, flag, names, entries, marker, overwrite):
    plain = set(n for n in names if not _is_pattern(n))
    patterns = [n for n in names if _is_pattern(n)]
    hits = [n for n in entries
            if n in plain or any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    for name in hits:
        full = os.path.join(folder, name)
        if os.path.islink(full) or not os.path.isfile(full):
            kind = "symbolic link" if os.path.islink(full) else "folder or special file"
            raise ValueError(f"{where} holds {name}, a {kind} where pl-toolkit writes a file; "
                             "move it away or choose another folder")
        if overwrite:
            continue
        entry = marker["files"].get(name)
        if entry is None:
            problem = "which pl-toolkit did not write (or did not finish writing)"
        elif not _unchanged(full, entry):
            problem = "changed since pl-toolkit wrote it"
        else:
            continue
        raise ValueError(f"{where} holds {name}, {problem}; pass {flag} to replace it or "
                         "choose another folder")


def record_outputs(path, files):
    """Record in the folder's marker files a command has just written.

    Parameters
    ----------
    path : str or path-like
        The folder given to :func:`claim_output_dir`.
    files : str, path-like, sequence of them, or mapping
        The files written: names, or paths inside ``path`` (a mapping's
        values are used, e.g. ``{"json": ".../report.json"}``).  Each must
        have been claimed (by name or pattern).

    Returns
    -------
    None

    Raises
    ------
    RuntimeError
        If the folder was not claimed, or a file was not claimed, is not a
        written file, or lies outside ``path`` (a bug of the command, not
        a user error).

    Notes
    -----
    Each file's size, modification time and SHA-256 are stored; a later
    :func:`claim_output_dir` lets the toolkit replace the file only while
    they still match.  Call it right after each file is written: a file
    written but not yet recorded when the process dies counts as foreign
    (the next run asks for ``--overwrite``).  :func:`output_file` does both
    steps, atomically.  The marker is replaced atomically.

    Examples
    --------
    >>> import json, os, tempfile
    >>> out = claim_output_dir(tempfile.mkdtemp(), tool="demo", files=["a.txt", "*.png"])
    >>> for name in ("a.txt", "plot.png"):
    ...     with open(os.path.join(out, name), "w") as fh:
    ...         _ = fh.write(name)
    >>> record_outputs(out, {"text": os.path.join(out, "a.txt"), "plot": "plot.png"})
    >>> with open(os.path.join(out, MARKER_NAME)) as fh:
    ...     sorted(json.load(fh)["files"])
    ['a.txt', 'plot.png']
    """
    folder = os.fspath(path)
    marker = _read_marker(folder)
    if not isinstance(marker, dict):
        raise RuntimeError(f"{folder!r} was not claimed with claim_output_dir (no readable "
                           f"{MARKER_NAME})")
    if isinstance(files, dict):
        files = list(files.values())
    elif isinstance(files, (str, bytes, os.PathLike)):
        files = [files]
    real = os.path.realpath(folder)
    for item in files:
        item = os.fspath(item)
        name = os.path.basename(item)
        if os.path.dirname(item) and os.path.realpath(os.path.dirname(item)) != real:
            raise RuntimeError(f"{item!r} is not inside the output folder {folder!r}")
        tool = _claimed_by(marker, name)
        if tool is None:
            raise RuntimeError(f"{name!r} was written to {folder!r} without being claimed "
                               "(claim_output_dir)")
        full = os.path.join(folder, name)
        if os.path.islink(full) or not os.path.isfile(full):
            raise RuntimeError(f"{full!r} was recorded but is not a written file")
        st = os.stat(full)
        marker["files"][name] = {"tool": tool, "sha256": _sha256(full), "size": st.st_size,
                                 "mtime_ns": st.st_mtime_ns, "written": _now()}
    _write_marker(folder, marker)


@contextlib.contextmanager
def output_file(path, name):
    """Write one output file atomically and record it in the folder's marker.

    Parameters
    ----------
    path : str or path-like
        A folder claimed with :func:`claim_output_dir`.
    name : str
        The file name (claimed by name or pattern).

    Yields
    ------
    str
        A temporary path in the folder, with the same extension as
        ``name`` (so that :func:`numpy.savez`, ``savefig`` and the like
        keep it): write the file there.  When the block ends without an
        exception, it replaces ``path/name`` and is recorded
        (:func:`record_outputs`); on an exception it is removed and the old
        file, if any, stays.

    Raises
    ------
    RuntimeError
        If ``name`` was not claimed, or the block wrote nothing.

    Examples
    --------
    >>> import os, tempfile
    >>> out = claim_output_dir(tempfile.mkdtemp(), tool="demo", files=["sweep.md"])
    >>> with output_file(out, "sweep.md") as tmp:
    ...     with open(tmp, "w") as fh:
    ...         _ = fh.write("# results")
    >>> sorted(os.listdir(out))
    ['.pl_toolkit-output.json', 'sweep.md']
    """
    folder = os.fspath(path)
    (name,) = _check_names([name], "name")
    marker = _read_marker(folder)
    if not isinstance(marker, dict) or _claimed_by(marker, name) is None:
        raise RuntimeError(f"{name!r} is written to {folder!r} without being claimed "
                           "(claim_output_dir)")
    stem, ext = os.path.splitext(name)
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".part{ext}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        if not os.path.isfile(tmp) or os.path.islink(tmp):
            raise RuntimeError(f"nothing was written for {name!r} in {folder!r}")
        os.replace(tmp, os.path.join(folder, name))
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    record_outputs(folder, [name])


@contextlib.contextmanager
def sweep_output_dir(path, *, tool, files, overwrite=False, resume=False, arg="--out",
                     flag="--overwrite"):
    """Claim a sweep command's folder and hold its lock for the whole command.

    :func:`claim_output_dir` (with the engine's files) followed by
    :func:`pl_toolkit.experiments._engine.sweep_lock`, so that no second sweep runs in
    the folder between the cells and the reports.

    Parameters
    ----------
    path : str or path-like
        The output folder (``--out``).
    tool : str
        Name of the command.
    files : sequence of str
        The report files the command writes (names or patterns).
    overwrite, resume : bool, default False
        As in :func:`claim_output_dir`.
    arg, flag : str
        Names of the folder argument and of the overwrite switch, for
        messages.

    Yields
    ------
    str
        The folder.  Run :func:`pl_toolkit.experiments._engine.run_sweep` and write the
        reports (with :func:`output_file`) inside the block.

    Raises
    ------
    ValueError
        As :func:`claim_output_dir`; :class:`pl_toolkit.experiments._engine.SweepBusyError`
        (a ``ValueError``) if another sweep holds the folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from pl_toolkit.experiments._engine import run_sweep
    >>> folder = os.path.join(tempfile.mkdtemp(), "out")
    >>> with sweep_output_dir(folder, tool="demo", files=["sweep.md"]) as out:
    ...     _ = run_sweep(lambda cell, seed: {"x": 1}, [{"i": 0}], out, name="demo",
    ...                   workers=1, progress=False)
    ...     with output_file(out, "sweep.md") as tmp:
    ...         with open(tmp, "w") as fh:
    ...             _ = fh.write("# done")
    >>> sorted(os.listdir(folder))
    ['.pl_toolkit-output.json', 'sweep.md', 'sweep.sqlite']
    """
    from ._engine import sweep_lock

    folder = claim_output_dir(path, tool=tool, files=files, overwrite=overwrite, resume=resume,
                              engine=True, arg=arg, flag=flag)
    with sweep_lock(folder):
        yield folder


def safe_output_file(path, *, suffix=None, overwrite=False, arg="--save", flag="--overwrite"):
    """Check a single output file's path before writing it; return the real path.

    Parameters
    ----------
    path : str or path-like
        The file the user asked for.
    suffix : str, optional
        Extension the writer enforces (``".npy"`` for :func:`numpy.save`,
        ``".npz"`` for :func:`numpy.savez`): appended when missing, so the
        returned path is the one actually written.
    overwrite : bool, default False
        Allow replacing an existing file.
    arg, flag : str
        Names of the argument and the overwrite switch, for messages.

    Returns
    -------
    str
        The path to write (with ``suffix``); print this one.

    Raises
    ------
    ValueError
        One line naming ``arg``: when the path is a folder (or names one
        with a trailing separator), its folder does not exist, it is a
        symbolic link, or the file exists and ``overwrite`` is False.

    Notes
    -----
    A lone file carries no marker, so pl-toolkit cannot tell its own
    earlier outputs from a user's file: every existing file needs
    ``overwrite``.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> target = safe_output_file(os.path.join(folder, "gram"), suffix=".npy")
    >>> os.path.basename(target)
    'gram.npy'
    >>> open(target, "w").close()
    >>> try:
    ...     safe_output_file(os.path.join(folder, "gram"), suffix=".npy")
    ... except ValueError as exc:
    ...     print("exists" in str(exc))
    True
    >>> try:
    ...     safe_output_file(folder, suffix=".npy")
    ... except ValueError as exc:
    ...     print("is a folder" in str(exc))
    True
    """
    given = os.fspath(path)
    if not isinstance(given, str) or not given:
        raise ValueError(f"{arg} must be a file name, got {given!r}")
    if os.path.isdir(given) or given.endswith(("/", os.sep)):
        raise ValueError(f"{arg} {given!r} is a folder; give a file name, e.g. "
                         f"{os.path.join(given, 'gram' + (suffix or ''))!r}")
    target = given if suffix is None or given.endswith(suffix) else given + suffix
    if os.path.isdir(target):
        raise ValueError(f"{arg} {given!r}: {target!r} is a folder; give another file name")
    parent = os.path.dirname(target) or "."
    if not os.path.isdir(parent):
        raise ValueError(f"{arg} {given!r}: the folder {parent!r} does not exist")
    if os.path.islink(target):
        raise ValueError(f"{arg} {given!r}: {target!r} is a symbolic link; give another "
                         "file name")
    if os.path.lexists(target) and not overwrite:
        raise ValueError(f"{arg} {given!r}: {target!r} exists; pass {flag} to replace it or "
                         "choose another name")
    return target


def parse_float_list(text, name):
    """Parse ``"1,2,3"`` into a list of floats, naming ``name`` on error."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        items = str(text).replace(" ", "").split(",")
        if items == [""]:
            items = []
        elif not all(items):   # '1,,2', ',3', '4,'
            raise ValueError(f"{name} must be a comma-separated list of numbers, got {text!r}")
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


#: Largest value of a count flag (workers, seeds, threads).
COUNT_FLAG_MAX = 2**31 - 1


def int_flag(flag, minimum=1, maximum=COUNT_FLAG_MAX):
    """Argparse type: an integer in ``[minimum, maximum]`` (``maximum=None``: unbounded).

    Parameters
    ----------
    flag : str or None
        The flag, for the message (None: argparse names it, as in
        ``argument --n: must be an integer ...``).
    minimum : int, default 1
        Smallest value accepted.
    maximum : int or None, default ``COUNT_FLAG_MAX``
        Largest value accepted.

    Returns
    -------
    callable
        ``parse(text) -> int``, raising :class:`argparse.ArgumentTypeError`
        with one line naming ``flag``.

    Examples
    --------
    >>> int_flag("--workers")("3")
    3
    >>> int_flag("--workers")("1e400")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: --workers must be an integer, got '1e400'
    """
    import argparse

    what = "must" if flag is None else f"{flag} must"

    def parse(text):
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} be an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"{what} be an integer {bounds}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def add_common_args(p, out_default):
    """The flags shared by the experiment commands."""
    g = p.add_argument_group("run")
    g.add_argument("--out", default=out_default, metavar="DIR",
                   help=f"output directory (default: {out_default})")
    g.add_argument("--workers", type=int_flag("--workers"), default=None, metavar="N",
                   help="local worker processes (default: all CPUs; 1 = in this process)")
    g.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="run the cells on this Dask scheduler instead of a local pool")
    g.add_argument("--resume", action="store_true",
                   help="continue the sweep stored in --out (finished cells are not rerun)")
    g.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty --out that pl-toolkit did not write, replacing "
                        "files of the same names as its outputs (other files stay untouched)")
    g.add_argument("--seeds", type=int_flag("--seeds"), default=5, metavar="K",
                   help="independent seeds per grid point (default: 5)")
    g.add_argument("--root-seed", type=int_flag("--root-seed", 0, None), default=0,
                   help="root seed of the sweep (default: 0)")
    g.add_argument("--threads-per-cell", type=int_flag("--threads-per-cell"), default=1,
                   metavar="T",
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
