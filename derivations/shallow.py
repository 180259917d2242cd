"""The shallow network: Lemma 3's constants and the chain (9) -> (20) -> (21).

Lemma 3 gives ``mu_Phi``, ``nu_Phi`` and ``beta_Phi`` for
``Phi(W, V) = V phi(W X)``; the follow-up refines ``beta_Phi``,
``rho_Phi`` and ``chi_max``.  Putting the high-probability scalings
``mu_Phi = a sqrt(d1) s_t``, ``nu_Phi = b sqrt(d1 n)``,
``beta_Phi = c sigma_max(X)`` and ``h0 = k sigma_max(X)^2`` into
Theorem 1's condition (9) and solving for ``d1`` gives the width
requirement (20); the heuristics ``sigma_max(X)^2 = n/d0`` and
``s_t = 1`` then give (21), ``d1 >~ n^{3/2}/d0``, i.e. a parameter count
``d0 d1 >~ n^{3/2}``.  Everything here is derived by SymPy from (9); no
result is typed in.

Notes
-----
``paper.md`` section 3 (Lemma 3 [EXACT], follow-up refinements
[FOLLOW-UP], SymPy chain [DERIVED]) and section 4 (the scalings are
high-probability statements of random-matrix theory, taken as given).

Examples
--------
>>> from derivations.shallow import parameter_count_exponent
>>> parameter_count_exponent()
3/2
"""

from sympy import Abs, Max, Rational, Symbol, cancel, diff, factorial, solve, sqrt

from . import symbols as S
from .framework import _nonneg, lemma1_radius, theorem1_condition
from .steps import Step, is_zero

__all__ = [
    "lemma3_constants", "followup_constants", "followup_steps", "exponent",
    "eq20_derivation", "eq21_derivation", "width_exponents", "parameter_count_exponent",
    "followup_scaling_constants", "initial_loss_steps", "lemma3_init_estimates",
]


def lemma3_constants(sigma_min_phi=S.sigma_min_phi, sigma_max_phi=S.sigma_max_phi,
                     sigma_max_X=S.sigma_max_X, sigma_max_V0=S.sigma_max_V0,
                     phi_dot_max=S.phi_dot_max, phi_ddot_max=S.phi_ddot_max,
                     chi_max=S.chi_max):
    """Lemma 3's constants of the shallow network, eq. (18).

    Parameters
    ----------
    sigma_min_phi, sigma_max_phi : sympy.Expr
        Extreme singular values of ``phi(W0 X)``.
    sigma_max_X, sigma_max_V0 : sympy.Expr
        ``sigma_max(X)`` and ``sigma_max(V0)``.
    phi_dot_max, phi_ddot_max : sympy.Expr
        ``sup|phi'|`` and ``sup|phi''|``.
    chi_max : sympy.Expr
        ``sup_V sigma_max(V)`` over the region considered.

    Returns
    -------
    dict
        Keys ``mu_Phi``, ``nu_Phi``, ``beta_Phi``, ``rho_Phi``.

    Notes
    -----
    [EXACT] Lemma 3, eq. (18):
    ``mu = sigma_min(phi(W0X))``,
    ``nu = phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0X))``,
    ``beta = sqrt(2) sigma_max(X) (phi_dot_max + phi_ddot_max chi_max)``;
    ``rho = mu / (2 beta)`` from Lemma 1.

    Examples
    --------
    >>> lemma3_constants()["beta_Phi"]
    sqrt(2)*sigma_max_X*(chi_max*phi_ddot_max + phi_dot_max)
    """
    mu = sigma_min_phi
    beta = sqrt(2) * sigma_max_X * (phi_dot_max + phi_ddot_max * chi_max)
    return {
        "mu_Phi": mu,
        "nu_Phi": phi_dot_max * sigma_max_X * sigma_max_V0 + sigma_max_phi,
        "beta_Phi": beta,
        "rho_Phi": lemma1_radius(mu, beta),
    }


def followup_constants(mu=S.mu_Phi, sigma_max_X=S.sigma_max_X, sigma_max_V0=S.sigma_max_V0,
                       phi_dot_max=S.phi_dot_max, phi_ddot_max=S.phi_ddot_max):
    """The follow-up's refined ``beta_Phi``, ``rho_Phi`` and ``chi_max``.

    Parameters
    ----------
    mu : sympy.Expr
        ``mu_Phi = sigma_min(phi(W0 X))``.
    sigma_max_X, sigma_max_V0, phi_dot_max, phi_ddot_max : sympy.Expr
        ``sigma_max(X)``, ``sigma_max(V0)``, ``sup|phi'|``, ``sup|phi''|``.

    Returns
    -------
    dict
        Keys ``beta_Phi``, ``rho_Phi``, ``chi_max``.

    Notes
    -----
    [FOLLOW-UP]: on ``B_rho(V0, W0)``,
    ``beta = sqrt(2) sigma_max(X)(phi_dot_max + sigma_max(V0)) +
    phi_ddot_max mu / (2 phi_dot_max)``, ``rho = mu/(2 beta)``,
    ``chi_max = sigma_max(V0) + mu / (2 sqrt(2) sigma_max(X) phi_dot_max)``.

    Examples
    --------
    >>> followup_constants()["chi_max"]
    sqrt(2)*mu_Phi/(4*phi_dot_max*sigma_max_X) + sigma_max_V0
    """
    beta = (sqrt(2) * sigma_max_X * (phi_dot_max + sigma_max_V0)
            + phi_ddot_max * mu / (2 * phi_dot_max))
    return {
        "beta_Phi": beta,
        "rho_Phi": lemma1_radius(mu, beta),
        "chi_max": sigma_max_V0 + mu / (2 * sqrt(2) * sigma_max_X * phi_dot_max),
    }


def followup_steps(mu=S.mu_Phi, sigma_max_X=S.sigma_max_X, sigma_max_V0=S.sigma_max_V0,
                   phi_dot_max=S.phi_dot_max, phi_ddot_max=S.phi_ddot_max):
    """Algebra about the follow-up constants.

    Parameters
    ----------
    mu, sigma_max_X, sigma_max_V0, phi_dot_max, phi_ddot_max : sympy.Expr
        ``mu_Phi``, ``sigma_max(X)``, ``sigma_max(V0)``, ``sup|phi'|``, ``sup|phi''|``.

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED]:

    * ``rho_Phi <= phi_dot_max / phi_ddot_max`` (the follow-up's
      ``beta`` contains ``phi_ddot_max mu / (2 phi_dot_max)``);
    * the paper's ``beta`` evaluated at the follow-up's ``chi_max`` is
      ``sqrt(2) sigma_max(X)(phi_dot_max + phi_ddot_max sigma_max(V0)) +
      phi_ddot_max mu/(2 phi_dot_max)``: it differs from the follow-up's
      form only in the factor ``phi_ddot_max`` on ``sigma_max(V0)``, so
      the two agree when ``phi_ddot_max = 1`` and the paper's is smaller
      when ``phi_ddot_max < 1`` (GELU: ``2/sqrt(2 pi) = 0.80``).

    Examples
    --------
    >>> [s.verify() for s in followup_steps()]
    [True, True, True]
    """
    fu = followup_constants(mu, sigma_max_X, sigma_max_V0, phi_dot_max, phi_ddot_max)
    paper_at_chi = lemma3_constants(mu, S.sigma_max_phi, sigma_max_X, sigma_max_V0,
                                    phi_dot_max, phi_ddot_max, fu["chi_max"])["beta_Phi"]
    A = Symbol("A", positive=True)
    e = Symbol("e", nonnegative=True)
    A_val = sqrt(2) * sigma_max_X * (phi_dot_max + sigma_max_V0)
    rho_generic = mu / (2 * (A + phi_ddot_max * mu / (2 * phi_dot_max)))
    return [
        Step("rho_le_phi_ratio", fu["rho_Phi"], "<=", phi_dot_max / phi_ddot_max,
             tag="[DERIVED]", source="follow-up",
             given="beta = A + phi_ddot mu/(2 phi_dot) with A = sqrt(2) sigma_X (phi_dot + "
                   "sigma_V0) > 0",
             proof=lambda: (is_zero(fu["beta_Phi"] - A_val - phi_ddot_max * mu / (2 * phi_dot_max))
                            and A_val.is_positive is True
                            and _nonneg(phi_dot_max / phi_ddot_max - rho_generic))),
        Step("paper_beta_at_followup_chi", paper_at_chi, "==",
             sqrt(2) * sigma_max_X * (phi_dot_max + phi_ddot_max * sigma_max_V0)
             + phi_ddot_max * mu / (2 * phi_dot_max), tag="[DERIVED]",
             source="Lemma 3 / follow-up"),
        Step("paper_le_followup_if_ddot_le_1",
             paper_at_chi.subs(phi_ddot_max, 1 - e), "<=",
             fu["beta_Phi"].subs(phi_ddot_max, 1 - e), tag="[DERIVED]",
             source="Lemma 3 / follow-up", given="phi_ddot_max = 1 - e <= 1",
             proof=lambda: _nonneg(fu["beta_Phi"].subs(phi_ddot_max, 1 - e)
                                   - paper_at_chi.subs(phi_ddot_max, 1 - e))),
    ]


def exponent(expr, var):
    """Exponent of ``var`` in a monomial-in-``var`` expression.

    Parameters
    ----------
    expr : sympy.Expr
        An expression of the form ``K * var**p`` (``K`` free of ``var``).
    var : sympy.Symbol
        The variable of the activation / polynomial.

    Returns
    -------
    sympy.Rational
        ``p``, computed as the logarithmic derivative ``var expr'/expr``.

    Raises
    ------
    ValueError
        If ``expr`` is not a monomial in ``var``.

    Examples
    --------
    >>> from derivations.symbols import n, d0
    >>> exponent(n**3 * n**(-1) / (2 * d0), n)
    2
    """
    p = cancel(var * diff(expr, var) / expr)
    if var in p.free_symbols or p.free_symbols:
        raise ValueError(f"expr is not a monomial in {var}: log-derivative {p}")
    return p


def initial_loss_steps(omega1_sq=1 / S.d0, omega2_sq=1 / S.d1):
    """Why ``h0 = k sigma_max(X)^2``: the initial output at LeCun init.

    Parameters
    ----------
    omega1_sq, omega2_sq : sympy.Expr
        Initialization variances (LeCun by default).

    Returns
    -------
    list of Step
        The steps, in the order of the proof.

    Notes
    -----
    [DERIVED] (``paper.md`` section 4, initial output):
    ``E||V0 phi(W0 X)||^2 = omega2^2 d1 d2 n E[phi(omega1 g)^2] <=
    omega2^2 d1 d2 n phi_dot_max^2 omega1^2`` (``phi(0) = 0`` and
    ``phi`` is ``phi_dot_max``-Lipschitz, an assumption); at LeCun init
    this is ``d2 n phi_dot_max^2 / d0 = d2 phi_dot_max^2 sigma_max(X)^2``
    under the heuristic ``sigma_max(X)^2 = n/d0``.  With ``||Y|| <= 1``,
    ``h0 <= 2||V0 phi(W0X)||^2 + 2``.

    Examples
    --------
    >>> [s.verify() for s in initial_loss_steps()]
    [None, True, True]
    """
    Ephi2 = Symbol("E_phi_sq", positive=True)
    bound = omega2_sq * S.d1 * S.d2 * S.n * S.phi_dot_max**2 * omega1_sq
    return [
        Step("lipschitz", Ephi2, "<=", S.phi_dot_max**2 * omega1_sq, how="assumption",
             tag="[DERIVED]", source="Sec. 4", given="phi(0) = 0, |phi'| <= phi_dot_max"),
        Step("lecun_output", bound, "==", S.d2 * S.n * S.phi_dot_max**2 / S.d0,
             tag="[DERIVED]", source="Sec. 4", given="omega1^2 = 1/d0, omega2^2 = 1/d1"),
        Step("heuristic_output", (S.d2 * S.n * S.phi_dot_max**2 / S.d0).subs(
            S.n, S.sigma_max_X**2 * S.d0), "==", S.d2 * S.phi_dot_max**2 * S.sigma_max_X**2,
             tag="[DERIVED]", source="Sec. 4", given="sigma_max(X)^2 = n/d0"),
    ]


def eq20_derivation(a=S.a_mu, b=S.b_nu, c=S.c_beta, k=S.k_h0, C=S.C_9, alpha=S.alpha_f,
                    d1=S.d1, n=S.n, sigma=S.sigma_max_X, st=S.s_t):
    """Solve Theorem 1's condition (9) for the width: eq. (20).

    Parameters
    ----------
    a, b, c, k : sympy.Symbol
        Scaling constants of ``mu_Phi``, ``nu_Phi``, ``beta_Phi``, ``h0``.
    C : sympy.Symbol
        Universal constant of (9).
    alpha : sympy.Expr
        ``alpha_f``.
    d1, n, sigma, st : sympy.Symbol
        Width, sample size, ``sigma_max(X)``, ``s_t = sigma_min(X^{*t})``.

    Returns
    -------
    dict
        ``d1_min`` (the threshold solved from (9)), ``scaling``
        (``sigma^2 sqrt(n) / s_t^3``, obtained by dividing out the
        constant factor), ``xi`` (that factor, free of ``n, sigma, s_t,
        d1``), ``substituted`` (the inequality after substitution) and
        ``steps``.

    Notes
    -----
    [DERIVED] (``paper.md`` section 3, SymPy chain).  Substituting
    ``mu = a sqrt(d1) s_t``, ``nu = b sqrt(d1 n)``, ``beta = c sigma``,
    ``h0 = k sigma^2`` into (9) gives
    ``d1^2 >= (k b^2 c^2 / (C alpha a^6)) sigma^4 n / s_t^6``, so
    ``d1 = Omega(sigma_max(X)^2 sqrt(n) / sigma_min(X^{*t})^3)``, eq. (20)
    [EXACT up to the paper's xi and logs].

    Examples
    --------
    >>> out = eq20_derivation()
    >>> out["scaling"]
    sqrt(n)*sigma_max_X**2/s_t**3
    """
    subs = {S.mu_Phi: a * sqrt(d1) * st, S.nu_Phi: b * sqrt(d1 * n),
            S.beta_Phi: c * sigma, S.h0: k * sigma**2}
    cond9 = theorem1_condition(S.h0, alpha, S.mu_Phi, S.nu_Phi, S.beta_Phi, C)
    lhs9, rhs9 = cond9.lhs.subs(subs), cond9.rhs.subs(subs)
    rhs_target = C * alpha * a**6 * d1**2 * st**6 / (b**2 * c**2 * n * sigma**2)
    roots = [r for r in solve(lhs9 - rhs9, d1) if r.is_positive]
    if len(roots) != 1:
        raise RuntimeError(f"expected one positive root of (9) in d1, got {roots}")
    d1_min = roots[0]
    # separate the data-dependent part from the constant factor:
    # the exponents of sigma, n and s_t are read off the threshold itself
    scaling = (sigma ** exponent(d1_min, sigma) * n ** exponent(d1_min, n)
               * st ** exponent(d1_min, st))
    xi = cancel(d1_min / scaling)
    d1sq = k * b**2 * c**2 * sigma**4 * n / (C * alpha * a**6 * st**6)
    # the constant as the digest writes it, typed independently of solve()
    xi_paper = sqrt(k * b**2 * c**2 / (C * alpha * a**6))
    steps = [
        Step("eq9", S.h0, "<=", cond9.rhs, how="assumption", tag="[EXACT]",
             source="eq. (9)", given="Theorem 1's hypothesis (O-statement, constant C)"),
        Step("scaling_mu", S.mu_Phi, "==", subs[S.mu_Phi], how="assumption",
             tag="[DERIVED]", source="Sec. 5.3",
             given="w.h.p. sqrt(c_t^2 d1/t!) s_t <~ sigma_min(phi(W0X)) (a = sqrt(c_t^2/t!))"),
        Step("scaling_nu", S.nu_Phi, "==", subs[S.nu_Phi], how="assumption",
             tag="[DERIVED]", source="Sec. 5.3",
             given="w.h.p. sigma_max(phi(W0X)) <~ c0 sqrt(d1 n) dominates nu_Phi (b ~ |c0|)"),
        Step("scaling_beta", S.beta_Phi, "==", subs[S.beta_Phi], how="assumption",
             tag="[DERIVED]", source="Lemma 3",
             given="beta = sqrt(2) sigma_max(X)(phi_dot + phi_ddot chi_max), chi_max = O(1)"),
        Step("scaling_h0", S.h0, "==", subs[S.h0], how="assumption", tag="[DERIVED]",
             source="Sec. 4", given="initial output at LeCun init (initial_loss_steps)"),
        Step("substituted_rhs", rhs9, "==", rhs_target, tag="[DERIVED]", source="eq. (9)",
             lhs_label="[right side of (9) after the substitutions]",
             note="(9) becomes k sigma^2 <= C alpha a^6 d1^2 s_t^6 / (b^2 c^2 n sigma^2)"),
        Step("rhs_increasing_in_d1", diff(rhs9, d1), ">", 0, tag="[DERIVED]",
             source="eq. (20)", note="so (9) holds iff d1 >= the positive root",
             proof=lambda: diff(rhs9, d1).is_positive is True),
        Step("solve_d1", d1_min**2, "==", d1sq, tag="[DERIVED]", source="eq. (20)",
             lhs_label="d1_min**2  [d1_min = the positive root in d1 of (9), by solve]",
             note="d1^2 >= k b^2 c^2 sigma^4 n / (C alpha a^6 s_t^6)"),
        Step("eq20", d1_min, "==", xi_paper * sigma**2 * sqrt(n) / st**3, tag="[EXACT]",
             lhs_label="d1_min",
             source="eq. (20)",
             note="d1 = Omega(xi sigma_max(X)^2 sqrt(n) / sigma_min(X^{*t})^3); the paper's "
                  "xi(C_delta, t, phi, {c_i}) and logs are not retrieved"),
    ]
    return {"d1_min": d1_min, "scaling": scaling, "xi": xi, "xi_paper": xi_paper,
            "substituted": (lhs9, rhs9), "steps": steps}


def eq21_derivation(d0=S.d0, n=S.n, sigma=S.sigma_max_X, st=S.s_t, **kwargs):
    """Apply the heuristics ``sigma_max(X)^2 = n/d0``, ``s_t = 1`` to (20).

    Parameters
    ----------
    d0, n, sigma, st : sympy.Symbol
        Input dimension, samples, ``sigma_max(X)``, ``s_t``.
    **kwargs
        Passed to :func:`eq20_derivation`.

    Returns
    -------
    dict
        ``d1_min`` (``xi n^{3/2}/d0``), ``parameter_count``
        (``d0 d1_min``), exponents ``width_n``, ``width_d0``,
        ``params_n``, ``params_d0``, ``linear_width_n`` (exponent of
        ``n`` in ``d1_min`` when ``d0 = sqrt(n)``) and ``steps``.

    Notes
    -----
    [EXACT] eq. (21): ``d1 >~ n^{3/2}/d0``, hence ``d0 d1 = Omega~(n^{3/2})``;
    linear width suffices when ``d0 = Omega~(sqrt(n))``.  The exponent 3/2
    is on the parameter count and rests on the heuristic sigma estimates
    (after Oymak & Soltanolkotabi 2020).

    Examples
    --------
    >>> eq21_derivation()["width_n"]
    3/2
    """
    out20 = eq20_derivation(n=n, sigma=sigma, st=st, **kwargs)
    heur = {sigma: sqrt(n / d0), st: 1}
    d1_min = out20["d1_min"].subs(heur)
    params = d0 * d1_min
    xi = out20["xi_paper"]
    lin = d1_min.subs(d0, sqrt(n))
    res = {
        "d1_min": d1_min, "parameter_count": params, "xi": xi,
        "width_n": exponent(d1_min, n), "width_d0": exponent(d1_min, d0),
        "params_n": exponent(params, n), "params_d0": exponent(params, d0),
        "linear_width_n": exponent(lin, n),
    }
    res["steps"] = list(out20["steps"]) + [
        Step("heuristic_sigma", sigma**2, "==", n / d0, how="assumption", tag="[EXACT]",
             source="Sec. 2 / 5.3", given="sigma_max(X) ~ sqrt(n/d0) (Oymak-Soltanolkotabi)"),
        Step("heuristic_s_t", st, "==", 1, how="assumption", tag="[EXACT]",
             source="Sec. 2 / 5.3", given="sigma_min(X^{*t}) ~ sqrt(n/d0^t) ~ 1 for n ~ d0^t"),
        Step("eq21", d1_min, "==", xi * n ** Rational(3, 2) / d0, tag="[EXACT]",
             lhs_label="d1_min at sigma_max_X = sqrt(n/d0), s_t = 1",
             source="eq. (21)", note="d1 >~ n^{3/2}/d0"),
        Step("width_exponent_n", res["width_n"], "==", Rational(3, 2), tag="[DERIVED]",
             lhs_label="exponent of n in d1_min (log-derivative n d'/d)",
             source="eq. (21)"),
        Step("parameter_count", params, "==", xi * n ** Rational(3, 2), tag="[EXACT]",
             lhs_label="d0 * d1_min",
             source="Sec. 5.3", note="d0 d1 = Omega~(n^{3/2}): the 3/2 of Table 1"),
        Step("params_exponent_n", res["params_n"], "==", Rational(3, 2), tag="[EXACT]",
             lhs_label="exponent of n in d0 * d1_min",
             source="Table 1"),
        Step("linear_width", lin, "==", xi * n, tag="[EXACT]", source="Sec. 5.3",
             lhs_label="d1_min at d0 = sqrt(n)",
             given="d0 = sqrt(n)", note="linear width d1 = O~(n) when d0 = Omega~(sqrt(n))"),
    ]
    return res


def width_exponents():
    """Return the exponents of ``n`` and ``d0`` in (21)'s width ``d1 >~ n^{3/2}/d0``.

    Returns
    -------
    dict
        ``{"n": 3/2, "d0": -1}`` as SymPy numbers, derived from (9).

    Examples
    --------
    >>> width_exponents()
    {'n': 3/2, 'd0': -1}
    """
    out = eq21_derivation()
    return {"n": out["width_n"], "d0": out["width_d0"]}


def parameter_count_exponent():
    """Exponent of ``n`` in the parameter count ``d0 d1 >~ n^{3/2}``.

    Returns
    -------
    sympy.Rational
        ``3/2``, derived from (9) through (20) and (21).

    Examples
    --------
    >>> parameter_count_exponent()
    3/2
    """
    return eq21_derivation()["params_n"]


def followup_scaling_constants(ct=S.c_t, c_0=S.c0, tt=S.t, delta1=None, delta2=None):
    """The scaling constants ``a``, ``b`` from the follow-up's Lemma 2.

    Parameters
    ----------
    ct, c_0 : sympy.Expr
        Hermite coefficients ``c_t`` and ``c_0``.
    tt : sympy.Expr
        Khatri-Rao power ``t``.
    delta1, delta2 : sympy.Expr, optional
        Concentration slacks (symbols ``delta_1``, ``delta_2`` in
        ``[0, 1)`` by default).

    Returns
    -------
    dict
        ``{"a": sqrt((1 - delta1) c_t^2 / t!), "b": |c0| sqrt(1 + delta2)}``.

    Notes
    -----
    [FOLLOW-UP] Lemma 2 (attributed to the paper):
    ``mu = sqrt((1 - delta1) c_t^2 d1 / t!) sigma_min(X^{*t})`` and the
    ``|c0| sqrt((1 + delta2) d1 m)`` branch of ``nu`` (the one that
    dominates when ``c0 != 0`` and ``n`` is large).

    Examples
    --------
    >>> followup_scaling_constants()["a"]
    sqrt(1 - delta_1)*Abs(c_t)/sqrt(factorial(t))
    """
    if delta1 is None:
        delta1 = Symbol("delta_1", nonnegative=True)
    if delta2 is None:
        delta2 = Symbol("delta_2", nonnegative=True)
    return {"a": sqrt((1 - delta1) * ct**2 / factorial(tt)),
            "b": Abs(c_0) * sqrt(1 + delta2)}


def lemma3_init_estimates(omega1=S.omega1, omega2=S.omega2, ct=S.c_t, c_0=S.c0,
                          var=S.var_phi, E_sq=S.E_phi_sq, tt=S.t, delta1=S.delta_1,
                          delta2=S.delta_2, d1=S.d1, d2=S.d2, n=S.n, sigma=S.sigma_max_X,
                          st=S.s_t, phi_dot_max=S.phi_dot_max, phi_ddot_max=S.phi_ddot_max,
                          y_sq=S.y_sq, sigma_max_V0=None):
    """Lemma 3's constants at initialization, from the random-matrix estimates.

    Parameters
    ----------
    omega1, omega2 : sympy.Expr
        Standard deviations of ``W0`` and ``V0``.
    ct, c_0 : sympy.Expr
        Hermite coefficients ``c_t(omega1)``, ``c_0(omega1)`` of
        ``x -> phi(omega1 x)``.
    var, E_sq : sympy.Expr
        ``Var[phi(omega1 g)] = c_1^2 + c_inf^2`` and ``E[phi(omega1 g)^2]``.
    tt : sympy.Expr
        Khatri-Rao power ``t``.
    delta1, delta2 : sympy.Expr
        Concentration slacks of ``mu`` and ``nu``.
    d1, d2, n : sympy.Expr
        Width, output dimension, samples.
    sigma, st : sympy.Expr
        ``sigma_max(X)`` and ``s_t = sigma_min(X^{*t})``.
    phi_dot_max, phi_ddot_max : sympy.Expr
        ``sup|phi'|`` and ``sup|phi''|``.
    y_sq : sympy.Expr
        ``||Y||_F^2``.
    sigma_max_V0 : sympy.Expr, optional
        Estimate of ``sigma_max(V0)``; default ``omega2 (sqrt(d1) +
        sqrt(d2))``.

    Returns
    -------
    dict
        ``mu_Phi``, ``sigma_max_V0``, ``nu_v0`` (``phi_dot_max
        sigma_max(X) sigma_max(V0)``), ``nu_mean`` and ``nu_linear`` (the
        two parts of ``sigma_max(phi(W0X))``), ``sigma_max_phi`` (their
        ``Max``), ``nu_Phi`` (Lemma 3's sum), ``chi_max``, ``beta_Phi``,
        ``h0`` and ``steps``.

    Notes
    -----
    [FOLLOW-UP] Lemma 2 and [RECON] random-matrix estimates (``paper.md``
    sections 3-4), with the coefficients of ``x -> phi(omega1 x)``:

    * ``mu = sqrt((1 - delta1) c_t^2 d1 / t!) s_t``;
    * ``sigma_max(phi(W0X)) = max{|c_0| sqrt((1 + delta2) d1 n),
      sqrt((1 + delta2)(c_1^2 + c_inf^2) d1) sigma_max(X)}``: the mean
      ``c_0 1 1^T`` and the centred part, whose Gram matrix is
      ``d1 sum_{k>=1} c_k^2/k! (X^T X)^{(.k)}``, at most ``d1 Var
      sigma_max(X)^2`` by Schur's product bound (unit columns).  The
      follow-up writes ``omega1 sqrt(c_1^2 + c_inf^2)`` with coefficients
      of ``phi`` at unit scale; with ``c_k(omega1)`` the ``omega1`` is
      inside (``c_1(omega1) = omega1 E[phi'(omega1 g)]``);
    * ``sigma_max(V0) = omega2 (sqrt(d1) + sqrt(d2))``, and
      ``chi_max = sigma_max(V0)`` (the ball of Lemma 1 is small);
    * ``nu = phi_dot_max sigma_max(X) sigma_max(V0) + sigma_max(phi(W0X))``
      and ``beta`` as in Lemma 3, eq. (18);
    * ``h0 = E||V0 phi(W0X) - Y||^2 = omega2^2 d1 d2 n E[phi(omega1 g)^2]
      + ||Y||^2`` (the cross term has mean 0).

    Examples
    --------
    >>> est = lemma3_init_estimates()
    >>> est["nu_linear"]
    sqrt(Var_phi)*sqrt(d1)*sigma_max_X*sqrt(delta_2 + 1)
    >>> est["h0"]
    E_phi_sq*d1*d2*n*omega2**2 + Y_sq
    """
    mu = sqrt((1 - delta1) * d1 / factorial(tt)) * Abs(ct) * st
    sv0 = omega2 * (sqrt(d1) + sqrt(d2)) if sigma_max_V0 is None else sigma_max_V0
    nu_mean = Abs(c_0) * sqrt((1 + delta2) * d1 * n)
    nu_linear = sqrt((1 + delta2) * var * d1) * sigma
    smax_phi = Max(nu_mean, nu_linear)
    l3 = lemma3_constants(mu, smax_phi, sigma, sv0, phi_dot_max, phi_ddot_max, sv0)
    h0 = omega2**2 * d1 * d2 * n * E_sq + y_sq
    steps = [
        Step("mu_at_init", S.mu_Phi, "==", mu, how="assumption", tag="[FOLLOW-UP]",
             source="Lemma 3 / follow-up Lemma 2",
             given="w.h.p. sigma_min(phi(W0X))^2 >= (1 - delta1) d1 c_t^2/t! "
                   "sigma_min(X^{*t})^2 (c_t of x -> phi(omega1 x))"),
        Step("sigma_max_phi_at_init", S.sigma_max_phi, "==", smax_phi, how="assumption",
             tag="[FOLLOW-UP]", source="follow-up Lemma 2",
             given="mean c_0 1 1^T and centred part of Gram <= d1 Var sigma_max(X)^2"),
        Step("sigma_max_V0", S.sigma_max_V0, "==", sv0, how="assumption", tag="[RECON]",
             source="Sec. 4", given="Gaussian matrix d2 x d1 with entries N(0, omega2^2): "
                                    "omega2 (sqrt(d1) + sqrt(d2))"),
        Step("nu_at_init", S.nu_Phi, "==", l3["nu_Phi"], how="definition", tag="[EXACT]",
             source="eq. (18)", given="Lemma 3's nu_Phi at the estimates above"),
        Step("chi_max_at_init", S.chi_max, "==", sv0, how="assumption", tag="[DERIVED]",
             source="Lemma 3", given="sup_V sigma_max(V) over the ball of radius rho_Phi "
                                     "<= sigma_max(V0) + rho_Phi, rho_Phi small"),
        Step("beta_at_init", S.beta_Phi, "==", l3["beta_Phi"], how="definition",
             tag="[EXACT]", source="eq. (18)",
             given="Lemma 3's beta_Phi at chi_max = sigma_max(V0)"),
        Step("h0_at_init", S.h0, "==", h0, how="assumption", tag="[DERIVED]",
             source="Sec. 4", given="E over V0 of ||V0 phi(W0X) - Y||^2; the cross term has "
                                    "mean 0 (initial_loss_steps)"),
    ]
    return {"mu_Phi": mu, "sigma_max_V0": sv0, "nu_v0": phi_dot_max * sigma * sv0,
            "nu_mean": nu_mean, "nu_linear": nu_linear, "sigma_max_phi": smax_phi,
            "nu_Phi": l3["nu_Phi"], "chi_max": sv0, "beta_Phi": l3["beta_Phi"], "h0": h0,
            "steps": steps}
