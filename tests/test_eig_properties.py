"""Property tests: every eigenvalue result within its error bound, at any scale and conditioning.

Invariants, over random symmetric matrices of prescribed spectrum at scales
``1e-250 ... 1e250`` and condition numbers up to ``1e16`` (clustered
bottoms, exact zeros, indefinite and negative spectra, repeated values):

* a dense (LAPACK) result is within ``error_bound`` of the wanted extreme
  eigenvalue (backward stability);
* an iterative result (Lanczos, shift-invert, the Gram route of the
  singular values, the tracker's refinement) is within ``error_bound`` of
  the nearest eigenvalue -- for ``converged=True`` and every other result
  too -- and carries ``converged=False`` exactly when it warned with a
  ``ConvergenceWarning``;
* shift-invert refuses only matrices that are not safely positive definite;
* certified lower bounds (Cholesky and ball-arithmetic routes) are never
  above the true ``lambda_min`` and never non-finite.

Truth, independent of the code under test: rigorous python-flint enclosures
(200 bits) of the eigenvalues of the *stored* float64 matrix, or exact
spectra ``2**e H diag(w) H / n`` with ``H`` a Sylvester-Hadamard matrix (up
to exact sign flips and a permutation) and integer ``w``.  The closing
figures of a run (cases, results outside their bound, ``converged=False``
by reason, iterative results farther than their bound from the wanted
extreme -- a Krylov miss, which the bound does not exclude) are printed;
run the large version with ``pytest -m nightly -s tests/test_eig_properties.py``.
"""

import collections
import math
import warnings

import mpmath
import numpy as np
import pytest
from _tolerances import residual_tol
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import hadamard
from scipy.sparse.linalg import aslinearoperator

from pl_toolkit import (ConvergenceWarning, LambdaMinTracker, lambda_max, lambda_min,
                        lambda_min_certified, sigma_max, sigma_min)

flint = pytest.importorskip("flint")

KINDS = ("geometric", "clustered", "psd_zero", "indefinite", "negative", "uniform", "repeated")
FAST = 50            # examples per property in the default suite
NIGHTLY = 3000       # examples per property in the nightly run


# --------------------------------------------------------------------------
# Tallies: per method, the figures of the closing report
# --------------------------------------------------------------------------
class Tally:
    """Per method: cases, results checked within their bound, and how each stopped.

    A result is counted only after its checks passed (a failing check ends
    the run), so ``outside bound`` counts the cases that were recorded but
    neither checked, proved nor refused: 0 unless the bookkeeping is wrong.
    """

    def __init__(self):
        self.rows = collections.defaultdict(collections.Counter)

    def add(self, method, r, miss=False):
        row = self.rows[method]
        row["cases"] += 1
        row["within bound"] += 1
        row["converged" if r.converged else f"not converged ({r.reason})"] += 1
        if miss:
            row["extreme farther than bound"] += 1

    def proved(self, method):
        self.rows[method]["cases"] += 1
        self.rows[method]["proved below truth"] += 1

    def refusal(self, method):
        self.rows[method]["cases"] += 1
        self.rows[method]["refused (not positive definite)"] += 1

    def report(self, title):
        print(f"\n== {title} ==")
        shown = ("cases", "within bound", "proved below truth")
        for method, row in sorted(self.rows.items()):
            outside = row["cases"] - row["within bound"] - row["proved below truth"] \
                - row["refused (not positive definite)"]
            rest = ", ".join(f"{k} {v}" for k, v in sorted(row.items()) if k not in shown)
            checked = (f"proved below truth {row['proved below truth']}"
                       if row["proved below truth"] else f"within bound {row['within bound']}")
            print(f"  {method:28s} cases {row['cases']:5d}; {checked}; "
                  f"outside bound {outside}; {rest}")


# --------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------
def pow2_exponent(M):
    """``e`` with ``max|M|`` in ``[2**(e-1), 2**e)`` (0 for the zero matrix)."""
    m = float(np.max(np.abs(M))) if M.size else 0.0
    return math.frexp(m)[1] if m > 0 else 0


def flint_eigenvalues(A, prec=200):
    """Rigorous eigenvalue enclosures of the stored A: (sorted midpoints, largest radius, balls).

    The ball matrix is scaled to entries near 1 by an exact power of two
    (flint's ``eig`` is not scale invariant: at 200 bits its radii grow
    to 1e-16 relative at entries 1e105, and it fails to isolate at 1e150)
    and the enclosures are scaled back, exactly.
    """
    n = A.shape[0]
    e = pow2_exponent(A)
    old = flint.ctx.prec
    try:
        E = flint_eig(lambda: flint.arb_mat([[flint.arb(float(A[i, j])) for j in range(n)]
                                             for i in range(n)]) * (flint.arb(2) ** -e), prec)
        up = flint.arb(2) ** e
        balls = [z.real * up for z in E]
        mids = np.sort(np.array([float(b.mid()) for b in balls]))
        rad = max(float(z.real.rad() * up) + float(abs(z.imag.mid()) * up)
                  + float(z.imag.rad() * up) for z in E)
    finally:
        flint.ctx.prec = old
    return mids, rad, balls


def flint_eig(build, prec):
    """``build().eig(multiple=True)``, doubling the precision until the clusters isolate."""
    for p in (prec, 2 * prec, 4 * prec, 8 * prec):
        flint.ctx.prec = p
        try:
            return build().eig(multiple=True)
        except ValueError:
            continue
    raise AssertionError("truth: flint could not isolate the eigenvalues at 1600 bits")


def below_all(L, balls):
    """``L <= lambda_min`` proved: ``L`` is certainly below every eigenvalue enclosure."""
    return all(flint.arb(float(L)) <= b for b in balls)


def singular_value_truth(C, prec=200):
    """The ``min(p, q)`` singular values of the stored ``C`` and their uncertainty.

    Square roots of rigorous enclosures of the eigenvalues of the smaller
    Gram matrix, formed in ball arithmetic (exact at this precision, no
    float64 square of ``C``).  Where flint cannot isolate an exactly
    repeated eigenvalue, mpmath's SVD at 60 digits stands in (radius
    ``1e-50 sigma_max``).  The larger Gram matrix has the same eigenvalues
    plus ``|p - q|`` exact zeros.
    """
    p, q = C.shape
    e = pow2_exponent(C)                # C / 2**e in ball arithmetic (exact), as above
    old = flint.ctx.prec
    try:
        def build():
            M = flint.arb_mat([[flint.arb(float(C[i, j])) for j in range(q)] for i in range(p)])
            M = M * (flint.arb(2) ** -e)
            return M * M.transpose() if p <= q else M.transpose() * M
        try:
            E = flint_eig(build, prec)
        except AssertionError:
            E = None
        if E is not None:
            up = flint.arb(2) ** e
            svs = []
            for z in E:                     # sqrt of the enclosure [lo, hi], clipped at 0
                lo, hi = z.real.lower(), z.real.upper()
                s_lo = lo.sqrt() * up if lo > 0 else flint.arb(0)
                s_hi = hi.sqrt() * up if hi > 0 else flint.arb(0)
                svs.append((float((s_lo + s_hi) / 2), float((s_hi - s_lo) / 2)))
            return np.sort(np.array([m for m, _ in svs])), max(r for _, r in svs)
    finally:
        flint.ctx.prec = old
    with mpmath.workdps(60):
        sv = mpmath.svd_r(mpmath.matrix(C.tolist()), compute_uv=False)
        sv = np.sort(np.array([float(x) for x in sv]))
    return sv, 1e-50 * float(np.max(sv))


def gram_truth(sv, p, q, key):
    """Square roots of the eigenvalues of the Gram matrix ``key`` ("AtA" or "AAt")."""
    extra = (q - p) if key == "AtA" else (p - q)
    return np.sort(np.concatenate([sv, np.zeros(max(extra, 0))]))


def slack(ev, rad):
    """Uncertainty of a float truth: the enclosure radius plus two ulps of the largest value."""
    return rad + 2.0 * np.spacing(float(np.max(np.abs(ev)))) if len(ev) else rad


# --------------------------------------------------------------------------
# Matrices of prescribed spectrum
# --------------------------------------------------------------------------
def spectrum(rng, kind, n, log_cond):
    lo = 10.0 ** -log_cond

    def mags(k):
        return 10.0 ** rng.uniform(-log_cond, 0.0, k)

    if kind == "geometric":
        w = np.geomspace(1.0, lo, n) if n > 1 else np.ones(1)
    elif kind == "clustered":
        c = int(min(n, rng.integers(2, 5)))
        delta = 10.0 ** -rng.uniform(1.0, 14.0)
        w = np.concatenate([lo * (1.0 + delta * np.arange(c)), mags(n - c)])
    elif kind == "psd_zero":
        z = int(min(n, rng.integers(1, 4)))
        w = np.concatenate([np.zeros(z), mags(n - z)])
    elif kind == "indefinite":
        w = mags(n) * rng.choice([-1.0, 1.0], n)
    elif kind == "negative":
        w = -mags(n)
    elif kind == "uniform":
        w = rng.uniform(-1.0, 1.0, n) if rng.random() < 0.5 else rng.uniform(lo, 1.0, n)
    else:                                   # repeated: a few distinct values, exact multiplicities
        vals = mags(int(rng.integers(1, 4)))
        w = rng.choice(vals, n)
    return rng.permutation(w)


def random_orthogonal(rng, w):
    n = len(w)
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    A = (Q * w) @ Q.T
    return 0.5 * (A + A.T)


@st.composite
def symmetric_cases(draw, n_max=32):
    n = draw(st.integers(1, n_max))
    kind = draw(st.sampled_from(KINDS))
    log_cond = draw(st.floats(0.0, 16.0))
    log_scale = draw(st.floats(-250.0, 250.0))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    A = random_orthogonal(rng, spectrum(rng, kind, n, log_cond) * 10.0 ** log_scale)
    ev, rad, balls = flint_eigenvalues(A)
    return A, ev, slack(ev, rad), lambda L: below_all(L, balls)


@st.composite
def hadamard_cases(draw, log2n_max=8):
    """``2**e P S H diag(w) H S P^T / n``: every entry exact, spectrum exactly ``2**e w``."""
    k = draw(st.integers(0, log2n_max))
    n = 2 ** k
    kind = draw(st.sampled_from(KINDS))
    log_cond = draw(st.floats(0.0, 16.0))
    e = draw(st.integers(-830, 830))                       # 2**830 ~ 1e250
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    top = 2 ** 52 // n                                     # n max|w| < 2**53: H diag(w) H exact
    base = max(1, min(top // 2, int(top / 10.0 ** log_cond)))
    if kind == "clustered":
        c = min(n, int(rng.integers(2, 5)))
        w = np.concatenate([base + np.arange(c), rng.integers(base, top, n - c)])
    elif kind == "psd_zero":
        z = min(n, int(rng.integers(1, 4)))
        w = np.concatenate([np.zeros(z, dtype=np.int64), rng.integers(base, top, n - z)])
    elif kind in ("indefinite", "uniform"):
        w = rng.integers(-top, top, n)
        w[0] = base * rng.choice([-1, 1])
    elif kind == "negative":
        w = -rng.integers(base, top, n)
    elif kind == "repeated":
        w = rng.choice(rng.integers(base, top, 3), n)
    else:
        w = np.concatenate([[base], rng.integers(base, top, n - 1)])
    w = rng.permutation(w.astype(np.float64))
    H = hadamard(n).astype(np.float64)
    A = (H * w) @ H / n
    signs = rng.choice([-1.0, 1.0], n)
    perm = rng.permutation(n)
    A = (signs[:, None] * A * signs[None, :])[np.ix_(perm, perm)]
    A = np.ldexp(A, e)
    assert np.array_equal(A, A.T)
    ev = np.sort(np.ldexp(w, e))
    return A, ev, 0.0, lambda L: L <= ev[0]


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------
def run(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` recording warnings: (result, warned)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = fn(*args, **kwargs)
    others = [c for c in caught if c.category is not ConvergenceWarning]
    assert not others, [str(c.message) for c in others]
    return r, bool(caught)


def check_iterative(r, warned, ev, tslack, wanted):
    """Within the bound of the nearest eigenvalue; converged=False exactly when warned."""
    assert np.isfinite(r.value) and np.isfinite(r.error_bound) and r.error_bound >= 0
    assert r.converged == (r.reason == "tolerance")
    assert warned == (not r.converged), (r, warned)
    nearest = float(np.min(np.abs(ev - r.value)))
    assert nearest <= r.error_bound + tslack, (r, nearest, wanted)
    return abs(r.value - wanted) > r.error_bound + tslack        # a Krylov miss of the extreme


def check_direct(r, warned, wanted, tslack):
    assert r.converged and r.reason == "direct" and not warned
    assert np.isfinite(r.value) and np.isfinite(r.error_bound)
    assert abs(r.value - wanted) <= r.error_bound + tslack, (r, wanted)


def check_symmetric(A, ev, tslack, below, tally, certified_arb_max=24):
    n = A.shape[0]
    anorm = float(np.max(np.abs(ev))) if n else 0.0
    for name, fn, wanted in (("dense lambda_min", lambda_min, ev[0]),
                             ("dense lambda_max", lambda_max, ev[-1])):
        r, warned = run(fn, A, method="dense")
        check_direct(r, warned, wanted, tslack)
        tally.add(name, r)
    op = aslinearoperator(A)
    for name, fn, wanted in (("lanczos lambda_min", lambda_min, ev[0]),
                             ("lanczos lambda_max", lambda_max, ev[-1])):
        r, warned = run(fn, op)
        assert r.method == "lanczos"
        tally.add(name, r, miss=check_iterative(r, warned, ev, tslack, wanted))
    try:
        r, warned = run(lambda_min, A, method="shift-invert")
    except ValueError as exc:
        assert "not numerically positive definite" in str(exc)
        # refused only when lambda_min is not safely above the rounding level
        # (100 times the backward-error scale of a dense factorisation)
        assert ev[0] <= residual_tol(n, anorm, factor=100.0) + tslack, (ev[0], anorm)
        tally.refusal("shift-invert lambda_min")
    else:
        tally.add("shift-invert lambda_min", r, miss=check_iterative(r, warned, ev, tslack, ev[0]))
    # certified lower bounds: never above the truth (proved against the enclosures)
    L, warned = run(lambda_min_certified, A)
    assert math.isfinite(L) and below(L), (L, ev[0])
    tally.proved("certified (cholesky)")
    if n <= certified_arb_max:
        La, _ = run(lambda_min_certified, A, method="arb")
        assert math.isfinite(La) and below(La), (La, ev[0])
        tally.proved("certified (arb)")


# --------------------------------------------------------------------------
# singular values
# --------------------------------------------------------------------------
@st.composite
def rectangular_cases(draw, dim_max=24):
    p = draw(st.integers(1, dim_max))
    q = draw(st.integers(1, dim_max))
    kind = draw(st.sampled_from(("geometric", "clustered", "psd_zero", "uniform", "repeated")))
    log_cond = draw(st.floats(0.0, 16.0))
    log_scale = draw(st.floats(-250.0, 250.0))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    k = min(p, q)
    s = np.abs(spectrum(rng, kind, k, log_cond)) * 10.0 ** log_scale
    U, _ = np.linalg.qr(rng.standard_normal((p, k)))
    V, _ = np.linalg.qr(rng.standard_normal((q, k)))
    C = (U * s) @ V.T
    return C, singular_value_truth(C)


def check_rectangular(C, truth, tally):
    p, q = C.shape
    sv, rad = truth
    ts = slack(sv, rad)
    for name, fn, wanted in (("dense sigma_min (svd)", sigma_min, sv[0]),
                             ("dense sigma_max (svd)", sigma_max, sv[-1])):
        r, warned = run(fn, C)
        check_direct(r, warned, wanted, ts)
        tally.add(name, r)
    op = aslinearoperator(C)
    # the Gram operators used: sigma_min with p < q works on A A^T, all else on A^T A
    for name, fn, key, wanted in (("gram-lanczos sigma_min", sigma_min,
                                   "AAt" if p < q else "AtA", sv[0]),
                                  ("gram-lanczos sigma_max", sigma_max, "AtA", sv[-1])):
        gsv = gram_truth(sv, p, q, key)
        r, warned = run(fn, op)
        assert r.method == "gram-lanczos"
        miss = check_iterative(r, warned, gsv, ts, wanted)
        tally.add(name, r, miss=miss)


# --------------------------------------------------------------------------
# the tracker along a short trajectory
# --------------------------------------------------------------------------
@st.composite
def trajectories(draw, n_max=16, steps=3):
    n = draw(st.integers(2, n_max))
    kind = draw(st.sampled_from(KINDS))
    log_cond = draw(st.floats(0.0, 16.0))
    log_scale = draw(st.floats(-250.0, 250.0))
    log_step = draw(st.floats(-10.0, -1.0))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** log_scale
    A = random_orthogonal(rng, spectrum(rng, kind, n, log_cond) * scale)
    E = rng.standard_normal((n, n))
    E = (E + E.T) * (10.0 ** log_step * scale / (2 * math.sqrt(n)))
    mats = [A + t * E for t in range(steps)]
    return [(M, *flint_eigenvalues(M)[:2]) for M in mats]


def check_tracker(traj, tally):
    for method in ("dense", "lanczos", "shift-invert"):
        tr = LambdaMinTracker(method=method)
        for M, ev, rad in traj:
            ts = slack(ev, rad)
            r, warned = run(tr.update, M)
            name = f"tracker ({method})"
            if r.reason == "direct":
                check_direct(r, warned, ev[0], ts)
                tally.add(name, r)
            else:
                tally.add(name, r, miss=check_iterative(r, warned, ev, ts, ev[0]))


# --------------------------------------------------------------------------
# The properties: a fast variant in the default suite, the large one nightly
# --------------------------------------------------------------------------
def _settings(examples):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _symmetric(examples, title, n_max=32):
    tally = Tally()

    @_settings(examples)
    @given(case=symmetric_cases(n_max=n_max))
    def prop(case):
        check_symmetric(*case, tally)

    prop()
    tally.report(title)


def _hadamard(examples, title, log2n_max=8):
    tally = Tally()

    @_settings(examples)
    @given(case=hadamard_cases(log2n_max=log2n_max))
    def prop(case):
        check_symmetric(*case, tally, certified_arb_max=16)

    prop()
    tally.report(title)


def _rectangular(examples, title):
    tally = Tally()

    @_settings(examples)
    @given(case=rectangular_cases())
    def prop(case):
        check_rectangular(*case, tally)

    prop()
    tally.report(title)


def _tracker(examples, title):
    tally = Tally()

    @_settings(examples)
    @given(traj=trajectories())
    def prop(traj):
        check_tracker(traj, tally)

    prop()
    tally.report(title)


def test_symmetric_random_orthogonal():
    _symmetric(FAST, "random orthogonal Q diag(w) Q^T (fast)", n_max=16)


def test_symmetric_exact_hadamard():
    _hadamard(FAST // 2, "exact Hadamard spectra (fast)", log2n_max=6)


def test_singular_values():
    _rectangular(FAST, "singular values (fast)")


def test_tracker():
    _tracker(FAST // 2, "LambdaMinTracker (fast)")


@pytest.mark.nightly
def test_symmetric_random_orthogonal_nightly():
    _symmetric(NIGHTLY, "random orthogonal Q diag(w) Q^T")


@pytest.mark.nightly
def test_symmetric_exact_hadamard_nightly():
    _hadamard(NIGHTLY, "exact Hadamard spectra")


@pytest.mark.nightly
def test_singular_values_nightly():
    _rectangular(NIGHTLY, "singular values")


@pytest.mark.nightly
def test_tracker_nightly():
    _tracker(NIGHTLY, "LambdaMinTracker")
