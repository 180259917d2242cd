"""The one tolerance table of the test suite, and the functions that use it.

Every numeric comparison in ``tests/`` takes its tolerance from ``TOL``,
keyed by ``(dtype, kind)``.  Each entry says why it is as large as it is.
"""

import numpy as np

EPS64 = np.finfo(np.float64).eps

#: (rtol, atol) per (dtype, check kind).
TOL = {
    # Same quantity computed by two exact routes (different summation order):
    # error is a small multiple of eps times the condition of the sum.
    (np.float64, "same_math"): (1e-12, 1e-14),
    # Kernel against its NumPy reference: same formula, possibly different
    # BLAS blocking / summation order.
    (np.float64, "kernel_vs_reference"): (1e-12, 1e-13),
    # Closed-form NTK against explicit Jacobian products.
    (np.float64, "analytic_jacobian"): (1e-10, 1e-12),
    # Central finite differences with step h ~ eps^(1/3): truncation O(h^2)
    # and rounding O(eps/h) both ~ eps^(2/3) ~ 4e-11, times the third
    # derivative scale; 1e-6 leaves room for curvature of activations.
    (np.float64, "finite_difference"): (1e-6, 1e-8),
    # Eigen-pair residual relative to ||A||: backward stable solvers give
    # O(n eps ||A||); the factor is applied by residual_tol(n).
    (np.float64, "eigen_residual"): (None, None),
    # High-precision quadrature / mpmath reference values.
    (np.float64, "mpmath"): (1e-12, 1e-12),
    # Iterative eigensolver at its default tol of 1e-8 relative.
    (np.float64, "iterative_eigen"): (1e-7, 0.0),
    # Monte-Carlo estimates: statistical, scaled by 1/sqrt(samples) at call.
    (np.float64, "monte_carlo"): (None, None),
    (np.float32, "same_math"): (1e-5, 1e-6),
}


def tol(kind, dtype=np.float64):
    """Return ``dict(rtol=..., atol=...)`` for ``kind`` and ``dtype``."""
    rtol, atol = TOL[(np.dtype(dtype).type, kind)]
    if rtol is None:
        raise KeyError(f"tolerance {kind!r} is scaled; use its own function")
    return dict(rtol=rtol, atol=atol)


def residual_tol(n, scale, factor=10.0):
    """Residual bound ``factor * n * eps * scale`` for a backward-stable eigensolver."""
    return factor * n * EPS64 * scale


def monte_carlo_tol(samples, scale=1.0, sigmas=6.0):
    """Statistical tolerance ``sigmas * scale / sqrt(samples)`` (fixed seeds)."""
    return sigmas * scale / np.sqrt(samples)


def assert_eigenpair(A, w, v, n_eps_factor=10.0):
    """Assert ``||A v - w v|| <= factor * n * eps * ||A||_2`` for unit ``v``."""
    A = np.asarray(A)
    v = np.asarray(v) / np.linalg.norm(v)
    res = np.linalg.norm(A @ v - w * v)
    bound = residual_tol(A.shape[0], np.linalg.norm(A, 2), n_eps_factor)
    assert res <= bound, f"eigen residual {res:.3e} > {bound:.3e}"


# Maximum of |phi'| or |phi''| over a uniform grid of spacing 1e-4 against the
# exact sup: near an interior maximizer the grid misses it by at most
# |f''| (5e-5)^2 / 2 ~ 1e-9 |f''|, and where the sup is only approached at
# infinity (softplus phi' -> 1) the grid end x = 30 is within e^-30 ~ 1e-13.
# 1e-6 relative leaves ample room.
TOL[(np.float64, "grid_max")] = (1e-6, 0.0)

# Two numerical routes to the same infinite-width kernel (closed form,
# Mehler series, tensor Gauss-Hermite quadrature).  In the regimes the tests
# use (quadrature scale omega1 |x| <= 0.5 at 64 nodes or <= 1 at 200 nodes,
# smooth activations or |rho| <= 0.9 for the series) the measured
# differences are 1e-16 to 1e-14; 1e-10 leaves room
# for platform libm differences.
TOL[(np.float64, "kernel_routes")] = (1e-10, 1e-12)

# A warm-started tracker must reproduce a fresh dense solve to 1e-8
# relative; the tracker stops at tol/4 (Kato-Temple estimate), and a
# dense solve of an NTK with condition 1e3-1e4 is itself accurate to
# n eps cond ~ 1e-10 relative, so 1e-8 is reachable and still a real check.
TOL[(np.float64, "tracking")] = (1e-8, 0.0)
# Tightness of a certified lower bound on lambda_min of a well-conditioned
# matrix: the a-priori Cholesky allowance is
# sum_i gamma_{i+1} k_ii ~ n^2 u max k_ii / 2, i.e. ~1e-13 relative for
# n <= 500 and cond <= 1e3; 1e-6 relative leaves room for the shift search.
TOL[(np.float64, "certified_tightness")] = (1e-6, 0.0)

# Slope of a log-log fit of grid thresholds against n (synthetic power law,
# noise 5% per seed).  Thresholds are snapped up to a grid of ratio 2^(1/8), so
# each log-threshold is off by at most log(2)/8 = 0.087; over a log-range of
# log(512/16) = 3.47 this moves the slope by at most 2 * 0.087 / 3.47 = 0.05,
# and the seed noise adds ~0.01.  0.1 absolute catches a wrong exponent (the
# alternatives of interest differ by 0.5) without flaking on grid effects.
TOL[(np.float64, "exponent_fit")] = (0.0, 0.1)

# Quantities tracked during training by the package's restarted Lanczos at
# tol 1e-6 (top Hessian eigenvalue, laziness ||K_t - K_0||/||K_0||, Jacobian
# secant), against dense references.  Acceptance uses the Kato-Temple estimate
# rho^2/gap with the Ritz gap standing in for the true gap, which can be too
# optimistic by up to ~10x (a 1e-4 run let a 1.4e-4 error through), so the
# comparison allows 10 * tol.
TOL[(np.float64, "tracked_lanczos")] = (1e-5, 1e-12)

# A peak-memory estimate against tracemalloc's measured peak.  The estimates
# count the array buffers (n^2, n d1, tile d1, tile^2 numbers); tracemalloc
# also sees Python objects, slices, tuples and length-d1 auxiliary vectors, a
# few kilobytes in all (measured: 3 KB over an exact estimate of 17 MB).
# 1% plus 256 KiB covers that, and is far below the 2 tile d1 numbers
# (12-17% at the sizes the tests use) that a stale reference would add.
TOL[(np.float64, "memory_estimate")] = (0.01, 2.0 ** 18)

# An activation value (phi, phi', phi'') at one point against mpmath at 700
# digits (naive formulas; the digits absorb every cancellation near 0).  The
# kernels are compositions of <= 6 correctly rounded operations and libm calls
# (exp, expm1, log1p, tanh, erf, erfc, each within ~1 ulp); measured worst
# error 8.7e-16 relative (GELU at -3, through erfc).  1e-14 (~45 ulp) leaves
# room for another libm.  atol is the smallest normal float64: below it values
# are subnormal and carry no relative precision.
TOL[(np.float64, "activation_pointwise")] = (1e-14, float(np.finfo(np.float64).tiny))


def ntk_psd_floor(d0, d1, n_rows, trace, norm2, max_s=0.0, max_xx=0.0, scale=1.0):
    """How far below 0 ``lambda_min(K / scale)`` of a computed NTK may go from rounding alone.

    ``trace`` and ``norm2`` are those of ``K / scale`` (scaled so that they
    cannot overflow); ``max_s`` and ``max_xx`` are ``max |S|`` and ``max |XX|``
    of the unscaled factors (for the underflow term).

    The exact NTK ``S o XX + KV`` is PSD (Schur product of Gram matrices).
    Each Gram factor ``F = B B^T`` with inner dimension ``k`` is computed
    with ``|dF_ab| <= gamma_k |B_a| |B_b| <= gamma_k sqrt(F_aa F_bb)``
    (``gamma_k = k u / (1 - k u)``, ``u = eps / 2``); the Hadamard product
    and the sum add three roundings and the bias terms two more, so
    ``|dK_ab| <= (d0 + d1 + 6) u sqrt(K_aa K_bb)`` to first order and
    ``||dK||_2 <= ||dK||_F <= (d0 + d1 + 6) u tr(K)``.  LAPACK's symmetric
    eigensolver adds a backward error of ``p(N) u ||K||_2``; ``p(N) = N``
    (``N`` = rows) is the usual bound for Householder tridiagonalization
    with QR.  Gradual underflow adds at most ``2^-1074`` per operation,
    amplified by the other Hadamard factor: ``N (d1 + 2) 2^-1074 (1 +
    max|XX|) + N (d0 + 2) 2^-1074 (1 + max|S|)``.  With ``tr(K) <= N
    ||K||_2`` this is ``lambda_min >= -c N eps ||K||_2`` with
    ``c = (d0 + d1 + 7) / 2`` (plus the underflow term).  A factor 2 covers
    the first-order truncation.
    """
    u = EPS64 / 2.0
    tiny = 2.0 ** -1074
    rounding = (d0 + d1 + 6) * u * trace + n_rows * u * norm2
    underflow = (n_rows * (d1 + 2) * tiny) * (1.0 + max_xx) / scale \
        + (n_rows * (d0 + 2) * tiny) * (1.0 + max_s) / scale
    return 2.0 * (rounding + underflow)

# float32 NTK (ntk_gram / ntk_gram_upper with dtype=np.float32) against the
# float64 one, as max |K32 - K64| / max |K64|.  Rounding X, W, b1 to float32
# (1 u each), the preactivation GEMM (gamma_d0 |x||w|, which moves phi by
# |phi'| times that), the activation (a few ulp of float32 libm), rounding
# the features (1 u), the Gram SYRK (gamma_d1 ~ d1 u relative to
# sqrt(F_aa F_bb) <= max F) and the combination (2 u): first order
# (d0 + d1 + 10) u32 relative to max |K|, with u32 = 2^-24; a factor 2 covers
# the first-order truncation and the phi' term.  Measured at d0 = 4,
# d1 = 60 over every builtin activation: at most 3.7e-7 (6 u32), so random
# rounding is far below the bound; a float16 step (u = 4.9e-4) would fail it.
TOL[(np.float32, "ntk_vs_float64")] = (None, None)
EPS32 = float(np.finfo(np.float32).eps)


def ntk_float32_tol(d0, d1):
    """``2 (d0 + d1 + 10) u32``: max |K32 - K64| / max |K64| allowed (see the entry above)."""
    return 2.0 * (d0 + d1 + 10) * EPS32 / 2.0


# A piece of an elementary function evaluated by its own series (GELU's
# Phi and pdf on the central interval) against mpmath, in units in the last
# place of the exact value.  Each series' truncation is below 1e-21 and its
# terms are rounded once; Horner on the alternating series and the final sum
# 1/2 + x P add at most ~2 roundings, the measured worst over 40,000 points is
# 2 ulp, which is also libm's worst on the same points (erfc and exp through
# the arguments -x/sqrt(2) and -x^2/2).  The entry is (max ulp, unused).
TOL[(np.float64, "series_ulp")] = (2.0, None)
