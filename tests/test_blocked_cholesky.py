"""The blocked Cholesky factorization and solve of ``pl_toolkit._eigen``.

Every route that factors a large symmetric matrix (shift-invert, the
certified bound, the mixed-precision NTK route) goes through these two
functions, which split their BLAS calls so that no ``syrk`` exceeds
``SYRK_MAX`` columns and no call spans more than ``BLAS_SPAN`` elements.
The tests force small limits so that every split is exercised, and compare
with NumPy's (LAPACK's) factor.
"""

import numpy as np
import pytest

from _tolerances import tol

from pl_toolkit import _eigen


def _spd(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.standard_normal((n, n + 3))
    return (B @ B.T / n + np.eye(n)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, panel, syrk_max, span", [
    (1, 4, 4, 2 ** 30), (37, 8, 5, 2 ** 30), (64, 16, 16, 64 * 7), (200, 64, 9, 200 * 21),
    (130, 2048, 4096, 2 ** 30)])
def test_factor_and_solve_match_lapack(monkeypatch, dtype, n, panel, syrk_max, span):
    monkeypatch.setattr(_eigen, "SYRK_MAX", syrk_max)
    monkeypatch.setattr(_eigen, "BLAS_SPAN", span)
    A = _spd(n, dtype)
    F = np.array(A, order="F", copy=True)
    assert _eigen.blocked_cholesky_lower_inplace(F, panel) == 0
    L = np.tril(F)
    ref = np.linalg.cholesky(A.astype(np.float64))
    kind = tol("same_math", dtype)
    # a Cholesky factor is computed backward stably: entries agree to a few
    # eps times the condition of A (here < 10)
    np.testing.assert_allclose(L, ref, rtol=kind["rtol"], atol=kind["atol"] * 10)
    np.testing.assert_array_equal(np.triu(F, 1), np.triu(A, 1))     # upper triangle untouched
    B = np.random.default_rng(1).standard_normal((n, 3)).astype(dtype)
    X = _eigen.blocked_cholesky_solve(F, B.copy(order="F"))
    np.testing.assert_allclose(A.astype(np.float64) @ X, B, rtol=kind["rtol"] * 10,
                               atol=kind["atol"] * 100)


def test_not_positive_definite_reports_the_leading_minor():
    A = _spd(13, np.float64)
    A[9, 9] = -50.0
    assert _eigen.blocked_cholesky_lower_inplace(np.asfortranarray(A), 4) == 10


def test_c_ordered_input_is_factored_and_written_back():
    A = _spd(50, np.float64)
    C = np.array(A, order="C")
    assert _eigen.cholesky_lower_inplace(C) == 0
    np.testing.assert_allclose(np.tril(C), np.linalg.cholesky(A), **tol("same_math"))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 3), dtype=np.int64, order="F"), "float32 or float64"),
    (np.zeros((3, 4), order="F"), "square Fortran-ordered"),
    (np.zeros((3, 3), order="C")[:, :2], "square Fortran-ordered")])
def test_bad_factor_input_named(bad, match):
    with pytest.raises(ValueError, match=match):
        _eigen.blocked_cholesky_lower_inplace(bad)


def test_solve_refuses_another_dtype():
    F = np.asfortranarray(np.linalg.cholesky(_spd(5, np.float64)))
    with pytest.raises(ValueError, match="B must be a Fortran-ordered float64"):
        _eigen.blocked_cholesky_solve(F, np.zeros((5, 2), dtype=np.float32, order="F"))
