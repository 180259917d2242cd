import math

import numpy as np
import pytest
from _tolerances import residual_tol, tol

from pl_toolkit.khatri_rao import khatri_rao_gram, khatri_rao_power, sigma_min_khatri_rao


def _unit_rows(rng, n, d0):
    X = rng.standard_normal((n, d0))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("t", [1, 2, 3])
def test_power_rows_are_kronecker_powers(rng, t):
    X = rng.standard_normal((4, 3))
    P = khatri_rao_power(X, t)
    assert P.shape == (4, 3 ** t)
    for a in range(4):
        ref = X[a]
        for _ in range(t - 1):
            ref = np.kron(ref, X[a])
        np.testing.assert_allclose(P[a], ref, **tol("same_math"))


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_gram_identity(rng, t):
    # (X^{*t})^T X^{*t} = (X^T X)^{o t} in the paper's convention.
    X = rng.standard_normal((7, 4))
    P = khatri_rao_power(X, t)
    G = khatri_rao_gram(X, t)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(G, P @ P.T, rtol=tol("same_math")["rtol"],
                               atol=tol("same_math")["rtol"] * np.max(np.abs(G)))


@pytest.mark.parametrize("t", [2, 3])
def test_sigma_min_matches_svd_of_explicit_power(rng, t):
    d0 = 4
    n = math.comb(d0 + t - 1, t) - 2  # below the symmetric-tensor dimension: full rank
    X = _unit_rows(rng, n, d0)
    s_ref = np.linalg.svd(khatri_rao_power(X, t), compute_uv=False)[-1]
    s = sigma_min_khatri_rao(X, t)
    # lambda_min has absolute error ~ n eps ||G||; propagate through sqrt.
    lam_err = residual_tol(n, np.linalg.norm(khatri_rao_gram(X, t), 2))
    assert abs(s ** 2 - s_ref ** 2) <= lam_err
    assert s_ref > 1e-3


def test_rank_deficient_is_clipped_to_small_nonnegative(rng):
    # n > C(d0 + 1, 2) = 6 symmetric-tensor dimension: the Gram is singular.
    X = _unit_rows(rng, 9, 3)
    s = sigma_min_khatri_rao(X, 2)
    G = khatri_rao_gram(X, 2)
    assert 0.0 <= s <= np.sqrt(residual_tol(9, np.linalg.norm(G, 2)))


def test_t1_is_sigma_min_of_X(rng):
    X = rng.standard_normal((5, 8))
    s_ref = np.linalg.svd(X, compute_uv=False)[-1]
    bound = residual_tol(5, np.linalg.norm(X, 2) ** 2)
    assert abs(sigma_min_khatri_rao(X, 1) ** 2 - s_ref ** 2) <= bound


@pytest.mark.parametrize("func", [khatri_rao_power, khatri_rao_gram, sigma_min_khatri_rao])
def test_validation(func):
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="^t "):
        func(X, 0)
    with pytest.raises(ValueError, match="^t "):
        func(X, 2.0)
    with pytest.raises(ValueError, match="^X "):
        func(np.ones(3), 2)
    bad = X.copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"^X contains NaN at index \(1, 0\)"):
        func(bad, 2)


def test_explicit_power_size_guard():
    with pytest.raises(ValueError, match="^t = 8"):
        khatri_rao_power(np.ones((10, 10)), 8)
