"""The abstract PL framework: Definitions 1-3, Lemmas 1-2, Theorems 1-2.

The paper studies ``h(w) = f(Phi(w))`` with ``f`` PL and ``Phi`` smooth
with a well-conditioned Jacobian at ``w0``.  This module states each
definition and result as SymPy relations and breaks the proofs that are
algebra into :class:`~derivations.steps.Step` lists that SymPy checks.
Analytic facts (Weyl's inequality, the descent lemma, integrating along
the flow) are stated as ``how="assumption"`` steps; they are never
reported as proved.

Notes
-----
Paper references (``paper.md`` section 3): Definitions 1-3, Lemma 1,
Lemma 2, Theorem 1 (eq. 9), Theorem 2 (eqs. 13-14).  The PL-ball
argument (after Liu, Zhu and Belkin 2020) is tagged [DERIVED]: the
source text was not retrieved, so its normalisation is the one written
here (``||grad L||^2 >= 2 mu L``).

Examples
--------
>>> from derivations.framework import lemma1_radius
>>> from derivations.symbols import mu_Phi, beta_Phi
>>> lemma1_radius(mu_Phi, beta_Phi)
mu_Phi/(2*beta_Phi)
"""

from sympy import (And, Le, Matrix, Rational, Symbol, cancel, expand, factor, oo,
                   solve, sqrt, summation, symbols)

from . import symbols as S
from .steps import Step, is_zero

__all__ = [
    "near_isometry", "smoothness", "pl_inequality", "quadratic_loss_constants",
    "lemma1_radius", "lemma1_steps", "lemma2_bound", "lemma2_steps",
    "theorem1_condition", "theorem1_condition_steps", "theorem2_step_size",
    "theorem2_rate", "pl_ball_radius", "pl_ball_steps", "ntk_pl_steps",
    "one_minus_sqrt_bound", "pl_ball_radius_general", "pl_ball_contraction_general",
    "pl_ball_general_steps", "theorem2_constant_steps", "lemma2_constant", "eq9_constant",
]


def _nonneg(expr, subs=None):
    """True if ``expr`` (after ``subs``) factors into a manifestly >= 0 form."""
    e = expr.subs(subs) if subs else expr
    e = factor(cancel(expand(e)))
    return e.is_nonnegative is True


# --------------------------------------------------------------- definitions
def near_isometry(sigma_min_T, sigma_max_T, mu, nu):
    """Definition 1: ``T`` is a ``(mu, nu)``-near-isometry.

    Parameters
    ----------
    sigma_min_T, sigma_max_T : sympy.Expr
        Extreme singular values of ``T``.
    mu, nu : sympy.Expr
        The near-isometry constants.

    Returns
    -------
    sympy.And
        ``0 < mu <= sigma_min(T) <= sigma_max(T) <= nu``.

    Notes
    -----
    [EXACT] Definition 1 of the paper.

    Examples
    --------
    >>> from derivations.symbols import sigma_smin, sigma_smax, mu_Phi, nu_Phi
    >>> cond = near_isometry(sigma_smin, sigma_smax, mu_Phi, nu_Phi)
    >>> bool(cond.subs({sigma_smin: 2, sigma_smax: 3, mu_Phi: 1, nu_Phi: 4}))
    True
    """
    return And(mu > 0, Le(mu, sigma_min_T), Le(sigma_min_T, sigma_max_T), Le(sigma_max_T, nu))


def smoothness(jacobian_difference, beta, distance):
    """Definition 2: ``sigma_max(grad psi(u) - grad psi(v)) <= beta ||u - v||``.

    Parameters
    ----------
    jacobian_difference : sympy.Expr
        ``sigma_max`` of the Jacobian difference.
    beta : sympy.Expr
        Smoothness constant.
    distance : sympy.Expr
        ``||u - v||``.

    Returns
    -------
    sympy.Le
        The (unevaluated) inequality.

    Notes
    -----
    [EXACT] Definition 2 (Lipschitz Jacobian).

    Examples
    --------
    >>> from derivations.symbols import beta_Phi, dist_w, sigma_smax
    >>> smoothness(sigma_smax, beta_Phi, dist_w)
    sigma_max <= beta_Phi*r
    """
    return Le(jacobian_difference, beta * distance)


def pl_inequality(psi, grad_norm_sq, alpha):
    """Definition 3: ``psi(u) <= ||grad psi(u)||^2 / (2 alpha)``.

    Parameters
    ----------
    psi : sympy.Expr
        Function value (minimum 0).
    grad_norm_sq : sympy.Expr
        ``||grad psi(u)||^2``.
    alpha : sympy.Expr
        PL constant.

    Returns
    -------
    sympy.Le
        The (unevaluated) inequality.

    Notes
    -----
    [EXACT] Definition 3 (after Bolte et al. 2017).

    Examples
    --------
    >>> from derivations.symbols import L_t, g_norm, alpha_f
    >>> pl_inequality(L_t, g_norm**2, alpha_f)
    L_t <= g_norm**2/(2*alpha_f)
    """
    return Le(psi, grad_norm_sq / (2 * alpha))


def quadratic_loss_constants(dim=3):
    """Derive ``alpha_f = 2`` and ``beta_f = 2`` for ``f(z) = ||z - y||^2``.

    Parameters
    ----------
    dim : int, default 3
        Dimension of the generic vector ``z`` used in the derivation.

    Returns
    -------
    dict
        ``{"alpha_f": 2, "beta_f": 2, "steps": [Step, ...]}`` with the
        constants as SymPy numbers obtained by solving, not typed in.

    Notes
    -----
    [DERIVED] (``paper.md`` section 3, Assumption 1): ``||grad f||^2 = 4 f``
    gives ``alpha_f = 2``; ``f(z) - f(z') - <z - z', grad f(z')> =
    ||z - z'||^2`` gives ``beta_f / 2 = 1``.

    Examples
    --------
    >>> c = quadratic_loss_constants()
    >>> c["alpha_f"], c["beta_f"]
    (2, 2)
    """
    z = Matrix(symbols(f"z0:{dim}", real=True))
    zp = Matrix(symbols(f"zp0:{dim}", real=True))
    y = Matrix(symbols(f"y0:{dim}", real=True))
    f = lambda v: ((v - y).T * (v - y))[0, 0]  # noqa: E731
    grad = Matrix([f(z).diff(zi) for zi in z])
    grad_sq = (grad.T * grad)[0, 0]
    # PL holds with equality for every z, so alpha_f is the ratio itself
    alpha_val = cancel(grad_sq / (2 * f(z)))
    gradp = Matrix([f(zp).diff(zi) for zi in zp])
    gap = f(z) - f(zp) - ((z - zp).T * gradp)[0, 0]
    dist_sq = ((z - zp).T * (z - zp))[0, 0]
    beta = Symbol("beta", positive=True)
    beta_val = solve(expand(gap - beta / 2 * dist_sq).coeff(z[0], 2), beta)[0]
    steps = [
        Step("grad_sq_is_4f", grad_sq, "==", 4 * f(z), source="Assumption 1",
             tag="[DERIVED]"),
        Step("alpha_f", alpha_val, "==", 2, source="Def. 3", tag="[DERIVED]"),
        Step("taylor_gap", gap, "==", dist_sq, source="Assumption 1", tag="[DERIVED]",
             note="f is quadratic: the gap is exactly (beta_f/2)||z - z'||^2 with beta_f = 2"),
        Step("beta_f", beta_val, "==", 2, source="Assumption 1", tag="[DERIVED]"),
    ]
    return {"alpha_f": alpha_val, "beta_f": beta_val, "steps": steps}


# ------------------------------------------------------------------- Lemma 1
def lemma1_radius(mu, beta):
    """Lemma 1's radius ``rho_Phi = mu_Phi / (2 beta_Phi)``.

    Parameters
    ----------
    mu, beta : sympy.Expr
        ``mu_Phi`` and ``beta_Phi``.

    Returns
    -------
    sympy.Expr
        The radius.

    Notes
    -----
    [EXACT] Lemma 1.

    Examples
    --------
    >>> from sympy import Integer
    >>> lemma1_radius(Integer(3), Integer(2))
    3/4
    """
    return mu / (2 * beta)


def lemma1_steps(mu=S.mu_Phi, nu=S.nu_Phi, beta=S.beta_Phi, r=S.dist_w):
    """Proof of Lemma 1: the factor 1/2 and 3/2 bounds in the ball.

    Parameters
    ----------
    mu, nu, beta : sympy.Expr
        ``mu_Phi``, ``nu_Phi``, ``beta_Phi``.
    r : sympy.Symbol
        ``||w - w0||``.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [EXACT] statement; the proof steps are [RECON]: Weyl's inequality for
    singular values combined with Definition 2 (an assumption, not
    algebra), then algebra that SymPy proves.

    Examples
    --------
    >>> [s.name for s in lemma1_steps()][:2]
    ['weyl_lower', 'radius']
    """
    rho = lemma1_radius(mu, beta)
    e = Symbol("e", nonnegative=True)
    s = Symbol("s", nonnegative=True)
    return [
        Step("weyl_lower", S.sigma_smin, ">=", mu - beta * r, how="assumption",
             tag="[RECON]", source="Lemma 1",
             given="sigma_min is 1-Lipschitz (Weyl) and Phi is beta-smooth (Def. 2); "
                   "sigma_min here is sigma_min(grad Phi*(w)), r = ||w - w0||"),
        Step("radius", mu - beta * rho, "==", mu / 2, tag="[EXACT]", source="Lemma 1",
             note="at r = rho_Phi = mu/(2 beta) the lower bound equals mu/2"),
        Step("inside_ball", mu - beta * r, ">=", mu / 2, tag="[RECON]", source="Lemma 1",
             given="r <= rho_Phi (write r = rho_Phi - s, s >= 0)",
             proof=lambda: _nonneg(mu - beta * r - mu / 2, {r: rho - s})),
        Step("weyl_upper", S.sigma_smax, "<=", nu + beta * r, how="assumption",
             tag="[RECON]", source="Lemma 1", given="Weyl + Def. 2"),
        Step("upper_at_radius", nu + beta * rho, "==", nu + mu / 2, tag="[RECON]",
             source="Lemma 1"),
        Step("three_halves", nu + mu / 2, "<=", Rational(3, 2) * nu, tag="[EXACT]",
             source="Lemma 1", given="mu <= nu (Def. 1); write nu = mu + e, e >= 0",
             proof=lambda: _nonneg(Rational(3, 2) * nu - nu - mu / 2, {nu: mu + e})),
    ]


# ------------------------------------------------------------------- Lemma 2
def lemma2_bound(nu=S.nu_Phi, mu=S.mu_Phi, h_0=S.h0, alpha=S.alpha_f, C=S.C_L2):
    """Lemma 2's flow-length bound ``C nu sqrt(h0) / (mu^2 sqrt(alpha_f))``.

    Parameters
    ----------
    nu, mu, h_0, alpha : sympy.Expr
        ``nu_Phi``, ``mu_Phi``, ``h(w0)``, ``alpha_f``.
    C : sympy.Expr
        The universal constant hidden in the paper's ``O(.)``.

    Returns
    -------
    sympy.Expr
        The bound (an O-statement with constant ``C``).

    Notes
    -----
    [EXACT] Lemma 2 as an O-statement; :func:`lemma2_steps` shows
    ``C = 2 sqrt(2)`` suffices [DERIVED].

    Examples
    --------
    >>> lemma2_bound()
    C_L2*sqrt(h0)*nu_Phi/(sqrt(alpha_f)*mu_Phi**2)
    """
    return C * nu * sqrt(h_0) / (mu**2 * sqrt(alpha))


def lemma2_steps(mu=S.mu_Phi, nu=S.nu_Phi, alpha=S.alpha_f, h_0=S.h0):
    """Flow length inside the ball: a sharper bound, and Lemma 2 from it.

    Parameters
    ----------
    mu, nu, alpha, h_0 : sympy.Expr
        ``mu_Phi``, ``nu_Phi``, ``alpha_f`` and ``h(w0)`` (symbols by default).

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED].  Along ``gamma' = -grad h``: ``d sqrt(h)/dt =
    -||grad h||^2 / (2 sqrt(h))`` and, in the ball, ``||grad h|| >=
    (mu/2) ||grad f|| >= (mu/2) sqrt(2 alpha h)``.  Hence ``||gamma'|| <=
    (2 sqrt(2) / (mu sqrt(alpha))) (-d sqrt(h)/dt)``, and integrating,
    ``length <= 2 sqrt(2) sqrt(h0) / (mu sqrt(alpha))``.  Because
    ``mu <= nu`` this implies Lemma 2 with ``C_L2 = 2 sqrt(2)``.

    Examples
    --------
    >>> all(s.verify() in (True, None) for s in lemma2_steps())
    True
    """
    G = Symbol("G", positive=True)  # ||grad h||
    H = Symbol("H", positive=True)  # h(gamma(t))
    dsqrt_h = -G**2 / (2 * sqrt(H))
    sharp = 2 * sqrt(2) * sqrt(h_0) / (mu * sqrt(alpha))
    e = Symbol("e", nonnegative=True)
    return [
        Step("grad_lower", G, ">=", mu / 2 * sqrt(2 * alpha * H), how="assumption",
             tag="[RECON]", source="Lemma 1 + Def. 3",
             given="||grad h|| = ||grad Phi* grad f|| >= (mu/2)||grad f|| (Lemma 1) and "
                   "||grad f||^2 >= 2 alpha f (PL)"),
        Step("speed_identity", -(2 * sqrt(H) / G) * dsqrt_h, "==", G, tag="[DERIVED]",
             source="Lemma 2",
             note="||gamma'|| = ||grad h|| = -(2 sqrt(h)/||grad h||) d sqrt(h)/dt"),
        Step("speed_factor", 2 * sqrt(H) / (mu / 2 * sqrt(2 * alpha * H)), "==",
             2 * sqrt(2) / (mu * sqrt(alpha)), tag="[DERIVED]", source="Lemma 2",
             note="bound on 2 sqrt(h)/||grad h|| from grad_lower; h cancels"),
        Step("integrate", Symbol("ell", nonnegative=True), "<=", sharp, how="assumption",
             tag="[DERIVED]", source="Lemma 2",
             given="integrate -d sqrt(h)/dt from 0 to T and drop sqrt(h(T)) >= 0"),
        Step("implies_lemma2", sharp, "<=", lemma2_bound(nu, mu, h_0, alpha, 2 * sqrt(2)),
             tag="[DERIVED]", source="Lemma 2", given="mu <= nu; write nu = mu + e",
             proof=lambda: _nonneg(lemma2_bound(nu, mu, h_0, alpha, 2 * sqrt(2)) - sharp,
                                   {nu: mu + e})),
    ]


# ---------------------------------------------------------------- Theorem 1
def theorem1_condition(h_0=S.h0, alpha=S.alpha_f, mu=S.mu_Phi, nu=S.nu_Phi,
                       beta=S.beta_Phi, C=S.C_9):
    """Theorem 1's hypothesis, eq. (9): ``h(w0) <= C alpha mu^6/(beta^2 nu^2)``.

    Parameters
    ----------
    h_0, alpha, mu, nu, beta : sympy.Expr
        ``h(w0)``, ``alpha_f``, ``mu_Phi``, ``nu_Phi``, ``beta_Phi`` (symbols by default).
    C : sympy.Expr
        Universal constant of the ``O(.)``.

    Returns
    -------
    sympy.Le
        The (unevaluated) inequality.

    Notes
    -----
    [EXACT] eq. (9).  :func:`theorem1_condition_steps` derives it from
    Lemma 2 and ``rho_Phi`` with ``C = 1/(4 C_L2^2)``.

    Examples
    --------
    >>> theorem1_condition()
    h0 <= C_9*alpha_f*mu_Phi**6/(beta_Phi**2*nu_Phi**2)
    """
    return Le(h_0, C * alpha * mu**6 / (beta**2 * nu**2))


def theorem1_condition_steps(h_0=S.h0, alpha=S.alpha_f, mu=S.mu_Phi, nu=S.nu_Phi,
                             beta=S.beta_Phi, C_L2=S.C_L2):
    """Derive (9) from "flow length <= rho_Phi" by solving for ``h0``.

    Parameters
    ----------
    h_0, alpha, mu, nu, beta, C_L2 : sympy.Expr
        ``h(w0)``, ``alpha_f``, ``mu_Phi``, ``nu_Phi``, ``beta_Phi`` and Lemma
        2's constant (symbols by default).

    Returns
    -------
    dict
        ``{"h0_max": expr, "C_9": expr, "h0_max_sharp": expr,
        "steps": [Step, ...]}``: the largest ``h0`` allowed by Lemma 2,
        the implied constant of (9), and the weaker requirement that the
        sharper [DERIVED] flow-length bound gives.

    Notes
    -----
    [DERIVED].  The paper's (9) is what ``C_L2 nu sqrt(h0)/(mu^2
    sqrt(alpha)) = mu/(2 beta)`` gives; the sharper bound of
    :func:`lemma2_steps` gives ``h0 <= alpha mu^4 / (32 beta^2)``, which
    (9) implies because ``mu <= nu``.

    Examples
    --------
    >>> out = theorem1_condition_steps()
    >>> out["C_9"]
    1/(4*C_L2**2)
    """
    ell = lemma2_bound(nu, mu, h_0, alpha, C_L2)
    rho = lemma1_radius(mu, beta)
    (h0_max,) = solve(ell - rho, h_0)
    C9 = cancel(h0_max / (alpha * mu**6 / (beta**2 * nu**2)))
    sharp_ell = 2 * sqrt(2) * sqrt(h_0) / (mu * sqrt(alpha))
    (h0_sharp,) = solve(sharp_ell - rho, h_0)
    e = Symbol("e", nonnegative=True)
    steps = [
        Step("stay_in_ball", ell, "<=", rho, how="assumption", tag="[EXACT]",
             source="Thm 1", given="the flow stays in B(w0, rho_Phi) if its length does"),
        Step("solve_h0", h0_max, "==", alpha * mu**6 / (4 * C_L2**2 * beta**2 * nu**2),
             tag="[DERIVED]", source="eq. (9)",
             note="largest h0 with Lemma-2 length <= rho_Phi; solved by SymPy"),
        Step("eq9_constant", C9, "==", 1 / (4 * C_L2**2), tag="[DERIVED]", source="eq. (9)"),
        Step("sharp_h0", h0_sharp, "==", alpha * mu**4 / (32 * beta**2), tag="[DERIVED]",
             source="eq. (9)", note="from the sharper flow length 2 sqrt(2 h0/alpha)/mu"),
        Step("eq9_implies_sharp", h0_max.subs(C_L2, 2 * sqrt(2)), "<=", h0_sharp,
             tag="[DERIVED]", source="eq. (9)", given="mu <= nu; write nu = mu + e",
             proof=lambda: _nonneg(h0_sharp - h0_max.subs(C_L2, 2 * sqrt(2)), {nu: mu + e})),
    ]
    return {"h0_max": h0_max, "C_9": C9, "h0_max_sharp": h0_sharp, "steps": steps}


def lemma2_constant(mu=S.mu_Phi, alpha=S.alpha_f, h_0=S.h0):
    """The constant ``C_L2 = 2 sqrt(2)`` of Lemma 2, derived from the sharp flow length.

    Parameters
    ----------
    mu, alpha, h_0 : sympy.Expr
        ``mu_Phi``, ``alpha_f`` and ``h(w0)`` (symbols by default).

    Returns
    -------
    sympy.Expr
        The smallest ``C`` with ``C nu sqrt(h0)/(mu^2 sqrt(alpha)) >=
        2 sqrt(2) sqrt(h0)/(mu sqrt(alpha))`` for every ``nu >= mu``: the
        ratio of the two bounds at ``nu = mu``.

    Notes
    -----
    [DERIVED] from :func:`lemma2_steps` (flow length ``<= 2 sqrt(2)
    sqrt(h0) / (mu sqrt(alpha_f))``); Definition 1 gives ``nu >= mu``,
    and equality is allowed, so no smaller constant works for all
    near-isometries.

    Examples
    --------
    >>> lemma2_constant()
    2*sqrt(2)
    """
    sharp = 2 * sqrt(2) * sqrt(h_0) / (mu * sqrt(alpha))
    return cancel(sharp / lemma2_bound(mu, mu, h_0, alpha, 1))


def eq9_constant():
    """The constant of (9) implied by Lemmas 1-2: ``C_9 = 1/(4 C_L2^2) = 1/32``.

    Returns
    -------
    sympy.Rational
        ``theorem1_condition_steps()["C_9"]`` at ``C_L2 = lemma2_constant()``.

    Notes
    -----
    [DERIVED].  Equating Lemma 2's flow length (constant ``2 sqrt(2)``)
    with Lemma 1's radius ``mu/(2 beta)`` and solving for ``h0`` gives
    ``h0 <= alpha mu^6 / (32 beta^2 nu^2)``: eq. (9) with ``C = 1/32``.

    Examples
    --------
    >>> eq9_constant()
    1/32
    """
    C9 = theorem1_condition_steps()["C_9"]
    return cancel(C9.subs(S.C_L2, lemma2_constant()))


# ---------------------------------------------------------------- Theorem 2
def theorem2_step_size(mu=S.mu_Phi, beta=S.beta_Phi, grad_f=S.grad_f0, beta_f_=S.beta_f,
                       nu=S.nu_Phi, C=S.C_13):
    """Theorem 2's step size, eq. (13).

    Parameters
    ----------
    mu, beta, grad_f, beta_f_, nu : sympy.Expr
        ``mu_Phi``, ``beta_Phi``, ``||grad f(Phi(w0))||``, ``beta_f``,
        ``nu_Phi``.
    C : sympy.Expr
        Universal constant of the ``O(.)``.

    Returns
    -------
    sympy.Expr
        ``C mu^2 / (beta ||grad f|| + beta mu^2 + beta_f nu^2)``.

    Notes
    -----
    [EXACT] eq. (13).  For ``f = ||z - Y||^2``, ``||grad f|| = 2 sqrt(h0)``.

    Examples
    --------
    >>> theorem2_step_size()
    C_13*mu_Phi**2/(beta_Phi*grad_f0 + beta_Phi*mu_Phi**2 + beta_f*nu_Phi**2)
    """
    return C * mu**2 / (beta * grad_f + beta * mu**2 + beta_f_ * nu**2)


def theorem2_rate(step=S.eta, alpha=S.alpha_f, mu=S.mu_Phi, C=S.C_14):
    """Theorem 2's per-step contraction factor, eq. (14): ``1 - C eta alpha mu^2``.

    Parameters
    ----------
    step, alpha, mu : sympy.Expr
        ``eta``, ``alpha_f``, ``mu_Phi`` (symbols by default).
    C : sympy.Expr
        Universal constant (value not given in the paper).

    Returns
    -------
    sympy.Expr
        The contraction factor.

    Notes
    -----
    [EXACT] eq. (14): ``h(w_i) <= (1 - C eta alpha_f mu_Phi^2)^i h(w0)``.

    Examples
    --------
    >>> theorem2_rate()
    -C_14*alpha_f*eta*mu_Phi**2 + 1
    """
    return 1 - C * step * alpha * mu**2


# ----------------------------------------------------------- PL-ball argument
def pl_ball_radius(beta=S.beta_pl, L_0=S.L0, mu=S.mu_pl):
    """Return the radius ``R = 2 sqrt(2 beta L0) / mu`` of the PL-ball argument.

    Parameters
    ----------
    beta, L_0, mu : sympy.Expr
        Smoothness of ``L``, ``L(w0)`` and the PL constant in the
        convention ``||grad L||^2 >= 2 mu L``.

    Returns
    -------
    sympy.Expr
        The radius.

    Notes
    -----
    [DERIVED] (``paper.md`` section 3, PL-ball argument).

    Examples
    --------
    >>> pl_ball_radius()
    2*sqrt(2)*sqrt(L_0)*sqrt(beta)/mu
    """
    return 2 * sqrt(2 * beta * L_0) / mu


def one_minus_sqrt_bound(xv=S.x_frac):
    """Prove ``1 - sqrt(1 - x) >= x / 2`` for ``x`` in ``(0, 1]``.

    Parameters
    ----------
    xv : sympy.Symbol
        The variable (``mu / beta`` in the PL-ball argument).

    Returns
    -------
    Step
        With ``s = sqrt(1 - x)`` in ``[0, 1)``, ``x = 1 - s^2`` and
        ``1 - s - (1 - s^2)/2 = (1 - s)^2 / 2 >= 0``.

    Notes
    -----
    [DERIVED].

    Examples
    --------
    >>> one_minus_sqrt_bound().verify()
    True
    """
    s = Symbol("s", nonnegative=True)

    def proof():
        diff = (1 - sqrt(1 - xv) - xv / 2).subs(xv, 1 - s**2)
        # sqrt(s^2) = s for s >= 0; the difference is (1 - s)^2 / 2
        return is_zero(diff - (1 - s) ** 2 / 2) and _nonneg(diff)

    return Step("one_minus_sqrt", 1 - sqrt(1 - xv), ">=", xv / 2, tag="[DERIVED]",
                source="PL ball", given="0 < x <= 1 (x = mu/beta <= 1)", proof=proof)


def pl_ball_steps(mu=S.mu_pl, beta=S.beta_pl, L_0=S.L0, Lt=S.L_t, Lnext=S.L_next,
                  gn=S.g_norm):
    """The PL-ball argument: descent, step length, geometric series, radius.

    Parameters
    ----------
    mu, beta : sympy.Symbol
        PL constant (``||grad L||^2 >= 2 mu L``) and smoothness of ``L``.
    L_0, Lt, Lnext : sympy.Symbol
        ``L(w0)``, ``L(w_t)``, ``L(w_{t+1})``.
    gn : sympy.Symbol
        ``||grad L(w_t)||``.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED] (Liu-Zhu-Belkin style; their exact statement was not
    retrieved).  With ``eta = 1/beta``:
    ``L_{t+1} <= (1 - mu/beta) L_t``, ``||w_{t+1} - w_t|| <= sqrt(2 L_t
    / beta)``, ``sum_t ||w_{t+1} - w_t|| <= sqrt(2 L0/beta) / (1 -
    sqrt(1 - mu/beta)) <= 2 sqrt(2 beta L0)/mu = R``.

    Examples
    --------
    >>> [s.verify() for s in pl_ball_steps()][:3]
    [None, True, True]
    """
    step = Symbol("eta", positive=True)
    e = Symbol("e", nonnegative=True)
    u = Symbol("u", nonnegative=True)
    sq = Symbol("s", positive=True)
    tt = Symbol("i", integer=True, nonnegative=True)
    q = 1 - mu / beta
    R = pl_ball_radius(beta, L_0, mu)
    desc = Lt - gn**2 / (2 * beta)

    def geometric():
        total = summation(sq**tt, (tt, 0, oo))
        branch, cond = total.args[0]
        return cond == (sq < 1) and is_zero(branch - 1 / (1 - sq))

    def final():
        # mu = beta (1 - s^2) with s = sqrt(1 - mu/beta) in (0, 1):
        # R - lhs = sqrt(2 L0/beta) / (1 + s) >= 0
        lhs = sqrt(2 * L_0 / beta) / (1 - sqrt(1 - mu / beta))
        diff = cancel(expand((R - lhs).subs(mu, beta * (1 - sq**2))))
        return is_zero(diff - sqrt(2 * L_0 / beta) / (1 + sq)) and _nonneg(diff)

    return [
        Step("descent_lemma", Lnext, "<=", Lt - step * gn**2 + beta * step**2 / 2 * gn**2,
             how="assumption", tag="[RECON]", source="PL ball",
             given="L is beta-smooth on the segment [w_t, w_{t+1}]"),
        Step("descent_at_1_over_beta",
             (Lt - step * gn**2 + beta * step**2 / 2 * gn**2).subs(step, 1 / beta), "==",
             desc, tag="[DERIVED]", source="PL ball", given="eta = 1/beta"),
        Step("pl_contraction", desc, "<=", q * Lt, tag="[DERIVED]", source="PL ball",
             given="||g||^2 >= 2 mu L_t (PL); write ||g||^2 = 2 mu L_t + e",
             proof=lambda: _nonneg(q * Lt - desc, {gn: sqrt(2 * mu * Lt + e)})),
        Step("step_length_identity", (gn / beta) ** 2, "==",
             2 / beta * (gn**2 / (2 * beta)), tag="[DERIVED]", source="PL ball",
             note="||w_{t+1} - w_t|| = ||g||/beta; with descent, ||g||^2/(2 beta) <= "
                  "L_t - L_{t+1}"),
        Step("step_length", sqrt(2 * (Lt - Lnext) / beta), "<=", sqrt(2 * Lt / beta),
             tag="[DERIVED]", source="PL ball", given="L_{t+1} >= 0; write L_t = L_{t+1} + u",
             proof=lambda: _nonneg((2 * Lt / beta) - 2 * (Lt - Lnext) / beta, {Lt: Lnext + u})),
        Step("geometric_series", Symbol("Sum_i s**i"), "==", 1 / (1 - sq),
             tag="[DERIVED]", source="PL ball",
             given="s = sqrt(1 - mu/beta) in (0, 1); L_i <= s^(2i) L0", proof=geometric),
        one_minus_sqrt_bound(S.x_frac),
        Step("radius", sqrt(2 * L_0 / beta) / (1 - sqrt(1 - mu / beta)), "<=", R,
             tag="[DERIVED]", source="PL ball",
             given="x = mu/beta in (0, 1] and 1 - sqrt(1 - x) >= x/2", proof=final),
        Step("radius_other_convention", pl_ball_radius(beta, L_0, mu / 2), "==", 2 * R,
             tag="[DERIVED]", source="PL ball",
             note="with ||grad L||^2 >= mu L (i.e. 2 (mu/2) L) the radius doubles"),
    ]


def ntk_pl_steps(mu=S.mu_Phi):
    """PL constant of ``h`` from the empirical NTK and Lemma 1.

    Parameters
    ----------
    mu : sympy.Expr
        ``mu_Phi``.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED] (``paper.md`` section 3, PL / NTK link):
    ``||grad h||^2 = 4 r^T K r >= 4 lambda_min(K) h``; in the ball
    ``lambda_min(K) = sigma_min(grad Phi*)^2 >= mu^2/4``, hence
    ``||grad h||^2 >= mu^2 h = 2 (alpha_f mu^2 / 4) h``.

    Examples
    --------
    >>> [s.verify() for s in ntk_pl_steps()]
    [None, None, True, True]
    """
    lam = Symbol("lambda_min", positive=True)
    Hh = Symbol("h", positive=True)
    e = Symbol("e", nonnegative=True)
    return [
        Step("rayleigh", Symbol("grad_h_sq"), ">=", 4 * lam * Hh, how="assumption",
             tag="[DERIVED]", source="PL/NTK",
             given="grad h = 2 J^T r, ||grad h||^2 = 4 r^T K r >= 4 lambda_min(K) ||r||^2"),
        Step("lemma1_in_ball", lam, ">=", mu**2 / 4, how="assumption", tag="[DERIVED]",
             source="Lemma 1", given="lambda_min(K) = sigma_min(grad Phi*)^2 >= (mu/2)^2"),
        Step("pl_of_h", 4 * lam * Hh, ">=", mu**2 * Hh, tag="[DERIVED]", source="PL/NTK",
             given="lambda_min = mu^2/4 + e", proof=lambda: _nonneg(
                 4 * lam * Hh - mu**2 * Hh, {lam: mu**2 / 4 + e})),
        Step("alpha_h", mu**2 * Hh, "==", 2 * (2 * mu**2 / 4) * Hh, tag="[DERIVED]",
             source="PL/NTK", note="alpha_h = alpha_f mu_Phi^2 / 4 = mu_Phi^2 / 2"),
    ]


def pl_ball_radius_general(beta=S.beta_pl, L_0=S.L0, mu=S.mu_pl, step=S.eta):
    """PL-ball radius for a general step ``eta < 2/beta``.

    Parameters
    ----------
    beta, L_0, mu : sympy.Expr
        Smoothness, ``L(w0)``, PL constant (``||grad L||^2 >= 2 mu L``).
    step : sympy.Expr
        Step size ``eta``.

    Returns
    -------
    sympy.Expr
        ``R(eta) = sqrt(L0 / eta) / (mu (1 - beta eta / 2)^{3/2})``; equals
        ``2 sqrt(2 beta L0)/mu`` at ``eta = 1/beta``.

    Notes
    -----
    [DERIVED]; see :func:`pl_ball_general_steps`.

    Examples
    --------
    >>> from derivations.symbols import beta_pl
    >>> pl_ball_radius_general(step=1 / beta_pl)
    2*sqrt(2)*sqrt(L_0)*sqrt(beta)/mu
    """
    return sqrt(L_0 / step) / (mu * (1 - beta * step / 2) ** Rational(3, 2))


def pl_ball_contraction_general(beta=S.beta_pl, mu=S.mu_pl, step=S.eta):
    """Per-step contraction ``1 - 2 mu eta (1 - beta eta / 2)`` for ``eta < 2/beta``.

    Parameters
    ----------
    beta, mu, step : sympy.Expr
        Smoothness, PL constant and step size (symbols by default).

    Returns
    -------
    sympy.Expr
        The contraction factor.

    Notes
    -----
    [DERIVED]; equals ``1 - mu/beta`` at ``eta = 1/beta``.

    Examples
    --------
    >>> from derivations.symbols import beta_pl
    >>> pl_ball_contraction_general(step=1 / beta_pl)
    1 - mu/beta
    """
    return 1 - 2 * mu * step * (1 - beta * step / 2)


def pl_ball_general_steps(mu=S.mu_pl, beta=S.beta_pl, L_0=S.L0, Lt=S.L_t, Lnext=S.L_next,
                          gn=S.g_norm, step=S.eta):
    """The PL-ball argument with a general step ``0 < eta < 2/beta``.

    Parameters
    ----------
    mu, beta, L_0, Lt, Lnext, gn, step : sympy.Symbol
        PL constant, smoothness, ``L(w0)``, ``L(w_t)``, ``L(w_{t+1})``,
        ``||grad L(w_t)||`` and step size.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED].  With ``c = 1 - beta eta / 2 > 0``: descent
    ``L_{t+1} <= L_t - eta c ||g||^2 <= q L_t``, ``q = 1 - 2 mu eta c``;
    step ``||w_{t+1} - w_t||^2 = eta^2 ||g||^2 <= (eta / c)(L_t -
    L_{t+1}) <= eta L_t / c``; total length ``<= sqrt(eta L0 / c) / (1 -
    sqrt(q)) <= 2 sqrt(eta L0 / c) / (1 - q) = R(eta)``.

    Examples
    --------
    >>> all(s.verify() in (True, None) for s in pl_ball_general_steps())
    True
    """
    c = Symbol("c", positive=True)  # c = 1 - beta eta / 2
    e = Symbol("e", nonnegative=True)
    sq = Symbol("s", positive=True)
    q = 1 - 2 * mu * step * c
    desc = Lt - step * c * gn**2
    R = pl_ball_radius_general(beta, L_0, mu, step)

    def radius_proof():
        # q = s^2, so 2 mu eta c = 1 - s^2; compare 1/(1 - s) with 2/(1 - s^2)
        A = sqrt(step * L_0 / c)
        lhs = A / (1 - sq)
        rhs = 2 * A / (1 - sq**2)
        diff_ = cancel(rhs - lhs)
        ok = is_zero(diff_ - A / (1 + sq)) and _nonneg(diff_)
        # and 2 A / (2 mu eta c) is R(eta) once c = 1 - beta eta/2
        same = is_zero((2 * A / (2 * mu * step * c)).subs(c, 1 - beta * step / 2) ** 2 - R**2)
        return ok and same

    return [
        Step("descent_general", Lt - step * gn**2 + beta * step**2 / 2 * gn**2, "==",
             Lt - step * (1 - beta * step / 2) * gn**2, tag="[DERIVED]", source="PL ball",
             given="descent lemma (assumption, see pl_ball_steps)"),
        Step("contraction_general", desc, "<=", q * Lt, tag="[DERIVED]", source="PL ball",
             given="||g||^2 = 2 mu L_t + e, e >= 0; c = 1 - beta eta/2 > 0",
             proof=lambda: _nonneg(q * Lt - desc, {gn: sqrt(2 * mu * Lt + e)})),
        Step("step_general", step**2 * gn**2, "==", step / c * (step * c * gn**2),
             tag="[DERIVED]", source="PL ball",
             note="and eta c ||g||^2 <= L_t - L_{t+1} <= L_t"),
        Step("radius_general", sqrt(step * L_0 / c) / (1 - sq), "<=", R, tag="[DERIVED]",
             source="PL ball", given="s = sqrt(q) in (0, 1), 1 - sqrt(q) >= (1 - q)/2",
             proof=radius_proof),
        Step("radius_at_1_over_beta", pl_ball_radius_general(beta, L_0, mu, 1 / beta), "==",
             pl_ball_radius(beta, L_0, mu), tag="[DERIVED]", source="PL ball"),
        Step("contraction_at_1_over_beta", pl_ball_contraction_general(beta, mu, 1 / beta),
             "==", 1 - mu / beta, tag="[DERIVED]", source="PL ball"),
    ]


def theorem2_constant_steps(mu=S.mu_Phi, alpha=S.alpha_f, beta=S.beta_pl, step=S.eta):
    """Show that (14) holds with ``C = 1/4`` for ``eta <= 1/beta_h`` in the ball.

    Parameters
    ----------
    mu, alpha : sympy.Expr
        ``mu_Phi`` and ``alpha_f``.
    beta : sympy.Expr
        Smoothness ``beta_h`` of ``h`` on the ball.
    step : sympy.Expr
        Step size ``eta``.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED].  In the ball, ``h`` is PL with ``mu_h = alpha_f mu_Phi^2/4``
    (:func:`ntk_pl_steps`), so the general-step PL-ball contraction is
    ``1 - 2 mu_h eta (1 - beta eta/2)``; for ``beta eta <= 1`` the factor
    ``1 - beta eta/2 >= 1/2`` and the contraction is at most
    ``1 - (1/4) eta alpha_f mu_Phi^2``: eq. (14) with ``C = 1/4``.

    Examples
    --------
    >>> [s.verify() for s in theorem2_constant_steps()]
    [None, True, True]
    """
    u = Symbol("u", nonnegative=True)  # beta eta = 1 - u, in (0, 1]
    mu_h = alpha * mu**2 / 4
    q = pl_ball_contraction_general(beta, mu_h, step)
    q14 = theorem2_rate(step, alpha, mu, Rational(1, 4))
    return [
        Step("pl_constant_in_ball", Symbol("mu_h"), "==", mu_h, how="assumption",
             tag="[DERIVED]", source="Lemma 1 + PL/NTK",
             given="||grad h||^2 >= 4 lambda_min(K) h >= mu_Phi^2 h in B(w0, rho_Phi)"),
        Step("contraction_in_ball", q, "==",
             1 - alpha * mu**2 * step * (1 - beta * step / 2) / 2, tag="[DERIVED]",
             source="PL ball", lhs_label="pl_ball_contraction_general(beta, mu_h, eta)"),
        Step("eq14_with_C_quarter", q, "<=", q14, tag="[DERIVED]", source="eq. (14)",
             given="beta eta = 1 - u <= 1",
             proof=lambda: _nonneg(q14 - q, {beta: (1 - u) / step})),
    ]
