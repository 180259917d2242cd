"""The sweep's table of (21) reference exponents against derivations.width.

pl_toolkit never imports SymPy, so the sweep carries the derived exponents
(and the derived constant of the corrected (21)) as a table; this test
recomputes them with the symbolic derivation.
"""

from fractions import Fraction

import pytest

from pl_toolkit.experiments import sweep as sw

width = pytest.importorskip("derivations.width")


def test_reference_table_matches_the_derivation():
    settings = sorted({s for a, s in sw.REFERENCE_EXPONENTS})
    activations = sorted({a for a, s in sw.REFERENCE_EXPONENTS})
    for act in activations:
        wc = width.width_conditions(act, settings=tuple(settings))
        for (a, s), (n_exp, d0_exp, const) in sw.REFERENCE_EXPONENTS.items():
            if a != act:
                continue
            assert Fraction(wc[s]["n"]) == Fraction(n_exp), (a, s)
            assert Fraction(wc[s]["d0"]) == Fraction(d0_exp), (a, s)
            if const is None:
                assert wc[s]["constant"] is None
            else:
                # The table stores the float the derivation prints (repr round-trips).
                assert wc[s]["constant"] == const, (a, s)


def test_reference_block_uses_the_table():
    ref = sw._reference_exponents("gelu", "lecun")
    assert (ref["paper"]["n"], ref["paper"]["d0"]) == (1.5, -1.0)
    assert (ref["corrected"]["n"], ref["corrected"]["d0"]) == (1.5, 1.0)
    task = dict(activation="gelu", init="lecun")
    assert sw._corrected_width(task, 64, 64) == sw.REFERENCE_EXPONENTS[("gelu", "lecun")][2] \
        * 64 ** 1.5 * 64
    assert sw._reference_exponents("tanh", "lecun")["corrected"] is None
