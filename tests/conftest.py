import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator; every test that draws random numbers uses it."""
    return np.random.default_rng(np.random.SeedSequence(20211101))


@pytest.fixture
def always_parallel(monkeypatch):
    """Make ``parallel=True`` run the parallel build even on small inputs.

    The wrappers use the serial build below ``PARALLEL_MIN_ELEMENTS``
    (bitwise equal, cheaper); tests comparing serial with parallel on small
    inputs would otherwise compare the serial build with itself.
    """
    import pl_toolkit._jit

    monkeypatch.setattr(pl_toolkit._jit, "PARALLEL_MIN_ELEMENTS", 0)


def pytest_collection_modifyitems(config, items):
    # Heavy tests make no sense without the JIT: skip them there.
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        skip = pytest.mark.skip(reason="slow test skipped under NUMBA_DISABLE_JIT")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip)
