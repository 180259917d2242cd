r"""Hermite coefficients of activations, as used by the paper's lower bound.

For an activation ``phi`` and a first-layer scale ``omega`` (``W ~ N(0,
omega^2)``), the coefficients of ``x -> phi(omega x)`` in the probabilists'
Hermite basis are

.. math::

    c_k(\omega) = E[\phi(\omega g) He_k(g)], \qquad g \sim N(0, 1),

so that ``phi(omega g) = sum_k c_k He_k(g) / k!`` (since ``E[He_k^2] =
k!``) and, by Mehler's formula, for unit ``x, y`` and ``w ~ N(0,
omega^2 I)``

.. math::

    E[\phi(w \cdot x) \phi(w \cdot y)] = \sum_k \frac{c_k^2}{k!}
    (x \cdot y)^k .

Normalization and the Hermite norm
----------------------------------
Internally every coefficient is computed in the orthonormal basis
``He_k / sqrt(k!)``: ``h_k = c_k / sqrt(k!)``.  These are bounded by
``sqrt(E[phi(omega g)^2])`` (Parseval: ``sum_k h_k^2 = E[phi(omega g)^2]``),
and quadrature computes them with an absolute error of a few ``1e-16``
times that bound.  ``c_k = sqrt(k!) h_k`` inherits a *relative* error of
that size but its absolute error grows like ``sqrt(k!)`` (``sqrt(20!) =
1.6e9``); for example GELU's ``c_20`` is about ``-2e5`` and ReLU's ``c_20``
is about ``1.4e7``, so an absolute accuracy of ``1e-12`` on ``c_20`` is
below float64 resolution.  The accuracy claim is therefore on ``h_k``
(absolute ``1e-12`` for ``k <= 20``; the largest error measured against
``mpmath`` over all built-ins, ``k <= 20`` and ``omega`` in ``{1/28, 1,
2.5}`` is ``2.7e-15``).

The paper (Def. 4) defines ``||phi||_H = sqrt(sum_k c_k^2)``.  With the
probabilists' ``He_k`` this series **diverges for every built-in
activation except the polynomials**: for GELU (even ``k``) the ratio
``c_{k+2} / c_k`` approaches ``-(k + 1) omega^2 / (1 + omega^2)``
(Stein: ``c_k = omega^k E[phi^(k)(omega g)]`` with ``phi^(k) = x
pdf^(k-1) + k pdf^(k-2)``; checked numerically up to ``k = 40``), so the
terms eventually grow for every ``omega > 0`` (for ``omega = 1/28`` only
beyond ``k ~ 785``); for ReLU ``|c_k| = omega (k-3)!! / sqrt(2 pi)``.
For erf the kernel ``(2/pi) arcsin(2 omega^2 rho / (1 + 2 omega^2))``
gives ``c_k^2 / k! ~ r^k k^{-3/2}`` with ``r < 1``, so ``c_k^2 ~ k! r^k
k^{-3/2}`` diverges; tanh, sigmoid, softplus and SiLU have poles off the
real axis, their ``c_k^2 / k!`` decay more slowly still, and ``log
c_k^2`` rises by about 4 per step around ``k = 20``.  :func:`hermite_norm`
returns ``inf`` for those with ``convention="paper"``, a truncated sum if
``k_max`` is given, and the finite orthonormal norm
``sqrt(E[phi(omega g)^2]) = sqrt(sum_k c_k^2/k!)`` with
``convention="orthonormal"``.  The latter is what enters the expansion
above, and the paper's Lemma 2 constant ``c_inf^2 = sum_{i>=2} c_i^2 / i!``
is finite for the same reason.

Parity
------
If ``phi(x) - a x`` is even for some ``a`` (GELU, softplus, shifted
softplus, SiLU, ReLU, leaky ReLU, quadratic), then ``c_k = 0`` for odd
``k >= 3``; if ``phi(x) - b`` is odd (tanh, erf, sigmoid, identity), then
``c_k = 0`` for even ``k >= 2``.  So the paper's ``t`` (the index of the
coefficient that carries the lower bound) must be even for the first group
and odd for the second.
"""

import math

import numpy as np

from .activations import LEAKY_SLOPE, get_activation
from ._validation import check_positive_float, check_positive_int

__all__ = ["hermite_coefficients", "hermite_norm"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)

#: Gauss-Legendre nodes per panel of the composite rule.
_PANEL_NODES = 20
_XL, _WL = np.polynomial.legendre.leggauss(_PANEL_NODES)

#: Largest ``k_max`` supported (the Hermite-function recurrence would
#: underflow beyond; see :func:`_half_line_rule`).
MAX_K = 300
#: Largest ``k_max`` for unnormalized ``c_k`` (``sqrt(k!)`` overflows beyond).
MAX_K_UNNORMALIZED = 170

_CLOSED_FORMS = ("relu", "leaky_relu", "identity", "quadratic")

#: Largest scale ``omega`` (times row norm) integrated numerically.
MAX_SCALE = 1e4
#: Elements per work array in the chunked quadrature.
_CHUNK_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------
# Quadrature machinery (private; also used by infinite_width)
# --------------------------------------------------------------------------
def _half_line_rule(k_max, scale_max):
    """Composite Gauss-Legendre rule on ``[0, L]`` for Gaussian integrals.

    ``L = sqrt(4 k_max + 2) + 12`` lies 12 beyond the turning point of the
    highest Hermite function, where the Gaussian factor is below
    ``exp(-40)``.  Panels have width ``h <= 0.5 / max(scale, 1)`` so that a
    pole of ``phi(scale g)`` at distance ``pi / (2 scale)`` from the real
    axis (tanh; sigmoid-type activations are at ``pi / scale``) is at least
    ``3 h`` away: the Bernstein-ellipse parameter of each panel is then
    above 12 and the 20-point rule's error is of order ``12^-40``.
    The panel width also resolves the oscillation of ``He_k`` (period
    ``~ 2 pi / sqrt(k)``).  Panels start at 0, so a kink at 0 (ReLU) is a
    panel edge and costs nothing.
    """
    L = math.sqrt(4.0 * k_max + 2.0) + 12.0
    h = min(0.5 / max(scale_max, 1.0), 4.0 / math.sqrt(k_max + 1.0), 0.5)
    m = int(math.ceil(L / h))
    edges = np.linspace(0.0, L, m + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * (edges[1:] - edges[:-1])
    g = (mid[:, None] + half[:, None] * _XL[None, :]).ravel()
    w = (half[:, None] * _WL[None, :]).ravel()
    return g, w


def _hermite_basis(g, w, k_max):
    """``B[i, k] = 2 w_i pdf(g_i) He_k(g_i) / sqrt(k!)`` on the half-line rule.

    Evaluated through the Hermite functions ``psi_k = He_k / sqrt(k!) *
    sqrt(pdf)`` and their stable three-term recurrence
    ``psi_{k+1} = (g psi_k - sqrt(k) psi_{k-1}) / sqrt(k + 1)``, which stay
    bounded by about 1 (no overflow of ``He_k`` at large ``g``).  The
    factor 2 folds the integral over the real line onto ``[0, L]``.
    """
    sq = (2.0 * math.pi) ** -0.25 * np.exp(-0.25 * g * g)
    B = np.empty((g.size, k_max + 1))
    prev = np.zeros_like(g)
    cur = sq.copy()
    B[:, 0] = cur
    for k in range(k_max):
        nxt = (g * cur - math.sqrt(k) * prev) / math.sqrt(k + 1.0)
        prev, cur = cur, nxt
        B[:, k + 1] = cur
    B *= (2.0 * w * sq)[:, None]
    return B


def _normalized_coefficient_matrix(act, k_max, scales, derivative=0):
    """Orthonormal Hermite coefficients of ``x -> phi^(derivative)(s x)``.

    Parameters
    ----------
    act : Activation
    k_max : int
    scales : ndarray of shape (m,)
        Non-negative scales ``s``.
    derivative : {0, 1}
        Expand ``phi`` or ``phi'``.

    Returns
    -------
    ndarray of shape (m, k_max + 1)
        ``H[j, k] = E[f(s_j g) He_k(g)] / sqrt(k!)``.

    Notes
    -----
    Symmetric folding: with ``f_e(g) = (f(s g) + f(-s g)) / 2`` and
    ``f_o(g) = (f(s g) - f(-s g)) / 2``, ``h_k = 2 int_0^L f_e ...`` for
    even ``k`` and ``f_o`` for odd ``k``.  Exactly odd/even activations
    thus give exactly zero coefficients of the other parity, and a kink at
    0 never lies inside a panel.
    """
    scales = np.asarray(scales, dtype=np.float64)
    g_all, w_all = _half_line_rule(k_max, float(np.max(scales)) if scales.size else 1.0)
    f = act.phi if derivative == 0 else act.dphi
    H = np.zeros((scales.size, k_max + 1))
    step = max(256, _CHUNK_ELEMENTS // max(k_max + 1, scales.size))
    for start in range(0, g_all.size, step):
        g = g_all[start:start + step]
        B = _hermite_basis(g, w_all[start:start + step], k_max)
        Z = scales[:, None] * g[None, :]
        fp = f(Z)
        fm = f(-Z)
        H[:, 0::2] += (0.5 * (fp + fm)) @ B[:, 0::2]
        H[:, 1::2] += (0.5 * (fp - fm)) @ B[:, 1::2]
    return H


def _gaussian_second_moment(act, scales, derivative=0):
    """``E[f(s g)^2]`` for each scale, by the same composite rule (k_max=0)."""
    scales = np.asarray(scales, dtype=np.float64)
    g_all, w_all = _half_line_rule(0, float(np.max(scales)))
    f = act.phi if derivative == 0 else act.dphi
    out = np.zeros(scales.size)
    step = max(256, _CHUNK_ELEMENTS // max(1, scales.size))
    for start in range(0, g_all.size, step):
        g = g_all[start:start + step]
        wp = w_all[start:start + step] * np.exp(-0.5 * g * g) / _SQRT_2PI
        Z = scales[:, None] * g[None, :]
        out += (f(Z) ** 2 + f(-Z) ** 2) @ wp
    return out


def _check_scale(scale, name):
    """Refuse scales whose composite rule would need more than ~1e7 nodes."""
    if scale > MAX_SCALE:
        raise ValueError(f"{name} = {scale:.4g} exceeds {MAX_SCALE:.0e}: the quadrature panels "
                         f"(width 0.5 / scale) would need more than 1e7 nodes")
    return scale


def _log_sqrt_factorial(k):
    return 0.5 * np.array([math.lgamma(j + 1.0) for j in k])


def _closed_form_normalized(name, k_max, omega):
    """Exact ``h_k = c_k / sqrt(k!)`` for ReLU, leaky ReLU and polynomials.

    ReLU: ``relu(omega g) = omega relu(g)``; ``c_0 = E[relu(g)] =
    1/sqrt(2 pi)``, ``c_1 = E[g relu(g)] = 1/2`` and, for ``k >= 2``,
    Stein's identity ``E[f(g) He_k(g)] = E[f'(g) He_{k-1}(g)]`` applied
    twice with ``relu'' = delta_0`` gives ``c_k = pdf(0) He_{k-2}(0)``,
    where ``He_m(0) = (-1)^{m/2} (m-1)!!`` for even ``m`` and 0 for odd.
    Leaky ReLU ``= a x + (1 - a) relu(x)``.  Polynomials: ``omega g =
    omega He_1``, ``(omega g)^2 = omega^2 (He_2 + He_0)``, so ``c_2 = 2
    omega^2`` (``E[He_2^2] = 2``).
    """
    h = np.zeros(k_max + 1)
    if name == "identity":
        if k_max >= 1:
            h[1] = omega
        return h
    if name == "quadratic":
        h[0] = omega ** 2
        if k_max >= 2:
            h[2] = math.sqrt(2.0) * omega ** 2
        return h
    a = LEAKY_SLOPE if name == "leaky_relu" else 0.0
    # h_k for relu(g), k >= 2: pdf(0) He_{k-2}(0) / sqrt(k!), via the ratio
    # h_{k+2} / h_k = -(k - 1) / sqrt((k + 1)(k + 2)) (no factorials).
    r = np.zeros(k_max + 1)
    r[0] = 1.0 / _SQRT_2PI
    if k_max >= 1:
        r[1] = 0.5
    if k_max >= 2:
        r[2] = 1.0 / (_SQRT_2PI * math.sqrt(2.0))
    for k in range(2, k_max - 1, 2):
        r[k + 2] = -r[k] * (k - 1.0) / math.sqrt((k + 1.0) * (k + 2.0))
    h = (1.0 - a) * omega * r
    if k_max >= 1:
        h[1] += a * omega
    return h


def _normalized(act, k_max, omega, method):
    if method == "auto" and act.code >= 0 and act.name in _CLOSED_FORMS:
        return _closed_form_normalized(act.name, k_max, omega)
    _check_scale(omega, "omega")
    return _normalized_coefficient_matrix(act, k_max, np.array([omega]))[0]


def _check_method(method):
    if method not in ("auto", "quadrature"):
        raise ValueError(f"method must be 'auto' or 'quadrature', got {method!r}")
    return method


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------
def hermite_coefficients(activation, k_max, omega=1.0, *, normalized=False, method="auto"):
    """Hermite coefficients ``c_0, ..., c_{k_max}`` of ``x -> phi(omega x)``.

    Parameters
    ----------
    activation : str or Activation
        Registered activation (see :func:`pl_toolkit.available_activations`).
    k_max : int
        Largest index, ``0 <= k_max <= 170`` (``<= 300`` with
        ``normalized=True``).
    omega : float, default 1.0
        Standard deviation of the first-layer weights (``W ~ N(0,
        omega^2)``); positive.
    normalized : bool, default False
        Return ``c_k / sqrt(k!)`` (coefficients in the orthonormal basis
        ``He_k / sqrt(k!)``) instead of ``c_k``.
    method : {'auto', 'quadrature'}, default 'auto'
        ``'auto'`` uses exact closed forms for ReLU, leaky ReLU, identity
        and quadratic, and quadrature otherwise; ``'quadrature'`` always
        integrates numerically.

    Returns
    -------
    ndarray of shape (k_max + 1,)
        ``c_k = E[phi(omega g) He_k(g)]``, ``g ~ N(0, 1)``, with the
        probabilists' Hermite polynomials ``He_k`` (``E[He_k^2] = k!``).

    Raises
    ------
    ValueError
        If the activation is unknown, ``k_max`` is not an integer in range,
        ``omega`` is not positive and finite (or above ``1e4`` where
        quadrature is needed), or ``method`` is unknown.

    Notes
    -----
    Definition 4 of the paper, with the scale ``omega`` of the caveat in
    Section 4 of the design note: ``c_k(omega) = omega^k
    E[phi^(k)(omega g)]`` (Stein's identity).  ``E[phi(w.x) phi(w.y)] =
    sum_k c_k^2 / k! (x.y)^k`` for unit ``x, y`` and ``w ~ N(0, omega^2
    I)``; the lower bound of Lemma 2 / Section 5.3 uses the term
    ``c_t^2 / t!``.

    Numerics: the integral over the real line is folded onto ``[0, L]``
    (even/odd parts of ``phi``) and computed by a composite 20-point
    Gauss-Legendre rule whose panels start at 0 (a kink at 0 costs
    nothing) and are narrower than the distance of the nearest complex
    singularity of ``phi(omega g)`` for the built-in activations;
    ``He_k / sqrt(k!)`` enters through the stable three-term recurrence of
    the Hermite functions.  Measured against ``mpmath.quad`` at 30 digits,
    the orthonormal coefficients ``c_k / sqrt(k!)`` are accurate to
    ``2.7e-15`` absolute or better for ``k <= 20`` and ``omega`` in
    ``{1/28, 1, 2.5}`` for every built-in activation; ``c_k`` itself has
    an absolute error of that size times ``sqrt(k!)`` (up to ``1.6e-7``
    at ``k = 20`` for a coefficient that vanishes exactly; see the module
    notes).  Cost is ``O(k_max *
    L * max(omega, 1))`` work.  User-registered activations with
    singularities closer to the real axis than ``pi / (2 omega)`` or kinks
    away from 0 converge more slowly.

    Examples
    --------
    >>> from pl_toolkit import hermite_coefficients
    >>> (hermite_coefficients("gelu", 4).round(4) + 0.0).tolist()
    [0.2821, 0.5, 0.4231, 0.0, -0.3526]
    >>> (hermite_coefficients("relu", 4, omega=2.0).round(4) + 0.0).tolist()
    [0.7979, 1.0, 0.7979, 0.0, -0.7979]
    """
    act = get_activation(activation)
    normalized = bool(normalized)
    k_max = check_positive_int(k_max, "k_max", minimum=0)
    cap = MAX_K if normalized else MAX_K_UNNORMALIZED
    if k_max > cap:
        hint = "" if normalized else " (use normalized=True up to %d)" % MAX_K
        raise ValueError(f"k_max must be <= {cap}, got {k_max}{hint}")
    omega = check_positive_float(omega, "omega")
    method = _check_method(method)
    h = _normalized(act, k_max, omega, method)
    if normalized:
        return h
    return h * np.exp(_log_sqrt_factorial(range(k_max + 1)))


def hermite_norm(activation, omega=1.0, *, convention="paper", k_max=None):
    """Hermite norm of ``x -> phi(omega x)``.

    Parameters
    ----------
    activation : str or Activation
        Registered activation.
    omega : float, default 1.0
        First-layer weight scale; positive.
    convention : {'paper', 'orthonormal'}, default 'paper'
        ``'paper'``: ``sqrt(sum_k c_k^2)`` (Def. 4 of the paper, with the
        probabilists' ``He_k``).  ``'orthonormal'``: ``sqrt(sum_k c_k^2 /
        k!) = sqrt(E[phi(omega g)^2])`` (Parseval), always finite for the
        built-in activations.
    k_max : int, optional
        Truncate the series at ``k_max`` (``<= 170`` for ``'paper'``,
        ``<= 300`` for ``'orthonormal'``).  When omitted: the full series.
        For ``'paper'`` the full series is known in closed form only for
        the built-in activations (``omega`` for identity, ``sqrt(5)
        omega^2`` for quadratic, ``inf`` for all others); user-registered
        activations then require ``k_max``.

    Returns
    -------
    float
        The norm (``inf`` when the paper's series diverges).

    Raises
    ------
    ValueError
        On a bad argument, or ``convention='paper'`` with ``k_max=None``
        for a user-registered activation.

    Notes
    -----
    Assumption 2 of the paper requires ``||phi||_H < inf``.  With the
    paper's normalization this holds only for polynomial built-ins: the
    terms ``c_k^2 = k! h_k^2`` grow factorially (proof sketches in the
    module notes; ``tests/test_hermite.py`` checks the growth for ``k``
    up to 20).  The orthonormal norm is computed directly as
    ``sqrt(E[phi(omega g)^2])`` by the composite rule of
    :func:`hermite_coefficients` when ``k_max`` is omitted; Parseval's
    identity ``E[phi(omega g)^2] = sum_k c_k^2 / k!`` is verified in the
    tests.

    Examples
    --------
    >>> from pl_toolkit import hermite_norm
    >>> hermite_norm("gelu")
    inf
    >>> round(hermite_norm("gelu", convention="orthonormal"), 6)
    0.65209
    >>> round(hermite_norm("quadratic", omega=0.5), 6)  # sqrt(5) / 4
    0.559017
    """
    act = get_activation(activation)
    omega = check_positive_float(omega, "omega")
    if convention not in ("paper", "orthonormal"):
        raise ValueError(f"convention must be 'paper' or 'orthonormal', got {convention!r}")
    if k_max is not None:
        cap = MAX_K_UNNORMALIZED if convention == "paper" else MAX_K
        k_max = check_positive_int(k_max, "k_max", minimum=0)
        if k_max > cap:
            raise ValueError(f"k_max must be <= {cap} for convention {convention!r}, got {k_max}")
        h = _normalized(act, k_max, omega, "auto")
        if convention == "orthonormal":
            return float(math.sqrt(np.sum(h * h)))
        c = h * np.exp(_log_sqrt_factorial(range(k_max + 1)))
        return float(math.sqrt(np.sum(c * c)))
    if convention == "orthonormal":
        _check_scale(omega, "omega")
        return float(math.sqrt(_gaussian_second_moment(act, np.array([omega]))[0]))
    if act.code < 0:
        raise ValueError(f"k_max is required for convention 'paper' with the user activation "
                         f"{act.name!r}: the full series cannot be decided numerically")
    if act.name == "identity":
        return omega
    if act.name == "quadratic":
        return math.sqrt(5.0) * omega ** 2  # c_0 = omega^2, c_2 = 2 omega^2
    return math.inf
