"""Tests of the one Lanczos routine, ``pl_toolkit._lanczos.thick_restart_lanczos``.

It serves two callers with different settings: the spectrum functions
(``lambda_min``/``lambda_max``/``LambdaMinTracker``: checks every 10 steps,
Kato-Temple test, one extra product for a measured residual) and the
Hessian path (``pl_toolkit.hessian._lanczos``: a check after every product,
the guarded test, no extra product).  Independent routes: matrices of known
spectrum ``Q diag(lam) Q^T``, LAPACK ``eigh`` of the explicit matrix, and a
plain (never restarted) Lanczos written here with NumPy.
"""

import numpy as np
import pytest

from _tolerances import residual_tol, tol

from pl_toolkit import ShallowNet
from pl_toolkit._lanczos import thick_restart_lanczos
from pl_toolkit._lanczos import guarded_lanczos as hessian_lanczos
from pl_toolkit.hessian import hessian_operator

SPECTRUM = dict()                                              # lambda_min's settings
HESSIAN = dict(check=1, guarded=True, final_residual=False)   # the Hessian path's


def known_spectrum(rng, lam):
    n = len(lam)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * lam) @ Q.T
    return 0.5 * (A + A.T), Q


class Counted:
    def __init__(self, A):
        self.A, self.count = A, 0

    def __call__(self, x):
        self.count += 1
        return self.A @ x


def wanted(lam, which):
    if which == "SA":
        return lam.min()
    if which == "LA":
        return lam.max()
    return lam[np.argmax(np.abs(lam))]


# spectra with a clear wanted end; "LM" wants the most negative one
LAMBDAS = {"SA": np.concatenate([[0.05], np.linspace(0.2, 3.0, 149)]),
           "LA": np.concatenate([np.linspace(-1.0, 1.0, 149), [1.3]]),
           "LM": np.concatenate([[-2.5], np.linspace(-1.0, 2.0, 149)])}


@pytest.mark.parametrize("settings", [SPECTRUM, HESSIAN], ids=["spectrum", "hessian"])
@pytest.mark.parametrize("which", ["SA", "LA", "LM"])
@pytest.mark.parametrize("ncv", [10, 160])
def test_extreme_eigenpair_against_dense(rng, which, settings, ncv):
    # ncv = 10 on n = 150 forces thick restarts; ncv = 160 never restarts
    lam = LAMBDAS[which]
    A, Q = known_spectrum(rng, lam)
    mv = Counted(A)
    out = thick_restart_lanczos(mv, A.shape[0], which=which, tol=1e-10, ncv=ncv, **settings)
    assert out["converged"]
    assert out["matvecs"] == mv.count
    ref = wanted(lam, which)
    np.testing.assert_allclose(out["value"], ref, **tol("iterative_eigen"))
    y = out["vector"]
    np.testing.assert_allclose(np.linalg.norm(y), 1.0, **tol("same_math"))
    measured = np.linalg.norm(A @ y - out["value"] * y)
    # the reported residual is the measured one (spectrum) or the Lanczos
    # estimate beta |s_m| (Hessian), equal in exact arithmetic
    np.testing.assert_allclose(out["residual"], measured, rtol=0,
                               atol=residual_tol(A.shape[0], np.abs(lam).max()))
    # the guarded test accepts only Ritz vectors with rho <= sqrt(tol) |theta|
    assert measured <= 1e-5 * abs(ref)


def plain_lanczos_count(A, v0, tol_, guarded):
    """Products a never-restarted Lanczos needs until the stopping test first holds.

    Largest eigenvalue; the projected matrix is formed as ``Q^T A Q`` and
    solved by ``eigvalsh``/``eigh`` (no tridiagonal solver, no restarts).
    """
    n = A.shape[0]
    Q = np.zeros((n, 0))
    q = v0 / np.linalg.norm(v0)
    for m in range(1, n + 1):
        Q = np.column_stack([Q, q])
        AQ = A @ Q
        w = AQ[:, -1] - Q @ (Q.T @ AQ[:, -1])
        w -= Q @ (Q.T @ w)
        theta, S = np.linalg.eigh(Q.T @ AQ)
        th = theta[-1]
        rho = np.linalg.norm(AQ @ S[:, -1] - th * (Q @ S[:, -1]))
        gap = th - theta[-2] if m > 1 else np.inf
        if guarded:
            ok = rho <= tol_ * abs(th) or (rho <= np.sqrt(tol_) * abs(th)
                                           and rho * rho / gap <= 0.1 * tol_ * abs(th))
        else:
            ok = min(rho, rho * rho / gap if gap > rho else rho) <= tol_ * abs(th)
        if ok:
            return m, th
        q = w / np.linalg.norm(w)
    return n, th


@pytest.mark.parametrize("tol_", [1e-4, 1e-8])
def test_hessian_settings_stop_at_the_first_product_that_passes(rng, tol_):
    # A check after every product: the count is that of a plain Lanczos
    # checking its own Ritz pair after every step with the same test.
    lam = np.concatenate([np.linspace(0.0, 1.0, 79), [1.25]])
    A, _ = known_spectrum(rng, lam)
    v0 = rng.standard_normal(80)
    m, th = plain_lanczos_count(A, v0, tol_, guarded=True)
    assert m < 40                                  # no restart in either
    mv = Counted(A)
    theta, y, rho, matvecs, conv = hessian_lanczos(mv, 80, which="LA", tol=tol_, v0=v0)
    assert conv and matvecs == mv.count == m       # no extra product at the end
    np.testing.assert_allclose(theta, th, **tol("iterative_eigen"))


def test_restarts_keep_the_gap_information(rng):
    # A slow problem (relative gap ~ 1e-2) with a small basis: the thick
    # restart keeps the Ritz values, so the Kato-Temple test after a restart
    # uses a real gap and the answer meets the tolerance.
    lam = np.linspace(0.0, 1.0, 300)
    A, _ = known_spectrum(rng, lam)
    mv = Counted(A)
    theta, y, rho, matvecs, conv = hessian_lanczos(mv, 300, which="LA", tol=1e-8, ncv=20,
                                                   rng=np.random.default_rng(1))
    assert conv and matvecs > 20 and matvecs == mv.count
    np.testing.assert_allclose(theta, 1.0, rtol=1e-8)


def test_warm_start_from_an_eigenvector(rng):
    lam = LAMBDAS["LA"]
    A, Q = known_spectrum(rng, lam)
    cold = thick_restart_lanczos(A.__matmul__, 150, which="LA", tol=1e-8, **HESSIAN)
    warm = thick_restart_lanczos(A.__matmul__, 150, which="LA", tol=1e-8, v0=Q[:, -1],
                                 **HESSIAN)
    assert warm["converged"] and warm["matvecs"] <= 2 < cold["matvecs"]
    np.testing.assert_allclose(warm["value"], lam[-1], **tol("iterative_eigen"))


def test_start_vector_and_generator(rng):
    A, _ = known_spectrum(rng, LAMBDAS["SA"])
    gen = np.random.default_rng(np.random.SeedSequence(5))
    a = thick_restart_lanczos(A.__matmul__, 150, rng=gen)
    b = thick_restart_lanczos(A.__matmul__, 150, seed=5)
    # a generator is the same random start as its seed
    assert a["matvecs"] == b["matvecs"] and a["value"] == b["value"]
    # it is drawn from only when a random start is needed
    state = gen.bit_generator.state
    thick_restart_lanczos(A.__matmul__, 150, v0=np.ones(150), rng=gen)
    assert gen.bit_generator.state == state
    for bad in (np.zeros(150), np.full(150, np.nan)):
        out = thick_restart_lanczos(A.__matmul__, 150, v0=bad, rng=gen)
        assert out["converged"]
        assert gen.bit_generator.state != state
        state = gen.bit_generator.state


@pytest.mark.parametrize("which", ["SA", "LA"])
@pytest.mark.parametrize("settings", [SPECTRUM, HESSIAN], ids=["spectrum", "hessian"])
def test_invariant_subspace_stops(rng, which, settings):
    # rank 3 PSD: the Krylov space of any start has dimension <= 4, so the
    # Ritz values are exact after 4 products (the smallest is 0; a fifth
    # product may be needed when beta_4 is just above the rounding threshold)
    n = 50
    B = rng.standard_normal((n, 3))
    A = B @ B.T
    out = thick_restart_lanczos(A.__matmul__, n, which=which, tol=1e-12, **settings)
    extra = 1 if settings.get("final_residual", True) else 0
    # lambda_min = 0: no relative tolerance is attainable, the run stops at
    # the rounding floor ("rounding", converged False); the top is attained
    assert out["status"] == ("rounding" if which == "SA" else "tolerance")
    assert out["converged"] == (which == "LA") and out["matvecs"] <= 5 + extra
    w = np.linalg.eigvalsh(A)
    ref = w[0] if which == "SA" else w[-1]
    np.testing.assert_allclose(out["value"], ref, rtol=tol("iterative_eigen")["rtol"],
                               atol=residual_tol(n, w[-1]))
    assert abs(out["value"] - ref) <= out["bound"]


def test_hessian_lanczos_on_a_hessian_with_restarts(rng):
    # the trainer's "LM" on an actual (indefinite) Hessian, basis 8: restarts
    net = ShallowNet.init(4, 12, 1, activation="tanh", seed=2)
    X = rng.standard_normal((15, 4))
    Y = 3.0 * rng.standard_normal((15, 1))       # large residual: indefinite Hessian
    op = hessian_operator(net, X, Y)
    H = op @ np.eye(op.shape[0])
    w = np.linalg.eigvalsh(0.5 * (H + H.T))
    assert w[0] < 0 < w[-1]
    for which in ("LA", "LM"):
        theta, y, rho, mv, conv = hessian_lanczos(op._apply, op.shape[0], which=which,
                                                  tol=1e-10, ncv=8)
        assert conv and mv > 8
        np.testing.assert_allclose(theta, wanted(w, which), **tol("iterative_eigen"))


def test_single_ritz_value_is_no_gap_estimate(rng):
    # Kato-Temple needs a gap; with one Ritz value there is none, so the
    # default test must not accept the first product of a random start.
    A, _ = known_spectrum(rng, LAMBDAS["SA"])
    out = thick_restart_lanczos(A.__matmul__, 150, which="SA", tol=1e-8, check=1)
    assert out["converged"] and out["matvecs"] > 2
    np.testing.assert_allclose(out["value"], LAMBDAS["SA"][0], **tol("iterative_eigen"))


def test_bad_which():
    with pytest.raises(ValueError, match="^which"):
        thick_restart_lanczos(np.eye(3).__matmul__, 3, which="SM")


def test_nonfinite_product_raises():
    def mv(x):
        return np.full_like(x, np.nan)
    with pytest.raises(FloatingPointError):
        thick_restart_lanczos(mv, 5)
