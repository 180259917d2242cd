"""The sweep engine at its edges: damaged or foreign databases, locking, orphans.

Every damaged or foreign input must give a one-line ``ValueError`` that
names the file, and a file the engine did not write must come out of the
call byte for byte as it went in (no meta table, no WAL switch, no side
files).  Two sweeps on one folder must not both run, and the pool workers
of a killed sweep must not outlive it.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import _engine_cells as cells_mod
from pl_toolkit.experiments._engine import (
    DATABASE_NAME, LOCK_NAME, SweepBusyError, SweepDatabaseError, load_results, run_sweep,
    sweep_lock,
)

HERE = Path(__file__).resolve().parent
CELLS = [{"n": 3, "k": k} for k in range(40)]


def _run(outdir, cells=CELLS, **kwargs):
    kwargs.setdefault("name", "robust")
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("progress", False)
    return run_sweep(kwargs.pop("fn", cells_mod.draw), cells, outdir, **kwargs)


def _snapshot(folder):
    """Every path below ``folder`` with its bytes (None for a directory, target for a link)."""
    folder = Path(folder)

    def content(p):
        if p.is_symlink():
            return ("link", os.readlink(p))
        return None if p.is_dir() else p.read_bytes()

    return {str(p.relative_to(folder)): content(p)
            for p in sorted(folder.rglob("*"))}


def _one_line_naming(exc, path):
    text = str(exc)
    assert "\n" not in text, text
    assert str(path) in text, text


@pytest.fixture
def finished(tmp_path):
    """A folder with a finished 40-cell sweep (several database pages)."""
    out = tmp_path / "out"
    _run(out)
    assert not (out / (DATABASE_NAME + "-wal")).exists()  # checkpointed on close
    return out


def _flip_page_types(data):
    # Byte 0 of every b-tree page after the first is its type (2, 5, 10 or 13).
    page = int.from_bytes(data[16:18], "big")
    out = bytearray(data)
    for offset in range(page, len(out), page):
        out[offset] ^= 0xFF
    return bytes(out)


CORRUPTIONS = {
    "empty": lambda data: b"",
    "garbage": lambda data: b"this is not a database\n" * 300,
    "truncated_header": lambda data: data[:50],
    "truncated": lambda data: data[: len(data) // 3],
    "magic_flipped": lambda data: data[:3] + bytes([data[3] ^ 0x20]) + data[4:],
    "pages_flipped": _flip_page_types,
}


# ---------------------------------------------------------------------------
# damaged databases


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_damaged_database_is_a_one_line_value_error(finished, kind):
    db = finished / DATABASE_NAME
    db.write_bytes(CORRUPTIONS[kind](db.read_bytes()))
    before = _snapshot(finished)
    for call in (lambda: load_results(finished),
                 lambda: _run(finished, resume=True),
                 lambda: _run(finished)):
        with pytest.raises(SweepDatabaseError) as info:
            call()
        assert isinstance(info.value, ValueError)
        _one_line_naming(info.value, db)
    assert _snapshot(finished) == before  # the lock file came and went


def test_database_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / DATABASE_NAME).mkdir()
    (tmp_path / DATABASE_NAME / "mine.txt").write_text("keep")
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match="is not a file") as info:
        _run(tmp_path)
    _one_line_naming(info.value, tmp_path / DATABASE_NAME)
    with pytest.raises(SweepDatabaseError, match="is not a file"):
        load_results(tmp_path)
    assert _snapshot(tmp_path) == before


def test_random_bit_flips_never_give_a_traceback(finished):
    """Any single flipped bit: a clean ValueError or a readable database, nothing else."""
    db = finished / DATABASE_NAME
    pristine = db.read_bytes()
    gen = random.Random(20211101)
    outcomes = {"error": 0, "read": 0}
    for _ in range(60):
        data = bytearray(pristine)
        bit = gen.randrange(8 * len(data))
        data[bit // 8] ^= 1 << (bit % 8)
        db.write_bytes(bytes(data))
        try:
            load_results(finished)
        except SweepDatabaseError as exc:
            _one_line_naming(exc, db)
            outcomes["error"] += 1
        else:
            outcomes["read"] += 1
    # Most bytes of a small database are free space or JSON text, so both occur.
    assert outcomes["error"] > 0 and outcomes["read"] > 0, outcomes


def _edit(db, sql, *params):
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def test_stored_result_missing_a_key_is_named(finished):
    db = finished / DATABASE_NAME
    key = '{"k":7,"n":3}'
    _edit(db, "UPDATE cells SET result = json_remove(result, '$.mean') WHERE key = ?", key)
    assert len(load_results(finished)) == 40  # without a requirement, nothing is checked
    with pytest.raises(SweepDatabaseError) as info:
        load_results(finished, require=("n", "mean"))
    _one_line_naming(info.value, db)
    assert "'mean'" in str(info.value) and key in str(info.value)
    rows = load_results(finished, require=("n", "head"))
    assert all(set(r["result"]) >= {"n", "head"} for r in rows)


@pytest.mark.parametrize("sql, message", [
    ("UPDATE cells SET result = '{\"mean\": 1.' WHERE key = ?", "result is not JSON"),
    ("UPDATE cells SET result = '[1, 2]' WHERE key = ?", "result is not a JSON object"),
    ("UPDATE cells SET result = NULL WHERE key = ?", "result is not a JSON object"),
    ("UPDATE cells SET status = 'done' WHERE key = ?", "unknown status 'done'"),
    ("UPDATE cells SET key = '{\"k\":7,' WHERE key = ?", "key is not JSON"),
    ("UPDATE cells SET key = '[7]' WHERE key = ?", "key is not a JSON object"),
    ("UPDATE cells SET seconds = 'soon' WHERE key = ?", "seconds is not a number"),
])
def test_malformed_stored_rows_are_named(finished, sql, message):
    db = finished / DATABASE_NAME
    _edit(db, sql, '{"k":7,"n":3}')
    with pytest.raises(SweepDatabaseError, match=message) as info:
        load_results(finished)
    _one_line_naming(info.value, db)


def test_tables_without_our_columns_are_refused(finished):
    db = finished / DATABASE_NAME
    _edit(db, "ALTER TABLE cells DROP COLUMN seconds")
    for call in (lambda: load_results(finished), lambda: _run(finished, resume=True)):
        with pytest.raises(SweepDatabaseError) as info:
            call()
        _one_line_naming(info.value, db)


# ---------------------------------------------------------------------------
# databases and files the engine did not write


def _foreign_database(path, wal):
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE measurements (x REAL)")
    conn.executemany("INSERT INTO measurements VALUES (?)", [(i / 7,) for i in range(100)])
    conn.commit()
    conn.close()


@pytest.mark.parametrize("wal", [False, True])
@pytest.mark.parametrize("resume", [False, True])
def test_foreign_sqlite_is_refused_untouched(tmp_path, wal, resume):
    db = tmp_path / DATABASE_NAME
    _foreign_database(db, wal)
    (tmp_path / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match="not a pl-toolkit sweep database") as info:
        _run(tmp_path, resume=resume)
    _one_line_naming(info.value, db)
    with pytest.raises(SweepDatabaseError, match="not a pl-toolkit sweep database"):
        load_results(tmp_path)
    assert _snapshot(tmp_path) == before  # no meta table, no WAL, no lock file


def test_foreign_database_with_our_table_names_is_refused(tmp_path):
    db = tmp_path / DATABASE_NAME
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE meta (a); CREATE TABLE cells (b);")
    conn.close()
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match="not a pl-toolkit sweep database"):
        _run(tmp_path, resume=True)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", [DATABASE_NAME + "-wal", DATABASE_NAME + "-journal",
                                  DATABASE_NAME + "-shm"])
def test_stray_side_file_without_database_is_refused(tmp_path, name):
    (tmp_path / name).write_bytes(b"someone's bytes")
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match=f"holds {name} but no {DATABASE_NAME}"):
        _run(tmp_path)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("content", ["my own file\n", "", '{"tool": "mine", "pid": 1}'])
def test_foreign_lock_file_is_refused_untouched(tmp_path, content):
    # An empty file too: the engine's own lock file is never empty.
    (tmp_path / LOCK_NAME).write_text(content)
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match="was not written by pl-toolkit") as info:
        _run(tmp_path)
    _one_line_naming(info.value, tmp_path / LOCK_NAME)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("target", ["missing", "file"])
def test_lock_file_that_is_a_link_is_refused_untouched(tmp_path, target):
    out = tmp_path / "out"
    out.mkdir()
    aim = tmp_path / "elsewhere"
    if target == "file":
        aim.write_text("keep")
    (out / LOCK_NAME).symlink_to(aim)
    before = _snapshot(tmp_path)
    with pytest.raises(SweepDatabaseError, match="symbolic link") as info:
        _run(out)
    _one_line_naming(info.value, out / LOCK_NAME)
    assert _snapshot(tmp_path) == before
    assert os.path.islink(out / LOCK_NAME)


def test_new_sweep_leaves_user_files_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    _run(tmp_path, cells=CELLS[:3])
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # The lock file goes with the lock.
    assert sorted(os.listdir(tmp_path)) == sorted([DATABASE_NAME, "notes.txt"])


def test_outdir_that_cannot_be_created_is_a_value_error(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(SweepDatabaseError, match="cannot create the folder") as info:
        _run(tmp_path / "file" / "sub")
    _one_line_naming(info.value, tmp_path / "file" / "sub")
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_read_only_outdir_is_a_value_error(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(SweepDatabaseError, match="cannot") as info:
            _run(out)
        _one_line_naming(info.value, out)
    finally:
        out.chmod(0o700)


def test_outdir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_text("mine")
    with pytest.raises(SweepDatabaseError, match="is not a folder"):
        _run(tmp_path / "out")
    with pytest.raises(SweepDatabaseError, match="is not a folder"):
        load_results(tmp_path / "out")
    assert (tmp_path / "out").read_text() == "mine"


def test_missing_database_is_both_value_and_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no sweep.sqlite") as info:
        load_results(tmp_path)
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------
# databases of the previous layout (no application id) stay resumable

_OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, result TEXT, error TEXT, traceback TEXT,
    seconds REAL, attempts INTEGER NOT NULL, finished TEXT NOT NULL);
"""


def _strip_application_id(db):
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] != 0
        conn.execute("PRAGMA application_id = 0")
        conn.commit()
    finally:
        conn.close()


def test_previous_layout_database_resumes(tmp_path):
    out = tmp_path / "old"
    _run(out, cells=CELLS[:5])
    _strip_application_id(out / DATABASE_NAME)
    summary = _run(out, cells=CELLS[:8], resume=True)
    assert (summary.n_skipped, summary.n_ok) == (5, 3)
    assert len(load_results(out)) == 8


def test_previous_layout_killed_before_checkpoint_resumes(tmp_path):
    # The old engine's file after a SIGKILL right after creation: the schema
    # lives only in the write-ahead log.
    out = tmp_path / "old"
    out.mkdir()
    script = textwrap.dedent(f"""
        import os, sqlite3
        conn = sqlite3.connect({str(out / DATABASE_NAME)!r})
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript({_OLD_SCHEMA!r})
        conn.commit()
        os._exit(9)
    """)
    subprocess.run([sys.executable, "-c", script], check=False)
    assert (out / (DATABASE_NAME + "-wal")).exists()
    summary = _run(out, cells=CELLS[:3], resume=True)
    assert summary.n_ok == 3


# ---------------------------------------------------------------------------
# one sweep per folder

_HOLD_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
import _engine_cells
from pl_toolkit.experiments._engine import run_sweep
s = run_sweep(_engine_cells.{fn}, {cells!r}, {outdir!r}, name="lock", workers=1,
              progress=False, resume=True)
print("done", s.n_ok)
"""


def _start(outdir, cells, fn="sleep_long", **popen):
    script = _HOLD_SCRIPT.format(paths=[str(HERE.parent), str(HERE)], fn=fn, cells=cells,
                                 outdir=str(outdir))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def _wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _lock_pid(outdir):
    try:
        return json.loads((Path(outdir) / LOCK_NAME).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_second_sweep_is_refused_with_the_holders_pid(tmp_path):
    out = tmp_path / "out"
    marks = tmp_path / "marks"
    marks.mkdir()
    holder = _start(out, [{"i": 0, "sleep": 60, "marks": str(marks)}])
    try:
        _wait_for(lambda: os.listdir(marks) or holder.poll() is not None,
                  "the first sweep to start its cell")
        assert holder.poll() is None, holder.communicate()
        assert _lock_pid(out) == holder.pid
        with pytest.raises(SweepBusyError, match=f"in use by process {holder.pid}") as info:
            _run(out, resume=True)
        assert isinstance(info.value, ValueError)
        _one_line_naming(info.value, out)
        with pytest.raises(SweepBusyError):
            with sweep_lock(out):
                pass
        assert len(load_results(out)) == 0  # reading while it runs is allowed
    finally:
        holder.kill()
        holder.communicate()
    # The lock of a dead process does not block (flock dies with it): its
    # record stays, is taken over, and goes with the lock.
    assert _lock_pid(out) == holder.pid
    seen = []
    with sweep_lock(out):
        seen.append(_lock_pid(out))
        assert _run(out, cells=CELLS[:2], resume=True).n_ok == 2
    assert seen == [os.getpid()]
    assert not (out / LOCK_NAME).exists()


@pytest.mark.slow
def test_two_sweeps_started_together_compute_each_cell_once(tmp_path):
    out = tmp_path / "out"
    cells = [{"n": 2, "k": k} for k in range(12)]
    procs = [_start(out, cells, fn="slow_draw") for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outputs
    loser = outputs[[p.returncode for p in procs].index(1)][1]
    assert "SweepBusyError" in loser and "in use by process" in loser, loser
    conn = sqlite3.connect(out / DATABASE_NAME)
    try:
        attempts = [a for (a,) in conn.execute("SELECT attempts FROM cells")]
    finally:
        conn.close()
    assert attempts == [1] * 12


def test_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path):
    seen = []

    def other():
        try:
            with sweep_lock(tmp_path):
                seen.append("acquired")
        except SweepBusyError as exc:
            seen.append(str(exc))

    with sweep_lock(tmp_path):
        summary = _run(tmp_path, cells=CELLS[:2])  # the same thread: allowed
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert summary.n_ok == 2
    assert len(seen) == 1 and f"in use by process {os.getpid()}" in seen[0]
    with sweep_lock(tmp_path):  # released on exit
        assert (tmp_path / LOCK_NAME).exists()
    assert not (tmp_path / LOCK_NAME).exists()


def _dead_record(outdir, pid=2**22 + 1):
    # What a sweep killed while holding the lock leaves behind.
    import pl_toolkit.experiments._engine as engine

    text = json.dumps({"tool": engine._LOCK_TAG, "pid": pid, "host": "somewhere"})
    (Path(outdir) / LOCK_NAME).write_text(text + "\n")


def test_lock_taken_on_a_removed_file_is_retaken(tmp_path, monkeypatch):
    """An opener that locks the file its holder has just removed must start over."""
    import pl_toolkit.experiments._engine as engine

    _dead_record(tmp_path)
    real, calls = engine._try_lock, []

    def late(fd):
        calls.append(fd)
        if len(calls) == 1:  # the previous holder releases between open() and flock()
            os.unlink(tmp_path / LOCK_NAME)
        return real(fd)

    monkeypatch.setattr(engine, "_try_lock", late)
    with sweep_lock(tmp_path):
        assert len(calls) == 2
        assert _lock_pid(tmp_path) == os.getpid()


def test_lock_file_made_meanwhile_by_another_sweep_is_met(tmp_path, monkeypatch):
    """Two sweeps creating the lock file at once: the one whose link fails meets the lock."""
    import pl_toolkit.experiments._engine as engine

    real_link, rival = os.link, []

    def link_after_a_rival(src, dst, **kwargs):
        if not rival:  # another process places and locks its own file first
            _dead_record(tmp_path, pid=4242)
            fd = os.open(dst, os.O_RDWR)
            engine.fcntl.flock(fd, engine.fcntl.LOCK_EX | engine.fcntl.LOCK_NB)
            rival.append(fd)
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(engine.os, "link", link_after_a_rival)
    try:
        with pytest.raises(SweepBusyError, match="in use by process 4242"):
            with sweep_lock(tmp_path):
                pass
        assert [n for n in os.listdir(tmp_path) if n != LOCK_NAME] == []  # no temporary left
    finally:
        for fd in rival:
            os.close(fd)


_KILL_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
import time
from pl_toolkit.experiments._engine import sweep_lock
print("ready", flush=True)
while True:          # as long locked as unlocked: a random kill finds either state
    with sweep_lock({outdir!r}):
        time.sleep(0.001)
    time.sleep(0.001)
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL")
def test_a_kill_at_any_moment_leaves_a_usable_lock_file(tmp_path):
    """The lock file is absent or a complete record after a SIGKILL at a random moment."""
    out = tmp_path / "out"
    script = _KILL_SCRIPT.format(paths=[str(HERE.parent)], outdir=str(out))
    gen = random.Random(7)
    states = {"absent": 0, "record": 0}
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout.readline() == "ready\n"
            time.sleep(gen.uniform(0.0, 0.05))
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        if (out / LOCK_NAME).exists():
            assert _lock_pid(out) == proc.pid
            states["record"] += 1
        else:
            states["absent"] += 1
        leftovers = [n for n in os.listdir(out) if n != LOCK_NAME]
        for name in leftovers:  # a temporary of a kill between mkstemp and link
            assert name.startswith("." + LOCK_NAME + ".") and name.endswith(".new"), name
            os.unlink(out / name)
        with sweep_lock(out):  # never refused by what the kill left
            pass
    assert states["record"] > 0 and states["absent"] > 0, states


# ---------------------------------------------------------------------------
# orphans

_ORPHAN_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
import _engine_cells
from pl_toolkit.experiments._engine import run_sweep
run_sweep(_engine_cells.{fn}, {cells!r}, {outdir!r}, name="orphans", workers=2,
          progress=False)
"""


def _children(pid):
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"  # a zombie has exited


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("fn", [
    # A worker stuck in a C loop that holds the GIL: only the kernel can stop it.
    "hold_gil",
    "sleep_long",
])
def test_workers_and_tracker_die_with_a_killed_sweep(tmp_path, fn):
    marks = tmp_path / "marks"
    marks.mkdir()
    cells = [{"i": i, "sleep": 600, "marks": str(marks)} for i in range(4)]
    script = _ORPHAN_SCRIPT.format(paths=[str(HERE.parent), str(HERE)], fn=fn, cells=cells,
                                   outdir=str(tmp_path / "out"))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        # Both workers inside a cell: the sweep is in full flight.
        _wait_for(lambda: len(os.listdir(marks)) >= 2 or proc.poll() is not None,
                  "two cells to start")
        assert proc.poll() is None, proc.communicate()[1]
        workers = {int(name.split(".")[0]) for name in os.listdir(marks)}
        children = set(_children(proc.pid))
        assert workers <= children and len(children) >= 3  # + the resource tracker
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        survivors = [pid for pid in children if _alive(pid)]
        assert survivors == [], f"still alive after the parent's death: {survivors}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leave nothing behind if the test failed
        except ProcessLookupError:
            pass
        proc.wait()
        proc.stderr.close()


_WATCH_SCRIPT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {child!r}])
print(child.pid, flush=True)
child.wait()
"""

_WATCHED_CHILD = """
import os, sys, threading, time
sys.path[:0] = {paths!r}
from pl_toolkit.experiments import _engine
if {guard!r} == "thread":
    # The portable guard alone (no prctl): the thread that polls os.getppid().
    threading.Thread(target=_engine._exit_with_parent, args=(os.getppid(),),
                     daemon=True).start()
    open({ready!r}, "w").close()
    time.sleep(600)
else:
    # The pool initializer, then a C loop that never releases the GIL.
    _engine._worker_start(os.getppid())
    open({ready!r}, "w").close()
    sum(range(10**12))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("guard", ["thread", "worker_start"])
def test_worker_guards_exit_when_the_parent_dies(tmp_path, guard):
    """Each guard of the pool workers alone, in a two-process chain (cheaper than a pool)."""
    ready = tmp_path / "ready"
    child = _WATCHED_CHILD.format(paths=[str(HERE.parent)], ready=str(ready), guard=guard)
    parent = subprocess.Popen([sys.executable, "-c", _WATCH_SCRIPT.format(child=child)],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        child_pid = int(parent.stdout.readline())
        _wait_for(lambda: ready.exists() or not _alive(child_pid), "the child to start")
        assert _alive(child_pid)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child_pid)
    finally:
        try:
            os.killpg(parent.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        parent.wait()
        parent.stdout.close()
