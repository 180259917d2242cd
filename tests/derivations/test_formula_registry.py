"""Every registered numeric formula against the SymPy expression it transcribes.

:data:`pl_toolkit.formulas.FORMULAS` is the one numeric source of the
paper's formulas; ``SYMPY`` below maps each registered name to the
expression of :mod:`derivations` it must equal and to the symbols its
arguments stand for.  A registered formula without an entry here fails
:func:`test_every_formula_has_a_sympy_counterpart`.
"""

import inspect

import numpy as np
import pytest
from sympy import lambdify

from _tolerances import tol
from derivations import framework as F
from derivations import shallow as SH
from derivations import symbols as S
from pl_toolkit.formulas import FORMULAS


def _step(steps, name):
    return next(s for s in steps if s.name == name)


def _lemma1(name):
    return _step(F.lemma1_steps(), name).rhs


def _eq21():
    out = SH.eq21_derivation()
    return S.C_20 * out["d1_min"] / out["xi"]


#: name -> (SymPy expression, {argument name: symbol}) built on demand.
SYMPY = {
    "lemma3_nu": lambda: (SH.lemma3_constants()["nu_Phi"],
                          dict(phi_dot_max=S.phi_dot_max, sigma_max_X=S.sigma_max_X,
                               sigma_max_V0=S.sigma_max_V0, sigma_max_phi=S.sigma_max_phi)),
    "lemma3_beta": lambda: (SH.lemma3_constants()["beta_Phi"],
                            dict(sigma_max_X=S.sigma_max_X, phi_dot_max=S.phi_dot_max,
                                 phi_ddot_max=S.phi_ddot_max, chi_max=S.chi_max)),
    "followup_chi_max": lambda: (SH.followup_constants()["chi_max"],
                                 dict(mu=S.mu_Phi, sigma_max_X=S.sigma_max_X,
                                      sigma_max_V0=S.sigma_max_V0, phi_dot_max=S.phi_dot_max)),
    "followup_beta": lambda: (SH.followup_constants()["beta_Phi"],
                              dict(mu=S.mu_Phi, sigma_max_X=S.sigma_max_X,
                                   sigma_max_V0=S.sigma_max_V0, phi_dot_max=S.phi_dot_max,
                                   phi_ddot_max=S.phi_ddot_max)),
    "lemma1_radius": lambda: (F.lemma1_radius(S.mu_Phi, S.beta_Phi),
                              dict(mu=S.mu_Phi, beta=S.beta_Phi)),
    "lemma1_sigma_min_bound": lambda: (_lemma1("radius"), dict(mu=S.mu_Phi)),
    "lemma1_sigma_max_bound": lambda: (_lemma1("three_halves"), dict(nu=S.nu_Phi)),
    "lemma2_path_length": lambda: (F.lemma2_bound(),
                                   dict(nu=S.nu_Phi, mu=S.mu_Phi, h0=S.h0, alpha=S.alpha_f,
                                        C=S.C_L2)),
    "eq9_h0_max": lambda: (F.theorem1_condition().rhs,
                           dict(alpha=S.alpha_f, mu=S.mu_Phi, nu=S.nu_Phi, beta=S.beta_Phi,
                                C=S.C_9)),
    "eq13_step_size": lambda: (F.theorem2_step_size(),
                               dict(mu=S.mu_Phi, nu=S.nu_Phi, beta=S.beta_Phi, grad_f=S.grad_f0,
                                    beta_f=S.beta_f, C=S.C_13)),
    "eq14_rate": lambda: (F.theorem2_rate(),
                          dict(eta=S.eta, alpha=S.alpha_f, mu=S.mu_Phi, C=S.C_14)),
    "eq20_width": lambda: (SH.eq20_derivation()["d1_min"],
                           dict(n=S.n, sigma_max_X=S.sigma_max_X, s_t=S.s_t, a=S.a_mu,
                                b=S.b_nu, c=S.c_beta, k=S.k_h0, alpha=S.alpha_f, C=S.C_9)),
    "eq21_width": lambda: (_eq21(), dict(n=S.n, d0=S.d0, xi=S.C_20)),
}


def test_every_formula_has_a_sympy_counterpart():
    missing = sorted(set(FORMULAS) - set(SYMPY))
    assert not missing, f"registered formulas without a SymPy counterpart: {missing}"
    assert sorted(set(SYMPY) - set(FORMULAS)) == []


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_formula_matches_sympy(name, rng):
    expr, args = SYMPY[name]()
    fn = FORMULAS[name].function
    params = list(inspect.signature(fn).parameters)
    assert sorted(params) == sorted(args), f"{name}: arguments {params} against {sorted(args)}"
    assert expr.free_symbols <= set(args.values()), \
        f"{name}: SymPy expression has unassigned symbols {expr.free_symbols - set(args.values())}"
    ref = lambdify([args[p] for p in params], expr, "numpy")
    t = tol("same_math")
    for _ in range(50):
        values = np.exp(rng.uniform(-3.0, 3.0, len(params)))
        got = fn(*values)
        want = float(ref(*values))
        np.testing.assert_allclose(got, want, rtol=t["rtol"], atol=0.0, err_msg=name)


def test_a_wrong_formula_is_caught(rng):
    # the comparison above can fail: eq. (13) with the last term's factor doubled
    expr, args = SYMPY["eq13_step_size"]()
    ref = lambdify([args[p] for p in ("mu", "nu", "beta", "grad_f", "beta_f", "C")], expr)
    v = np.exp(rng.uniform(-1.0, 1.0, 6))
    wrong = v[5] * v[0] ** 2 / (v[2] * v[3] + v[2] * v[0] ** 2 + 2 * v[4] * v[1] ** 2)
    assert not np.isclose(wrong, float(ref(*v)), rtol=tol("same_math")["rtol"], atol=0.0)
