"""Symbols (assumptions, uniqueness) and the lambdify bridge."""

import mpmath
import numpy as np
import pytest
from sympy import Symbol, pi, sqrt

from _tolerances import tol
from derivations import symbols as S
from derivations.numeric import argument_order, evaluate, make_function


def test_symbols_have_assumptions_and_unique_names():
    for s in (S.n, S.d0, S.d1, S.d2, S.t, S.L_depth):
        assert s.is_integer and s.is_positive
    for s in (S.mu_Phi, S.nu_Phi, S.beta_Phi, S.alpha_f, S.beta_f, S.eta, S.h0, S.sigma_max_X,
              S.s_t, S.lambda0, S.delta):
        assert s.is_positive
    names = [s.name for s in S.ALL_SYMBOLS]
    assert len(names) == len(set(names))
    # a plain Symbol with the same name is a different object: no strings anywhere
    assert Symbol("mu_Phi") != S.mu_Phi


def test_argument_order_is_fixed():
    e = S.d0 * S.n + S.mu_Phi * S.beta_Phi
    assert argument_order(e) == (S.n, S.d0, S.mu_Phi, S.beta_Phi)
    other = Symbol("zz", positive=True)
    assert argument_order(other + S.n) == (S.n, other)


def test_numpy_and_mpmath_backends_agree(rng):
    e = sqrt(S.n) * S.sigma_max_X**2 / S.s_t**3 + pi * S.mu_Phi
    f_np = make_function(e)
    f_mp = make_function(e, backend="mpmath")
    assert f_np.names == f_mp.names
    for _ in range(10):
        v = dict(n=float(rng.integers(1, 1000)), sigma_max_X=rng.uniform(0.1, 5),
                 s_t=rng.uniform(0.1, 1), mu_Phi=rng.uniform(0, 3))
        with mpmath.workdps(30):
            ref = f_mp(**{k: mpmath.mpf(x) for k, x in v.items()})
        np.testing.assert_allclose(f_np(**v), float(ref), **tol("same_math"))
    # vectorised numpy evaluation
    out = f_np(n=np.array([4.0, 9.0]), sigma_max_X=1.0, s_t=1.0, mu_Phi=0.0)
    np.testing.assert_allclose(out, [2.0, 3.0], **tol("same_math"))


def test_bridge_errors():
    with pytest.raises(ValueError, match="missing"):
        make_function(S.n * S.d0)(n=1.0)
    with pytest.raises(ValueError, match="backend"):
        make_function(S.n, backend="torch")
    assert evaluate(S.n + 1, n=2.0, unused=5.0) == 3.0
