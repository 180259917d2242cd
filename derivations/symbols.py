"""Every symbol of the derivations, created once with its assumptions.

All modules of :mod:`derivations` import their symbols from here and pass
them to functions as parameters; no module parses a string into a SymPy
expression.  Dimensions are positive integers, constants of the paper are
positive reals, and the universal constants hidden in the paper's
``O(.)`` statements get their own positive symbols (``C_*``), so that the
numeric side can set them to 1 and say so.

Notes
-----
Names follow the paper (Song et al., NeurIPS 2021) in the paper's
convention (samples as columns); see ``paper.md`` sections 3-5.

Examples
--------
>>> from derivations.symbols import mu_Phi, d1
>>> mu_Phi.is_positive, d1.is_integer
(True, True)
"""

from sympy import Symbol, symbols

__all__ = [
    "n", "d0", "d1", "d2", "t", "k", "L_depth",
    "mu_Phi", "nu_Phi", "beta_Phi", "alpha_f", "beta_f", "eta", "h0",
    "rho_Phi", "chi_max", "sigma_max_X", "s_t", "sigma_min_phi", "sigma_max_phi",
    "sigma_max_V0", "phi_dot_max", "phi_ddot_max", "grad_f0",
    "a_mu", "b_nu", "c_beta", "k_h0", "C_9", "C_13", "C_14", "C_L2", "C_20",
    "lambda0", "delta", "omega", "c_t", "c0",
    "mu_pl", "beta_pl", "L0", "L_t", "L_next", "g_norm", "x_frac", "q_rate",
    "sigma_smin", "sigma_smax", "dist_w", "x", "g", "rho",
    "ALL_SYMBOLS",
]

# ---------------------------------------------------------------- dimensions
#: samples, input dimension, width, output dimension (positive integers)
n, d0, d1, d2 = symbols("n d0 d1 d2", positive=True, integer=True)
#: Khatri-Rao power t, Hermite index k, depth L of the deep baselines
t, k, L_depth = symbols("t k L", positive=True, integer=True)

# --------------------------------------------- constants of Theorems 1-2
mu_Phi, nu_Phi, beta_Phi = symbols("mu_Phi nu_Phi beta_Phi", positive=True)
alpha_f, beta_f = symbols("alpha_f beta_f", positive=True)
eta, h0 = symbols("eta h0", positive=True)
rho_Phi, chi_max = symbols("rho_Phi chi_max", positive=True)
#: ||grad f(Phi(w0))||
grad_f0 = Symbol("grad_f0", positive=True)

# ------------------------------------------------ shallow-network quantities
sigma_max_X = Symbol("sigma_max_X", positive=True)
#: s_t = sigma_min(X^{*t}), the Khatri-Rao power's smallest singular value
s_t = Symbol("s_t", positive=True)
sigma_min_phi, sigma_max_phi = symbols("sigma_min_phi sigma_max_phi", positive=True)
sigma_max_V0 = Symbol("sigma_max_V0", positive=True)
phi_dot_max, phi_ddot_max = symbols("phi_dot_max phi_ddot_max", positive=True)

# --------------------- scaling constants of the (9) -> (20) substitution
a_mu, b_nu, c_beta, k_h0 = symbols("a b c k_h0", positive=True)

# ------------------------- universal constants hidden in O(.) statements
C_9, C_13, C_14, C_L2, C_20 = symbols("C_9 C_13 C_14 C_L2 C_20", positive=True)

# ------------------------------------------- data quantities of baselines
#: lambda0 = lambda_min of an infinite-width NTK; delta = min separation
lambda0, delta = symbols("lambda0 delta", positive=True)

# ------------------------------------------------------------------ Hermite
omega = Symbol("omega", positive=True)
c_t, c0 = symbols("c_t c_0", real=True)
x, g = symbols("x g", real=True)
#: correlation x_a . x_b of two unit inputs
rho = Symbol("rho", real=True)

# ------------------------------------------- PL-ball argument (generic L)
mu_pl, beta_pl = symbols("mu beta", positive=True)
L0 = Symbol("L_0", positive=True)
L_t, L_next = symbols("L_t L_t1", nonnegative=True)
g_norm = Symbol("g_norm", nonnegative=True)
#: x = mu/beta in (0, 1]
x_frac = Symbol("x_frac", positive=True)
q_rate = Symbol("q", positive=True)

# ------------------------------------------- Lemma 1 (singular values)
sigma_smin, sigma_smax = symbols("sigma_min sigma_max", positive=True)
dist_w = Symbol("r", nonnegative=True)

#: every symbol, in the fixed order used by :mod:`derivations.numeric`
ALL_SYMBOLS = (
    n, d0, d1, d2, t, k, L_depth,
    mu_Phi, nu_Phi, beta_Phi, alpha_f, beta_f, eta, h0, rho_Phi, chi_max, grad_f0,
    sigma_max_X, s_t, sigma_min_phi, sigma_max_phi, sigma_max_V0, phi_dot_max,
    phi_ddot_max, a_mu, b_nu, c_beta, k_h0, C_9, C_13, C_14, C_L2, C_20,
    lambda0, delta, omega, c_t, c0, x, g, rho,
    mu_pl, beta_pl, L0, L_t, L_next, g_norm, x_frac, q_rate,
    sigma_smin, sigma_smax, dist_w,
)

#: failure probability of Du et al. (their "delta"), apart from the separation
delta_fail = Symbol("delta_fail", positive=True)
ALL_SYMBOLS = ALL_SYMBOLS + (delta_fail,)
__all__.append("delta_fail")

# ------------------------------------- initialization and the width condition
#: standard deviations of the initial weights, W0 ~ N(0, omega1^2), V0 ~ N(0, omega2^2)
omega1, omega2 = symbols("omega1 omega2", positive=True)
#: initialization factors: omega1^2 = kappa1 / d0, omega2^2 = kappa2 / d1
#: (LeCun kappa = 1, He kappa = 2)
kappa1, kappa2 = symbols("kappa1 kappa2", positive=True)
#: concentration slacks of the follow-up's Lemma 2 (mu and nu), in [0, 1)
delta_1, delta_2 = symbols("delta_1 delta_2", nonnegative=True)
#: ||Y||_F^2, the squared norm of the whole label matrix (the paper takes <= 1)
y_sq = Symbol("Y_sq", nonnegative=True)
#: E[phi(omega1 g)^2] and Var[phi(omega1 g)] = c_1^2 + c_inf^2 = sum_{k>=1} c_k^2/k!
E_phi_sq, var_phi = symbols("E_phi_sq Var_phi", positive=True)
#: first Hermite coefficient c_1 of x -> phi(omega1 x)
c1 = Symbol("c_1", real=True)
#: the slack factors 1 - delta_1 and 1 + delta_2 as positive symbols, so that
#: roots of (9) in d1 have a known sign
slack_mu, slack_nu = symbols("slack_mu slack_nu", positive=True)
#: |c_t| and |c_0| as positive symbols (only the moduli enter mu_Phi and nu_Phi)
abs_c_t, abs_c0 = symbols("abs_c_t abs_c_0", positive=True)
ALL_SYMBOLS = ALL_SYMBOLS + (omega1, omega2, kappa1, kappa2, delta_1, delta_2, y_sq,
                             E_phi_sq, var_phi, c1, slack_mu, slack_nu, abs_c_t, abs_c0)
__all__ += ["omega1", "omega2", "kappa1", "kappa2", "delta_1", "delta_2", "y_sq",
            "E_phi_sq", "var_phi", "c1", "slack_mu", "slack_nu", "abs_c_t", "abs_c0"]
