"""The init-scale tutorial shows the stored MNIST results, and the stored results add up.

docs/data/init_scale_mnist.json holds the reports and per-student records of
the Figure 1 runs; the tutorial's tables must show exactly those numbers,
and every summary in the file must follow from its per-student records.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from _tolerances import tol

from pl_toolkit.experiments import init_scale as isc
from pl_toolkit.experiments._common import t_interval

DOCS = Path(__file__).resolve().parents[1] / "docs"
DATA = DOCS / "data" / "init_scale_mnist.json"
TUTORIAL = DOCS / "tutorials" / "init_scale.rst"


@pytest.fixture(scope="module")
def stored():
    return json.loads(DATA.read_text())


def _runs(stored):
    return sorted(stored["runs"].items())


def test_stored_summaries_follow_from_the_cells(stored):
    assert stored["runs"], "no run stored"
    for loss, run in _runs(stored):
        rep, cells = run["report"], run["cells"]
        assert run["command"].startswith("pl-toolkit init-scale --data mnist")
        assert f"--student-loss {loss}" in run["command"]
        assert rep["config"]["student_loss"] == loss
        assert rep["config"]["omega2_grid"] == list(isc.PAPER_OMEGA2)
        assert (rep["data"]["d0"], rep["config"]["width"]) == (784, 1000)
        x, groups = [], []
        for p in rep["per_omega2"]:
            mine = [c for c in cells if c["omega2"] == p["omega2"]]
            assert p["runs"] == len(mine)
            assert p["interpolated"] == sum(c["status"] == "interpolated" for c in mine)
            assert mine, f"{loss}: no student at omega2 = {p['omega2']}"
            assert p["paper_test_acc"] == isc.PAPER_TEST_ACC[isc.PAPER_OMEGA2.index(p["omega2"])]
            acc = [c["test_acc"] for c in mine]
            again = t_interval(acc)
            for key in ("mean", "half_width"):
                np.testing.assert_allclose(p["test_acc"][key], again[key], **tol("same_math"))
            x.append(p["omega2"])
            groups.append([c["test_acc"] for c in mine])
        rho = rep["spearman_test_acc_vs_omega2"]
        again = isc.spearman_bootstrap(x, groups, n_boot=rho["n_boot"],
                                       seed=rep["config"]["root_seed"])
        for key in ("rho", "ci_low", "ci_high"):
            # The stored JSON is strict: NaN is written as null.
            if rho[key] is None:
                assert math.isnan(again[key]), (loss, key)
            else:
                assert rho[key] == again[key], (loss, key)


def _table(text, title):
    """Rows of the csv-table whose caption is ``title``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(".. csv-table::")
                 and title in line)
    rows = []
    for line in lines[start + 1:]:
        if not line.strip():
            if rows:
                break
            continue
        if line.lstrip().startswith(":"):
            continue
        if not line.startswith("   "):
            break
        rows.append([c.strip() for c in line.split(",")])
    return rows


def test_tutorial_tables_show_the_stored_numbers(stored):
    text = TUTORIAL.read_text()
    assert "docs/data/init_scale_mnist.json" in text or "init_scale_mnist.json" in text
    for loss, run in _runs(stored):
        rows = _table(text, f"({loss.upper()} students)")
        per = [p for p in run["report"]["per_omega2"] if p["runs"]]
        assert len(rows) == len(per)
        for row, p in zip(rows, per):
            assert float(row[0]) == p["omega2"]
            assert row[1] == f"{p['interpolated']}/{p['runs']}"
            m = re.match(r"([0-9.]+) ± ([0-9.]+)", row[3])
            assert m, row
            assert m.group(1) == f"{p['test_acc']['mean']:.4f}"
            assert m.group(2) == f"{p['test_acc']['half_width']:.4f}"
            paper = p["paper_test_acc"]
            assert row[4] == ("--" if paper is None else f"{paper:.4f}")
        rho = run["report"]["spearman_test_acc_vs_omega2"]
        if rho["rho"] is not None:
            assert (f"{rho['rho']:.3f} [{rho['ci_low']:.3f}, {rho['ci_high']:.3f}]" in text), loss
