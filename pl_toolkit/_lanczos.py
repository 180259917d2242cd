"""Thick-restart Lanczos for an extreme eigenpair of a symmetric operator.

Private module.  It serves :func:`pl_toolkit.lambda_min`,
:func:`pl_toolkit.lambda_max` and :class:`pl_toolkit.LambdaMinTracker`
(smallest or largest eigenvalue, tight tolerance, large basis, measured
residual) as well as :func:`pl_toolkit.hessian_top_eigenvalue` and the
trainer's per-step tracking (largest eigenvalue or largest in modulus,
loose tolerance, small basis, warm starts, a convergence check after every
product).

The method is the thick-restart Lanczos method of Wu and Simon (SIAM J.
Matrix Anal. Appl. 22, 2000), in its Krylov-Schur form: the basis is kept
fully orthogonal (classical Gram-Schmidt applied twice, so every
orthogonalisation is two BLAS-2 products), the projected matrix is the
explicit Rayleigh quotient ``V.T @ A @ V``, and at a restart the ``keep``
wanted Ritz vectors are retained (one BLAS-3 product).  Full
reorthogonalisation costs ``O(n m)`` per step, which is negligible next to
a matrix-vector product of an NTK operator (``O(n d0 d1)``) or a Hessian
(``O(n d0 d1)``).  Keeping one Ritz vector is the explicit restart from the
current Ritz vector, minus the product it would spend on that vector.

Scale.  The iteration works on ``A / 2**e`` with ``2**e`` the size of the
largest product seen (set by the first non-zero product and raised when a
product outgrows it by ``2**32``): multiplying by a power of two is exact,
so the Krylov space is that of ``A``, while norms, Ritz values, ``rho**2``
and the projected eigenproblems stay near 1 at any scale of ``A`` (a norm
of a vector of entries ``1e-200`` or ``1e200`` would otherwise underflow to
0 or overflow to inf and pass for an invariant subspace).  Norms are taken
with a scaled sum of squares (:func:`safe_norm`).

Rounding floor.  ``||A||`` is estimated from below by the largest product
norm ``||A v_j||`` and Ritz value seen (Lanczos finds the top of the
spectrum within a few products).  The floor of a measured eigenpair is

``floor = (2 c + 1.5 sqrt(n) + 2) eps ||A||``,

where ``c eps ||A|| ||x||`` bounds the error of one product ``A x``
(``product_rounding = c``, default ``sqrt(n)``: the probabilistic
rounding-error bound of an inner product of length ``n``, ``~ sqrt(n) u
|a|^T |x|`` (Higham and Mary, SIAM J. Sci. Comput. 41, 2019), with ``u =
eps / 2`` and ``|| |A| |x| ||`` taken as ``2 ||A||``).  The value is the
Rayleigh quotient ``y^T fl(A y)`` of a unit ``y``: the product error enters
it once (``c``) and the measured residual once (``c``), the dot product of
length ``n`` adds ``sqrt(n) eps ||A||``, the normalisation of ``y``
``0.5 sqrt(n) eps |value|`` and the subtraction ``fl(A y - value y)``
``2 u ||A||``.  With ``rho_c`` the computed residual norm, some eigenvalue
of ``A`` lies within ``rho_c + floor`` of the value (Weyl / Krylov-
Bogoliubov: ``min_i |lambda_i - value| <= ||A y - value y||``).  That is
the returned ``bound``: a bound on the distance to the *nearest*
eigenvalue, not necessarily the wanted extreme one (a Krylov space can miss
an eigenvalue its start vector barely contains), and only as good as the
product-error model and the ``||A||`` estimate.

Convergence test for the wanted Ritz pair ``(theta, y)`` with residual
norm ``rho = ||A y - theta y||`` (exact in exact arithmetic: ``beta *
|last component of the Ritz vector|``) and ``gap`` the distance from
``theta`` to the nearest other Ritz value:

* some eigenvalue lies in ``[theta - rho, theta + rho]`` (Weyl/Bauer-Fike);
* if the nearest other Ritz value is a fair estimate of the nearest other
  eigenvalue, the Kato-Temple inequality gives ``|theta - lambda| <=
  rho**2 / gap`` -- an *estimate* (``estimate`` in the result): the Ritz
  gap over-estimates the true gap while an eigenvalue near ``theta`` is
  unresolved.

Default test: accept when ``min(rho, rho**2 / gap) <= target`` (the
Kato-Temple term only when ``gap > rho``) and ``rho <= max(sqrt(tol)
|theta|, target)``, with ``target = max(tol |theta|, floor)``: the Ritz gap
over-estimates the true gap while an eigenvalue below ``theta`` is still
unresolved.  ``guarded=True`` (the Hessian path) trusts the Kato-Temple
estimate only once the Ritz vector is accurate, ``rho <= sqrt(tol)
|theta|``, and then with a safety factor of 10: accept when ``rho <=
target``, or ``rho <= sqrt(tol) |theta|`` and ``rho**2 / gap <= tol
|theta| / 10``.  A single Ritz value (the first product of a run) gives no
gap estimate: the default test then needs ``rho <= target``, while the
guarded test accepts ``rho <= sqrt(tol) |theta|`` (a warm start from an
accurate vector then costs one product).

Status.  ``"tolerance"`` (``converged=True``): the test passed with ``tol
|theta| >= floor``.  ``"rounding"``: ``tol |theta|`` is below the rounding
floor -- the conditioning makes the relative tolerance unreachable -- and
the test passed at the floor; the value is as accurate as floating point
allows (``bound``), but ``converged`` is False.  ``"maxiter"``: stopped by
the product budget.

Breakdown.  ``beta <= 64 eps ||A|| sqrt(j)`` (on the scaled operator) means
the Krylov space is invariant up to rounding: its Ritz values are
eigenvalues of ``A + E``, ``||E|| <= beta``.  If the wanted pair then
passes the test the run stops; otherwise, and whenever ``v0`` was given
(a start vector of the caller may lie in an invariant subspace that misses
the wanted end), the basis continues with a random vector orthogonal to
it, so the next products explore the complement.  A basis of dimension
``n`` is accepted.

With ``final_residual=True`` the residual is recomputed explicitly at the
end (one extra product) and the value is the Rayleigh quotient of the
returned vector; otherwise the value is the Ritz value and the residual
the Lanczos estimate ``rho``.
"""

import math

import numpy as np
import scipy.linalg as sla

_EPS = np.finfo(np.float64).eps
_ETA = 2.0 ** -1074           # smallest subnormal: absolute rounding of underflowing products
_WHICH = ("SA", "LA", "LM")
#: The scaled operator is re-scaled when a product outgrows the current scale by this factor.
_RESCALE = 2.0 ** 32
_STATUSES = ("tolerance", "rounding", "maxiter")


def ldexp(x, e):
    """``x * 2**e`` as a float, ``+-inf`` on overflow (``math.ldexp`` raises instead)."""
    try:
        return math.ldexp(float(x), int(e))
    except OverflowError:
        return math.copysign(math.inf, x)


def safe_norm(x):
    """Euclidean norm of a float64 vector without overflow or underflow.

    ``sqrt(x @ x)`` overflows for entries above ``~1e154`` and underflows
    to 0 below ``~1e-162``; outside ``[2**-400, 2**400]`` the vector is
    scaled by a power of two (exact) first.

    Parameters
    ----------
    x : ndarray
        Vector.

    Returns
    -------
    float
        ``||x||_2`` (``inf`` or ``nan`` if ``x`` has such entries).

    Examples
    --------
    >>> import numpy as np
    >>> from pl_toolkit._lanczos import safe_norm
    >>> x = np.array([3.0, 4.0])
    >>> big, tiny = 2.0 ** 700, 2.0 ** -700
    >>> safe_norm(x * big) == 5.0 * big, safe_norm(x * tiny) == 5.0 * tiny
    (True, True)
    >>> float(np.sqrt(x * 2.0 ** -700 @ (x * 2.0 ** -700)))      # the plain formula underflows
    0.0
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if x.size == 0:
        return 0.0
    s = float(np.max(np.abs(x)))
    if not (s > 0.0) or not math.isfinite(s):
        return s
    if 2.0 ** -400 < s < 2.0 ** 400:
        return float(np.sqrt(x @ x))
    e = math.frexp(s)[1]
    y = np.ldexp(x, -e)
    return math.ldexp(float(np.sqrt(y @ y)), e)


def rounding_floor(n, anorm, value=0.0, product_rounding=None):
    """Rounding floor of a measured Rayleigh quotient (module docstring).

    ``(2 c + 1.5 sqrt(n) + 2) eps max(||A||, |value|)``, ``c =
    product_rounding`` (default ``sqrt(n)``).  Callers working in user
    units add ``n * 2**-1074`` for products that underflow.

    Parameters
    ----------
    n : int
        Dimension.
    anorm : float
        Estimate of ``||A||_2``.
    value : float, default 0.0
        The eigenvalue estimate (enters through the normalisation of the
        vector; ``|value| <= ||A||``).
    product_rounding : float, optional
        ``c`` with ``||fl(A x) - A x|| <= c eps ||A|| ||x||``.

    Returns
    -------
    float
        The floor.

    Examples
    --------
    >>> from pl_toolkit._lanczos import rounding_floor
    >>> bool(rounding_floor(100, 1.0) == (2 * 10 + 1.5 * 10 + 2) * 2.0 ** -52)
    True
    """
    root = math.sqrt(n)
    c = root if product_rounding is None else float(product_rounding)
    a = max(float(anorm), abs(float(value)))
    return (2.0 * c + 1.5 * root + 2.0) * _EPS * a


def _orthogonalize(V, j, w):
    """Orthogonalise ``w`` against ``V[:, :j]`` twice; return (w, h)."""
    Vj = V[:, :j]
    h = Vj.T @ w
    w = w - Vj @ h
    h2 = Vj.T @ w
    w = w - Vj @ h2
    return w, h + h2


def _random_start(n, rng):
    v = rng.standard_normal(n)
    return v / np.linalg.norm(v)


def _random_orthogonal(V, j, rng):
    """A unit random vector orthogonal to ``V[:, :j]`` (None if none is found)."""
    for _ in range(3):
        r = _random_start(V.shape[0], rng)
        r, _ = _orthogonalize(V, j, r)
        nr = safe_norm(r)
        if nr > 0.5:
            return r / nr
    return None


def _by_modulus(theta_all, Y):
    """Reorder Ritz pairs by decreasing ``|theta|`` (stable: ties keep order)."""
    order = np.argsort(-np.abs(theta_all), kind="stable")
    return theta_all[order], Y[:, order]


def _ritz_check(S, m, tridiagonal, modulus):
    """Wanted Ritz pair first, then the competitors; ``S[:m, :m]`` is ``V^T A V``.

    Smallest end (``modulus=False``): the two smallest Ritz pairs, by an
    ``O(m)`` tridiagonal subset solve in the first cycle (``T`` is the
    Lanczos tridiagonal there; the other entries are rounding noise) and a
    dense subset solve after a restart.  ``modulus=True``: all Ritz pairs,
    ordered by decreasing modulus (meant for small bases).
    """
    top = m - 1 if modulus else min(1, m - 1)
    if tridiagonal and m > 2:
        theta_all, Y = sla.eigh_tridiagonal(
            np.diagonal(S)[:m].copy(), S[np.arange(m - 1), np.arange(1, m)].copy(),
            select="i", select_range=(0, top), check_finite=False)
    else:
        T = 0.5 * (S[:m, :m] + S[:m, :m].T)
        theta_all, Y = sla.eigh(T, subset_by_index=[0, top], driver="evx", check_finite=False)
    if modulus:
        theta_all, Y = _by_modulus(theta_all, Y)
    return theta_all, Y


def _kato_temple(rho, gap):
    return rho if not (gap > rho) else min(rho, rho * rho / gap)


def thick_restart_lanczos(matvec, n, *, which="SA", tol=1e-8, v0=None, maxiter=None,
                          ncv=None, keep=None, check=10, seed=0, rng=None, guarded=False,
                          final_residual=True, callback=None, product_rounding=None):
    """Extreme eigenpair of a symmetric operator by thick-restart Lanczos.

    Parameters
    ----------
    matvec : callable
        ``matvec(x)`` returns ``A @ x`` for a 1-D float64 array ``x``.
    n : int
        Dimension.
    which : {"SA", "LA", "LM"}
        Smallest or largest algebraic eigenvalue, or largest in modulus
        (``"LM"`` solves the whole projected problem at every check: meant
        for small ``ncv``).
    tol : float
        Relative tolerance on the eigenvalue (see module docstring).
    v0 : ndarray, optional
        Starting vector (e.g. the previous eigenvector when tracking); a
        zero or non-finite one is replaced by a random start.
    maxiter : int, optional
        Maximum number of matrix-vector products in the iteration (default
        ``max(20 n, 1000)``); ``final_residual`` adds one.
    ncv : int, optional
        Basis size (default ``min(n, 160)``).
    keep : int, optional
        Ritz vectors kept at a restart (default ``ncv // 2``).
    check : int
        Number of expansion steps between two convergence checks (``1``
        checks after every product, which pays off with warm starts).
    seed : int
        Seed of the random start vector when ``v0`` is None.
    rng : numpy.random.Generator, optional
        Generator for the random start vector instead of ``seed``; it is
        drawn from only when a random vector is needed.
    guarded : bool
        Use the guarded Kato-Temple test (module docstring).
    final_residual : bool
        Recompute the residual of the returned vector with one more product
        and return its Rayleigh quotient; if False, return the Ritz value
        and the Lanczos residual estimate.
    callback : callable, optional
        Called as ``callback(matvecs, theta, estimate)`` after every Rayleigh-Ritz step.
    product_rounding : float, optional
        ``c`` with ``||fl(A x) - A x|| <= c eps ||A|| ||x||`` (default
        ``sqrt(n)``); sets the rounding floor (module docstring).

    Returns
    -------
    dict
        ``value, vector, residual, matvecs, converged, status, bound,
        estimate, floor, anorm``: ``bound`` bounds the distance from
        ``value`` to the nearest eigenvalue (``residual + floor``),
        ``estimate`` is the Kato-Temple estimate with the Ritz gap (at
        least ``floor``), ``status`` one of ``"tolerance"``,
        ``"rounding"``, ``"maxiter"`` and ``converged`` is ``status ==
        "tolerance"``.
    """
    if which not in _WHICH:
        raise ValueError(f"which must be one of {_WHICH}, got {which!r}")
    sign = -1.0 if which == "LA" else 1.0
    modulus = which == "LM"
    if maxiter is None:
        maxiter = max(20 * n, 1000)
    if ncv is None:
        ncv = min(n, 160)
    ncv = int(max(2, min(ncv, n)))
    if keep is None:
        keep = ncv // 2
    keep = int(max(1, min(keep, ncv - 1)))
    check = int(max(1, check))
    if rng is None:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
    sqrt_tol = np.sqrt(tol)

    def product(x):
        y = np.asarray(matvec(x), dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(y)):
            raise FloatingPointError("the operator returned NaN or Inf")
        return y

    V = np.empty((n, ncv + 1), order="F")
    S = np.zeros((ncv, ncv))
    given = False
    if v0 is None:
        v = _random_start(n, rng)
    else:
        v = np.array(v0, dtype=np.float64).reshape(-1)
        nv = safe_norm(v)
        if not math.isfinite(nv) or nv == 0:
            v = _random_start(n, rng)
        else:
            v = v / nv
            given = True
    V[:, 0] = v
    deflate_pending = given        # a caller's start vector may span an invariant subspace
    ex = 0                # the iteration works on A / 2**ex
    k = 0                 # number of retained Ritz vectors in V[:, :k]
    matvecs = 0
    theta = np.nan
    rho = np.inf
    gap = np.inf
    y_vec = v
    estimate = np.inf
    anorm = 0.0           # estimate of ||A|| / 2**ex
    status = "maxiter"
    tridiagonal = True    # the first cycle's projected matrix is tridiagonal
    while True:
        # ---- expand the basis from column k to ncv, Rayleigh-Ritz every
        # `check` steps (cheap: an m x m eigenproblem) ----------------------
        j = k
        beta = 0.0
        done = False
        force_check = False
        while True:
            raw = product(V[:, j])
            matvecs += 1
            nraw = safe_norm(raw)
            if nraw > 0.0 and (anorm == 0.0 or math.ldexp(nraw, -ex) > _RESCALE * anorm):
                # (re)set the scale to the largest product seen; exact rescaling
                new_ex = math.frexp(nraw)[1]
                f = math.ldexp(1.0, ex - new_ex)
                S *= f
                anorm *= f
                ex = new_ex
            w = sign * np.ldexp(raw, -ex)
            w, h = _orthogonalize(V, j + 1, w)
            S[: j + 1, j] = h
            S[j, : j + 1] = h
            beta = safe_norm(w)
            anorm = max(anorm, math.ldexp(nraw, -ex), float(np.max(np.abs(h))), beta)
            j += 1
            invariant = beta <= 64 * _EPS * anorm * np.sqrt(j)
            if not invariant:
                V[:, j] = w / beta
            full = j >= ncv or invariant or matvecs >= maxiter
            if not (full or force_check or (j - k) % check == 0):
                continue
            force_check = False
            m = j
            theta_all, Y = _ritz_check(S, m, tridiagonal and k == 0, modulus)
            theta = float(theta_all[0])
            rho = abs(beta * float(Y[m - 1, 0]))
            if len(theta_all) > 1:
                gap = float(np.min(np.abs(theta_all[1:] - theta)))
                estimate = _kato_temple(rho, gap)
            else:
                gap, estimate = np.inf, rho   # one Ritz value: no gap estimate
            floor = rounding_floor(n, anorm, theta, product_rounding)
            attainable = tol * abs(theta) >= floor
            target = max(tol * abs(theta), floor)
            if guarded:
                ok = rho <= target or (rho <= sqrt_tol * abs(theta) and gap > 0
                                       and rho * rho / gap <= 0.1 * tol * abs(theta))
            else:
                # Kato-Temple with the Ritz gap is trusted only once the Ritz
                # vector is accurate (rho <= sqrt(tol) |theta|): an unresolved
                # eigenvalue below theta makes the Ritz gap far too large
                # (e.g. theta = 2.05 between eigenvalues 1 and 2 and the next
                # Ritz value at 4e6 gave rho^2 / gap = 8e-7 with rho = 1.7).
                ok = estimate <= target and rho <= max(sqrt_tol * abs(theta), target)
            if callback is not None:
                callback(matvecs, sign * ldexp(theta, ex), ldexp(estimate, ex))
            if invariant and m < n and (deflate_pending or not ok) and matvecs < maxiter:
                # continue in the orthogonal complement of the invariant subspace
                deflate_pending = False
                r = _random_orthogonal(V, j, rng)
                if r is not None:
                    V[:, j] = r
                    beta = 0.0
                    tridiagonal = False
                    if j < ncv:
                        force_check = True
                        continue
                    break                      # restart with the new vector appended
            if ok or invariant or m == n:
                status = "tolerance" if attainable else "rounding"
                done = True
                break
            if matvecs >= maxiter:
                status = "maxiter"
                done = True
                break
            if full:
                break
        if done:
            y_vec = V[:, :m] @ Y[:, 0]
            break
        # ---- thick restart: keep the `keep` wanted Ritz vectors ------------
        T = 0.5 * (S[:m, :m] + S[:m, :m].T)
        theta_all, Y = sla.eigh(T, check_finite=False)
        anorm = max(anorm, float(np.max(np.abs(theta_all))))
        if modulus:
            theta_all, Y = _by_modulus(theta_all, Y)
        kk = min(keep, m - 1)
        Vk = V[:, :m] @ Y[:, :kk]
        V[:, :kk] = Vk
        V[:, kk] = V[:, m]
        S[:] = 0.0
        S[np.arange(kk), np.arange(kk)] = theta_all[:kk]
        coupling = beta * Y[m - 1, :kk]
        S[kk, :kk] = coupling
        S[:kk, kk] = coupling
        # the next expansion recomputes column kk (its diagonal and coupling)
        k = kk
    y_vec = y_vec / safe_norm(y_vec)
    if final_residual:
        Ay = sign * np.ldexp(product(y_vec), -ex)
        matvecs += 1
        value = float(y_vec @ Ay)
        residual = safe_norm(Ay - value * y_vec)
        anorm = max(anorm, safe_norm(Ay))
    else:
        value, residual = theta, float(rho)
    floor = rounding_floor(n, anorm, value, product_rounding)
    estimate = max(_kato_temple(residual, gap), floor)
    bound = residual + floor

    def user(x):
        return ldexp(x, ex)

    return dict(value=sign * user(value) + 0.0, vector=y_vec, residual=user(residual),
                matvecs=matvecs, converged=status == "tolerance", status=status,
                bound=user(bound) + n * _ETA, estimate=user(estimate) + n * _ETA,
                floor=user(floor) + n * _ETA, anorm=user(anorm))


# --------------------------------------------------------------------------
# Loose-tolerance settings: the Hessian and the trainer's per-step tracking
# --------------------------------------------------------------------------
#: Basis size of :func:`guarded_lanczos` (the Hessian and the trainer's tracking).
GUARDED_NCV = 40


def guarded_lanczos(matvec, n, *, which="LA", tol=1e-6, v0=None, maxiter=None, ncv=None, rng=None,
                    keep=None, nonfinite="matvec returned NaN or Inf in a Lanczos product"):
    """Extreme eigenpair of a symmetric operator: the Hessian path's Lanczos settings.

    ``which="LA"``: largest algebraic eigenvalue; ``"LM"``: largest in
    modulus.  :func:`thick_restart_lanczos` with a basis
    of ``ncv = 40`` vectors (half of them kept at a restart), a
    convergence check after every product (so a warm start pays off), the
    guarded stopping test, and no extra product at the end.  Stopping test,
    with ``rho = beta_k |s_k|`` the residual of the Ritz pair ``(theta,
    y)`` and ``gap`` the distance to the nearest other Ritz value: ``rho <=
    tol |theta|``, or ``rho <= sqrt(tol) |theta|`` and ``rho^2 / gap <= tol
    |theta| / 10`` (the Kato-Temple estimate of the eigenvalue error once
    the Ritz vector is accurate, with a safety factor because the Ritz gap
    over-estimates the true gap), or an invariant subspace (``beta_k`` at
    rounding level).  A NaN or Inf product raises ``ValueError(nonfinite)``.

    Returns ``(theta, y, rho, matvecs, converged)``.
    """
    ncv = int(min(n, ncv or GUARDED_NCV))
    if maxiter is None:
        maxiter = max(400, 10 * ncv)
    if rng is None:
        rng = np.random.default_rng(np.random.SeedSequence(0))
    try:
        out = thick_restart_lanczos(matvec, n, which=which, tol=tol, v0=v0, maxiter=maxiter,
                                    ncv=ncv, keep=keep, check=1, rng=rng, guarded=True,
                                    final_residual=False)
    except FloatingPointError:
        raise ValueError(nonfinite) from None
    return out["value"], out["vector"], out["residual"], out["matvecs"], out["converged"]
