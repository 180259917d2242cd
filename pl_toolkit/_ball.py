"""Rounding-error constants and ball-arithmetic eigenvalue enclosures for the certified bounds.

The declared internal API shared by :mod:`pl_toolkit.certified` (stored
matrices) and :mod:`pl_toolkit.ntk_certified` (the exact NTK): the float64
unit roundoff :data:`U`, :func:`gamma`, outward rounding
(:func:`round_down`), and :func:`arb_lambda_min`, which encloses the
smallest eigenvalue of a matrix built in ball arithmetic (python-flint).
"""

import math

import numpy as np

__all__ = ["U", "ETA", "SAFETY", "ARB_PRECISIONS", "ARB_PROOF_PRECISIONS", "gamma", "round_down",
           "arb_eig", "arb_lambda_min", "arb_scale_exponent", "arb_positive_definite",
           "arb_bracket", "arb_low"]

U = 2.0 ** -53                 # unit roundoff of float64 (round to nearest)
ETA = 2.0 ** -1074             # smallest positive subnormal
#: Relative safety factor covering the rounding of the error-bound arithmetic
#: itself (sums of at most 1e9 non-negative terms are accurate to 1e-7).
SAFETY = 1.0 + 1e-6


def gamma(k):
    """``gamma_k = k u / (1 - k u)``, the rounding factor of a length-``k`` inner product."""
    k = np.asarray(k, dtype=np.float64)
    return k * U / (1.0 - k * U)


def round_down(x, ulps=2):
    """``x`` moved ``ulps`` floats towards ``-inf``."""
    for _ in range(ulps):
        x = np.nextafter(x, -np.inf)
    return float(x)


#: Working precisions (bits) of the ball-arithmetic eigenvalue enclosures, tried in turn.
ARB_PRECISIONS = (53, 128, 256, 512, 1024)


#: Working precisions of the positive-definiteness proof that stands in when
#: the enclosures cannot be isolated.
ARB_PROOF_PRECISIONS = (128, 256, 512)


def arb_eig(build):
    """Eigenvalue enclosures of the ball matrix ``build()``.

    The precision is raised until the enclosures isolate.  Clustered
    eigenvalues (relative gaps near the working precision) make
    ``eig`` fail to isolate them; the matrix is rebuilt at a higher
    precision (its float64 inputs are exact at any precision).  Returns
    None when no precision isolates them (measured: an exactly 5-fold
    eigenvalue of an 8 x 8 matrix fails at every precision).
    """
    import flint

    old = flint.ctx.prec
    try:
        for prec in ARB_PRECISIONS:
            flint.ctx.prec = prec
            try:
                return build().eig(multiple=True)
            except ValueError:
                continue
    finally:
        flint.ctx.prec = old
    return None


def arb_lambda_min(build, name):
    """``(low, mid, high)`` with ``low <= lambda_min <= high`` proved and ``mid`` an estimate.

    The ball matrix is scaled by an exact power of two to entries near 1
    first: ball-arithmetic ``eig`` is not scale invariant (measured at 200
    bits on a 2 x 2 with relative gap 3e-5: enclosure radii 1e-59 relative
    at entries 1e-250 .. 1e50, 2.5e-16 at 1e105, no isolation at all at
    1e150).  From the eigenvalue enclosures when they isolate; otherwise
    from :func:`arb_bracket` (a ball-arithmetic proof that ``K - s I`` is
    positive definite, and the Rayleigh quotient of an approximate
    eigenvector).
    """
    import flint

    e = arb_scale_exponent(build)
    up = flint.arb(2) ** e                   # exact powers of two at any exponent

    def scaled():
        return build() * (flint.arb(2) ** -e)

    E = arb_eig(scaled)
    if E is None:
        low, mid, high = arb_bracket(scaled, name)
        return round_down(arb_low(low * up)), float(mid * up), -arb_low(-(high * up))
    lows = [arb_low(z.real * up) for z in E]
    mids = [float(z.real.mid() * up) for z in E]
    highs = [-arb_low(-(z.real * up)) for z in E]
    return round_down(min(lows)), min(mids), min(highs)


def arb_scale_exponent(build):
    """``e`` with the largest entry of ``build()`` in ``[2**(e-1), 2**e)``.

    0 if that entry is zero or not finite.
    """
    A = build()
    m = max((abs(float(A[i, j].mid())) for i in range(A.nrows()) for j in range(A.ncols())),
            default=0.0)
    return math.frexp(m)[1] if 0.0 < m < math.inf else 0


def arb_positive_definite(A, s):
    """True if the symmetric ball matrix ``A - s I`` is proved positive definite.

    Symmetric Gaussian elimination without pivoting (``LDL^T``) on the
    lower triangle, in ball arithmetic: a symmetric matrix is positive
    definite if and only if every pivot is positive, and each computed
    ball contains the exact pivot, so pivots that are certainly positive
    prove it.  ``O(n^3 / 6)`` ball operations.
    """
    n = A.nrows()
    M = [[A[i, j] for j in range(i + 1)] for i in range(n)]
    for i in range(n):
        M[i][i] = M[i][i] - s
    for k in range(n):
        d = M[k][k]
        if not d > 0:
            return False
        for i in range(k + 1, n):
            lik = M[i][k] / d
            row = M[i]
            for j in range(k + 1, i + 1):
                row[j] = row[j] - lik * M[j][k]
    return True


def arb_bracket(build, name):
    """Balls ``(low, mid, high)`` for ``lambda_min`` of ``build()`` without isolated eigenvalues.

    ``mid``: the smallest approximate eigenvalue (``eig(algorithm="approx")``
    at the working precision, no error bound).  ``low = s`` for the first
    shift ``s = mid - 2**(8k - prec/2) ||K||_inf`` at which ``K - s I`` is
    proved positive definite (:func:`arb_positive_definite`).  ``high``:
    the Rayleigh quotient of the approximate eigenvector in ball
    arithmetic (every non-zero vector's quotient is at least
    ``lambda_min``).
    """
    import flint

    old = flint.ctx.prec
    try:
        for prec in ARB_PROOF_PRECISIONS:
            flint.ctx.prec = prec
            A = build()
            n = A.nrows()
            E, R = A.eig(right=True, algorithm="approx")
            i = min(range(n), key=lambda k: float(E[k].real.mid()))
            lam = flint.arb(E[i].real.mid())
            # the eigenvector of a real symmetric matrix is real up to a complex phase
            re = [R[j, i].real.mid() for j in range(n)]
            im = [R[j, i].imag.mid() for j in range(n)]
            v = re if sum(abs(float(x)) for x in re) >= sum(abs(float(x)) for x in im) else im
            v = [flint.arb(x) for x in v]
            Av = [sum((A[r, c] * v[c] for c in range(n)), flint.arb(0)) for r in range(n)]
            vv = sum((x * x for x in v), flint.arb(0))
            high = sum((v[r] * Av[r] for r in range(n)), flint.arb(0)) / vv \
                if vv > 0 else flint.arb(math.inf)
            norm = max(sum(abs(float(A[r, c].mid())) + float(A[r, c].rad()) for c in range(n))
                       for r in range(n))
            if norm == 0.0:                     # every entry is exactly zero
                return flint.arb(0), flint.arb(0), flint.arb(0)
            for k in range(8):
                s = lam - flint.arb(math.ldexp(norm, 8 * k - prec // 2))
                if arb_positive_definite(A, s):
                    return s, lam, high
    finally:
        flint.ctx.prec = old
    raise ValueError(f"{name}: ball arithmetic could neither isolate the eigenvalues nor prove a "
                     f"shifted matrix positive definite at {ARB_PROOF_PRECISIONS[-1]} bits; "
                     "use method='cholesky'")


def arb_low(x):
    """A float at or below every point of the real ball ``x``."""
    lb = x.lower()
    return round_down(float(lb.mid()) - 2.0 * float(lb.rad()), 2)
