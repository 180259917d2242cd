"""Tests of the sweep engine (pl_toolkit.experiments._engine).

Results of one cell are computed by identical code in every executor, so
they are compared for exact equality: any difference means a wrong seed, a
lost or duplicated cell, or a lossy round trip through the database.
"""

import hashlib
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import _engine_cells as cells_mod
from pl_toolkit.experiments._engine import (DATABASE_NAME, cell_key, cell_seed, load_results,
                                          run_sweep)

CELLS = [{"n": n, "tag": tag} for n in (3, 5, 8) for tag in ("a", "b")]


def _run(fn, cells, outdir, **kwargs):
    kwargs.setdefault("name", "test")
    kwargs.setdefault("workers", 1)
    kwargs.setdefault("progress", False)
    return run_sweep(fn, cells, outdir, **kwargs)


def _results(outdir, drop=()):
    rows = load_results(outdir)
    for row in rows:
        assert row["status"] == "ok", row
        for key in drop:
            row["result"].pop(key)
    return [(row["cell"], row["result"]) for row in rows]


def _db_rows(outdir, columns="key, status, attempts"):
    conn = sqlite3.connect(Path(outdir) / DATABASE_NAME)
    try:
        conn.execute("PRAGMA query_only = ON")
        return conn.execute(f"SELECT {columns} FROM cells ORDER BY key").fetchall()
    finally:
        conn.close()


def _expected_seed(root_seed, cell):
    # The documented derivation, recomputed here from hashlib directly.
    text = json.dumps(cell, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).digest()
    words = tuple(int.from_bytes(digest[4 * i:4 * i + 4], "little") for i in range(4))
    return np.random.SeedSequence(root_seed, spawn_key=words)


# ---------------------------------------------------------------------------
# keys and seeds


def test_cell_key_is_canonical():
    expected = '{"a":[1,2],"b":1}'
    assert cell_key({"b": 1, "a": [1, 2]}) == cell_key({"a": (1, 2), "b": 1}) == expected
    assert cell_key({"n": np.int64(4), "x": np.float64(0.5)}) == cell_key({"n": 4, "x": 0.5})
    assert cell_key({"n": 1}) != cell_key({"n": 1.0})
    with pytest.raises(ValueError, match="cell is not canonical JSON"):
        cell_key({"x": float("nan")})
    with pytest.raises(ValueError, match="cell keys must be strings"):
        cell_key({1: 2})
    with pytest.raises(ValueError, match="cell must be a dict"):
        cell_key([("n", 1)])


def test_seed_follows_documented_derivation():
    for cell in CELLS:
        expected = _expected_seed(11, cell).generate_state(4)
        assert np.array_equal(cell_seed(11, cell).generate_state(4), expected)
        assert np.array_equal(cell_seed(11, cell_key(cell)).generate_state(4), expected)
    states = {tuple(cell_seed(0, c).generate_state(2)) for c in CELLS}
    assert len(states) == len(CELLS)
    assert not np.array_equal(cell_seed(0, CELLS[0]).generate_state(2),
                              cell_seed(1, CELLS[0]).generate_state(2))


def test_results_are_fn_of_cell_and_its_seed(tmp_path):
    summary = _run(cells_mod.draw, CELLS, tmp_path, root_seed=5)
    assert (summary.n_cells, summary.n_ok, summary.n_error, summary.n_skipped) == (6, 6, 0, 0)
    assert summary.complete and summary.errors == ()
    got = _results(tmp_path)
    expected = sorted(
        ((c, cells_mod.draw(c, _expected_seed(5, c))) for c in CELLS),
        key=lambda item: json.dumps(item[0], sort_keys=True, separators=(",", ":")))
    # JSON turns the tuple-free draw() output into the same lists and floats.
    assert got == expected
    rows = load_results(tmp_path)
    assert all(row["error"] is None and row["seconds"] >= 0 for row in rows)


# ---------------------------------------------------------------------------
# executors and scheduling independence


def test_in_process_and_pool_agree_whatever_order_and_prior_work(tmp_path):
    reference = tmp_path / "in_process"
    _run(cells_mod.draw_with_pid, CELLS, reference, root_seed=3)
    pids = {row["result"]["pid"] for row in load_results(reference)}
    assert pids == {os.getpid()}

    shuffled = CELLS[:]
    random.Random(1).shuffle(shuffled)
    pool = tmp_path / "pool"
    summary = _run(cells_mod.draw_with_pid, shuffled, pool, root_seed=3, workers=2)
    assert (summary.n_ok, summary.n_error) == (6, 0)
    pids = {row["result"]["pid"] for row in load_results(pool)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert _results(pool, drop=["pid"]) == _results(reference, drop=["pid"])

    # Half the cells first (reversed), then the rest by resume: same numbers.
    partial = tmp_path / "partial"
    _run(cells_mod.draw_with_pid, CELLS[::-2], partial, root_seed=3)
    summary = _run(cells_mod.draw_with_pid, shuffled, partial, root_seed=3, resume=True)
    assert (summary.n_skipped, summary.n_ok) == (3, 3)
    assert _results(partial, drop=["pid"]) == _results(reference, drop=["pid"])


def test_pool_survives_a_dying_worker(tmp_path):
    cells = [{"i": i, "die": i == 4} for i in range(10)]
    summary = _run(cells_mod.die_if_asked, cells, tmp_path, workers=2)
    # The dying cell and whatever was in flight with it (window 2 * workers).
    assert 1 <= summary.n_error <= 4 and summary.n_ok == 10 - summary.n_error
    messages = dict((json.dumps(c, sort_keys=True), m) for c, m in summary.errors)
    assert messages[json.dumps(cells[4], sort_keys=True)].startswith("worker failure: ")
    assert len(_db_rows(tmp_path)) == 10
    # Retry without the poisonous cell: everything else completes.
    keep = cells[:4] + cells[5:]
    again = _run(cells_mod.die_if_asked, keep, tmp_path, workers=1, resume=True)
    assert again.n_ok == summary.n_error - 1 and again.complete
    for row in load_results(tmp_path):
        if not row["cell"]["die"]:
            assert row["result"] == cells_mod.draw({"n": 2}, _expected_seed(0, row["cell"]))


def test_pool_that_never_finishes_a_cell_raises(tmp_path):
    cells = [{"i": i, "die": True} for i in range(6)]
    with pytest.raises(RuntimeError, match="broke before finishing any cell"):
        _run(cells_mod.die_if_asked, cells, tmp_path, workers=2)
    rows = _db_rows(tmp_path)
    assert rows and all(status == "error" for _, status, _ in rows)


def test_unpicklable_fn_refused_for_pool(tmp_path):
    with pytest.raises(ValueError, match="fn must be picklable"):
        _run(lambda cell, seed: {}, CELLS, tmp_path, workers=2)


KILL_SCRIPT = """
import sys
sys.path[:0] = {paths!r}
import _engine_cells
from pl_toolkit.experiments._engine import run_sweep
run_sweep(_engine_cells.slow_draw, {cells!r}, {outdir!r}, name="kill", root_seed=7,
          workers=2, progress=False)
"""


def _count_finished(db):
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute("SELECT COUNT(*) FROM cells WHERE status = 'ok'").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def test_sigkill_then_resume_loses_and_repeats_nothing(tmp_path):
    cells = [{"n": 4, "k": k} for k in range(12)]
    outdir = tmp_path / "killed"
    here = Path(__file__).resolve().parent
    script = KILL_SCRIPT.format(paths=[str(here.parent), str(here)], cells=cells,
                                outdir=str(outdir))
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while _count_finished(outdir / DATABASE_NAME) < 3:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "sweep subprocess made no progress"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its pool workers
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # Nothing writes now: read (and recover the log) with a plain connection.
    n_before = sum(status == "ok" for _, status, _ in _db_rows(outdir))
    assert 3 <= n_before < len(cells)

    summary = run_sweep(cells_mod.slow_draw, cells, outdir, name="kill", root_seed=7,
                        workers=1, resume=True, progress=False)
    assert (summary.n_skipped, summary.n_ok, summary.n_error) == (n_before, 12 - n_before, 0)
    rows = _db_rows(outdir)
    assert len(rows) == 12 and len({key for key, _, _ in rows}) == 12
    assert all(status == "ok" and attempts == 1 for _, status, attempts in rows)

    # An uninterrupted run of the same computation (without the sleep).
    reference = tmp_path / "reference"
    _run(cells_mod.draw, cells, reference, root_seed=7)
    assert _results(outdir) == _results(reference)


# ---------------------------------------------------------------------------
# Dask


def test_dask_local_cluster_matches_local_executor(tmp_path):
    distributed = pytest.importorskip("distributed")
    _run(cells_mod.draw, CELLS, tmp_path / "local", root_seed=2)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            summary = run_sweep(cells_mod.draw, CELLS[::-1], tmp_path / "client",
                                name="test", root_seed=2, dask_scheduler=client,
                                progress=False)
            assert (summary.n_ok, summary.n_error) == (6, 0)
            assert client.status == "running"  # a client passed in is left open
        summary = run_sweep(cells_mod.draw, CELLS, tmp_path / "address", name="test",
                            root_seed=2, dask_scheduler=cluster.scheduler_address,
                            progress=False)
        assert (summary.n_ok, summary.n_error) == (6, 0)
    reference = _results(tmp_path / "local")
    assert _results(tmp_path / "client") == reference
    assert _results(tmp_path / "address") == reference


def test_dask_missing_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install pl_toolkit\[dask\]"):
        run_sweep(cells_mod.draw, CELLS, tmp_path, name="test",
                  dask_scheduler="tcp://127.0.0.1:1", progress=False)


# ---------------------------------------------------------------------------
# errors, configuration, round trip


def test_errors_are_recorded_then_retried_on_resume(tmp_path, monkeypatch):
    cells = [{"i": i} for i in range(7)]
    monkeypatch.setenv(cells_mod.FAIL_ENV, "1")
    summary = _run(cells_mod.flaky, cells, tmp_path)
    assert (summary.n_ok, summary.n_error, summary.complete) == (4, 3, False)
    assert summary.errors == tuple(
        ({"i": i}, f"ValueError: cell i={i} failed on purpose") for i in (0, 3, 6))
    rows = {row["cell"]["i"]: row for row in load_results(tmp_path)}
    for i in (0, 3, 6):
        assert rows[i]["status"] == "error" and rows[i]["result"] is None
        assert rows[i]["error"] == f"ValueError: cell i={i} failed on purpose"
    tracebacks = [tb for (tb,) in _db_rows(tmp_path, "traceback") if tb]
    assert len(tracebacks) == 3 and all("Traceback" in tb and "flaky" in tb for tb in tracebacks)

    monkeypatch.delenv(cells_mod.FAIL_ENV)
    again = _run(cells_mod.flaky, cells, tmp_path, resume=True)
    assert (again.n_skipped, again.n_ok, again.n_error, again.complete) == (4, 3, 0, True)
    attempts = {json.loads(key)["i"]: a for key, _, a in _db_rows(tmp_path)}
    assert attempts == {i: 2 if i % 3 == 0 else 1 for i in range(7)}
    assert all(tb is None for (tb,) in _db_rows(tmp_path, "traceback"))
    _run(cells_mod.flaky, cells, tmp_path / "clean")
    assert _results(tmp_path) == _results(tmp_path / "clean")


@pytest.mark.parametrize("fn, message", [
    (cells_mod.not_a_dict, "TypeError: fn must return a dict, got list"),
    (cells_mod.unserializable, "TypeError: object of type object is not JSON-serializable"),
])
def test_bad_results_are_cell_errors(tmp_path, fn, message):
    summary = _run(fn, [{"i": 1}, {"i": 2}], tmp_path)
    assert summary.n_error == 2
    assert [m for _, m in summary.errors] == [message, message]


def test_existing_sweep_needs_resume_and_same_config(tmp_path):
    settings = dict(name="grid", config={"widths": [8, 16], "lr": 0.1}, root_seed=4)
    _run(cells_mod.draw, CELLS[:2], tmp_path, **settings)
    with pytest.raises(ValueError, match="pass resume=True to continue it or choose another"):
        _run(cells_mod.draw, CELLS, tmp_path, **settings)
    changes = {
        "name": dict(settings, name="other"),
        "config": dict(settings, config={"widths": [8, 16], "lr": 0.2}),
        "root_seed": dict(settings, root_seed=5),
    }
    for field, changed in changes.items():
        with pytest.raises(ValueError, match=f"cannot resume .*: {field} differs"):
            _run(cells_mod.draw, CELLS, tmp_path, resume=True, **changed)
    with pytest.raises(ValueError, match="function differs"):
        _run(cells_mod.slow_draw, CELLS, tmp_path, resume=True, **settings)
    # Key order in config is irrelevant; new cells extend the sweep.
    reordered = dict(settings, config={"lr": 0.1, "widths": [8, 16]})
    summary = _run(cells_mod.draw, CELLS, tmp_path, resume=True, **reordered)
    assert (summary.n_skipped, summary.n_ok) == (2, 4)
    # resume=True on an empty directory simply starts the sweep.
    summary = _run(cells_mod.draw, CELLS, tmp_path / "fresh", resume=True, **settings)
    assert summary.n_ok == 6


def test_json_round_trip_keeps_nan_inf_and_exact_floats(tmp_path):
    _run(cells_mod.special_values, [{"i": 0}], tmp_path, workers=1)
    (row,) = load_results(tmp_path)
    got = row["result"]
    assert math.isnan(got["nan"]) and math.isnan(got["nested"]["list"][1])
    assert got["inf"] == math.inf and got["minus_inf"] == -math.inf
    assert got["nested"]["list"][2] == [2, -math.inf]
    assert got["minus_zero"] == 0.0 and math.copysign(1.0, got["minus_zero"]) == -1.0
    assert got["tiny"] == 5e-324 and got["third"] == 1.0 / 3.0
    assert got["big_int"] == 2**62 + 1 and type(got["big_int"]) is int
    assert got["flag"] is True and got["none"] is None and got["text"] == "é\n\"x\""
    assert got["np_float"] == 0.1 and got["np_int"] == -7 and got["np_bool"] is False
    array = np.array(got["array"])
    assert array.shape == (2, 2) and math.isnan(array[0, 1]) and array[1, 0] == math.inf


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    run_sweep(cells_mod.draw, CELLS, tmp_path, name="progress-demo", workers=1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "progress-demo" in err and "6/6" in err
    run_sweep(cells_mod.draw, CELLS, tmp_path, name="progress-demo", workers=1,
              resume=True, progress=False)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("kwargs, cells, message", [
    (dict(workers=0), CELLS, "workers must be an integer >= 1"),
    (dict(root_seed=-1), CELLS, "root_seed must be an integer >= 0"),
    (dict(name=""), CELLS, "name must be a non-empty string"),
    (dict(workers=2, dask_scheduler="tcp://127.0.0.1:1"), CELLS, "workers and dask_scheduler"),
    (dict(dask_scheduler=3, workers=None), CELLS, "dask_scheduler must be"),
    (dict(config={"x": float("nan")}), CELLS, "config is not canonical JSON"),
    (dict(), CELLS + [{"tag": "a", "n": 3}], r"cells\[6\] duplicates cells\[0\]"),
    (dict(), [{"n": 1}, {"n": {1, 2}}], r"cells\[1\]: cell is not canonical JSON"),
    (dict(), {"n": 1}, "cells must be an iterable of dicts"),
])
def test_invalid_arguments(tmp_path, kwargs, cells, message):
    with pytest.raises(ValueError, match=message):
        _run(cells_mod.draw, cells, tmp_path, **kwargs)


def test_load_results_without_database(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no sweep.sqlite"):
        load_results(tmp_path)
