"""Cell functions for tests/test_engine.py.

They live at the top level of an importable module so that spawned pool
workers (and a killed subprocess) can unpickle them by name.
"""

import os
import time

import numpy as np

#: Environment variable that makes :func:`flaky` fail on cells with i % 3 == 0.
FAIL_ENV = "PL_TOOLKIT_TEST_ENGINE_FAIL"


def draw(cell, seed):
    """Random numbers from the cell's seed; depends on nothing else."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(cell["n"])
    return {"n": cell["n"], "mean": float(x.mean()), "head": x[:3].tolist(),
            "state": seed.generate_state(2).tolist()}


def draw_with_pid(cell, seed):
    """:func:`draw` plus the id of the process that ran it."""
    out = draw(cell, seed)
    out["pid"] = os.getpid()
    return out


def slow_draw(cell, seed):
    """:func:`draw` after sleeping 0.3 s (for the kill-and-resume test)."""
    time.sleep(0.3)
    return draw(cell, seed)


def flaky(cell, seed):
    """:func:`draw`, but raises on cells with i % 3 == 0 while FAIL_ENV is set."""
    if os.environ.get(FAIL_ENV) and cell["i"] % 3 == 0:
        raise ValueError(f"cell i={cell['i']} failed\non purpose")
    return draw({"n": 4}, seed)


def special_values(cell, seed):
    """Values that a JSON round trip must keep: non-finite, -0.0, NumPy types."""
    return {
        "nan": float("nan"), "inf": float("inf"), "minus_inf": -np.inf,
        "minus_zero": -0.0, "tiny": 5e-324, "third": 1.0 / 3.0,
        "big_int": 2**62 + 1, "flag": True, "none": None, "text": "é\n\"x\"",
        "nested": {"list": [1.5, float("nan"), [2, -np.inf]]},
        "np_float": np.float64(0.1), "np_int": np.int64(-7), "np_bool": np.bool_(False),
        "array": np.array([[1.0, np.nan], [np.inf, 2.0]]),
    }


def not_a_dict(cell, seed):
    """Returns a list: the engine must record an error."""
    return [cell["i"]]


def unserializable(cell, seed):
    """Returns an object JSON cannot encode: the engine must record an error."""
    return {"obj": object()}


def die_if_asked(cell, seed):
    """Kills its own process when cell["die"] (a worker crash); else draws."""
    if cell["die"]:
        os._exit(3)
    return draw({"n": 2}, seed)


def _mark_start(cell):
    # An empty file named after this process: tells a test the cell has started.
    with open(os.path.join(cell["marks"], f"{os.getpid()}.{cell['i']}"), "w"):
        pass


def sleep_long(cell, seed):
    """Marks its start in cell["marks"], then sleeps cell["sleep"] seconds (GIL released)."""
    _mark_start(cell)
    time.sleep(cell["sleep"])
    return draw({"n": 2}, seed)


def hold_gil(cell, seed):
    """Marks its start, then runs a C loop that never releases the GIL (minutes)."""
    _mark_start(cell)
    sum(range(10**12))
    return draw({"n": 2}, seed)
