import os
import sys

import pytest

# tests/_tolerances.py lives one directory up; pytest only inserts this directory.
_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(scope="session")
def tiny_run():
    """One real plain-NumPy GD run on a digits subset (n=40, d1=200, GELU, LeCun)."""
    from derivations._numpy_gd import run_tiny_gd

    return run_tiny_gd(n=40, d1=200, steps=6000, seed=0)
