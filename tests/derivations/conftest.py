import os
import sys

import pytest

# tests/_tolerances.py lives one directory up; pytest only inserts this directory.
_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One real run of the main job on a small sphere set (n=24, d0=8, GELU, LeCun).

    Returns ``(measured, report, out)``: the measured constants as a dict, the
    report and the report folder (``data.npz`` and ``trajectory.npz`` inside).
    """
    from pl_toolkit.experiments import run_experiment

    out = tmp_path_factory.mktemp("tiny_run")
    res = run_experiment(n=24, d0=8, d1=160, steps=4000, track_every=25,
                         lemma1_directions=2, out=str(out), progress=False)
    return res.report["measured"], res.report, out
