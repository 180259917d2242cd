"""Hermite coefficients: closed forms against pl_toolkit and mpmath quadrature."""

import mpmath
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import ndtr
from sympy import Integer, Rational, diff, factorial, pi, sqrt

from _tolerances import tol
from derivations import symbols as S
from derivations.hermite import (closed_form_coefficients, dual_kernel_polynomial,
                                 gelu_coefficient, gelu_expr, hermite_coefficient_polynomial,
                                 hermite_coefficients_mpmath, parity_vanishing,
                                 stein_identity_polynomial, tanh_expr)
from derivations.numeric import make_function
from derivations.steps import is_zero
from pl_toolkit import hermite_coefficients

K_MAX = 4
DPS = 20  # mpmath working digits: ample for the 1e-12 "mpmath" tolerance
OMEGAS = [1, pytest.param(Rational(1, 28), marks=pytest.mark.slow),
          pytest.param(2, marks=pytest.mark.slow)]


def _gelu_mp(z):
    return z * mpmath.ncdf(z)


def test_gelu_closed_forms_match_the_paper():
    assert gelu_coefficient(0) == 1 / (2 * sqrt(pi))
    assert gelu_coefficient(1) == Rational(1, 2)
    assert gelu_coefficient(2) == 3 / (4 * sqrt(pi))
    assert gelu_coefficient(3) == 0
    # digest: c4 = -.3526 and c2(1/sqrt(784)) = 1.016e-3
    assert abs(float(gelu_coefficient(4)) + 0.3526) < 5e-5
    assert abs(float(gelu_coefficient(2, 1 / sqrt(784))) - 1.016e-3) < 5e-7


def test_gelu_odd_coefficients_vanish_for_every_omega():
    for kk in (3, 5):
        assert gelu_coefficient(kk, S.omega) == 0


@pytest.mark.parametrize("omega", OMEGAS)
def test_gelu_closed_forms_against_mpmath_and_pl_toolkit(omega):
    closed = np.array([float(gelu_coefficient(kk, omega)) for kk in range(K_MAX + 1)])
    om = mpmath.mpf(Rational(omega).p) / Rational(omega).q
    ref = np.array([float(v) for v in hermite_coefficients_mpmath(_gelu_mp, K_MAX, omega=om,
                                                                  dps=DPS)])
    np.testing.assert_allclose(closed, ref, **tol("mpmath"))
    ours = hermite_coefficients("gelu", K_MAX, omega=float(omega))
    np.testing.assert_allclose(closed, ours, **tol("mpmath"))


def test_stein_lemma_for_gelu_numerically():
    """c_k(omega) = E[phi(omega g) He_k(g)] = omega^k E[phi^(k)(omega g)], two quadratures."""
    om = mpmath.mpf(3) / 4
    defn = hermite_coefficients_mpmath(_gelu_mp, 3, omega=om, dps=DPS)
    for kk in range(4):
        dk = make_function(diff(gelu_expr(S.x), S.x, kk), backend="mpmath") if kk else None
        with mpmath.workdps(DPS):
            if kk == 0:
                f = lambda z: _gelu_mp(om * z) * mpmath.npdf(z)  # noqa: E731
            else:
                f = lambda z, dk=dk: dk(x=om * z) * mpmath.npdf(z)  # noqa: E731
            stein = om**kk * mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])
        np.testing.assert_allclose(float(stein), float(defn[kk]), **tol("mpmath"))


def test_stein_identity_for_polynomials_is_exact():
    assert all(s.verify() for s in stein_identity_polynomial(6))


def test_tanh_even_coefficients_vanish():
    pv = parity_vanishing(tanh_expr())
    assert pv["even_k_vanish"] is True
    assert closed_form_coefficients("tanh", 4) == [0, None, 0, None, 0]
    ref = hermite_coefficients_mpmath(mpmath.tanh, K_MAX, dps=DPS)
    ours = hermite_coefficients("tanh", K_MAX)
    for kk in range(0, K_MAX + 1, 2):
        assert abs(float(ref[kk])) < tol("mpmath")["atol"]
        assert abs(ours[kk]) < tol("mpmath")["atol"]
    odd = [kk for kk in range(K_MAX + 1) if kk % 2]
    np.testing.assert_allclose(ours[odd], [float(ref[kk]) for kk in odd], **tol("mpmath"))


def test_gelu_parity_structure():
    pv = parity_vanishing(gelu_expr())
    assert is_zero(pv["odd_part"] - S.x / 2)
    assert pv["odd_k_vanish_from"] == 3
    assert pv["even_k_vanish"] is False


@pytest.mark.parametrize("name", ["quadratic", "identity"])
@pytest.mark.parametrize("omega", [1, Rational(3, 2)])
def test_polynomial_coefficients_against_pl_toolkit(name, omega):
    closed = np.array([float(v) for v in closed_form_coefficients(name, K_MAX, omega)])
    np.testing.assert_allclose(closed, hermite_coefficients(name, K_MAX, omega=float(omega)),
                               **tol("mpmath"))


def test_polynomial_coefficients_against_mpmath():
    omega = Rational(3, 2)
    closed = np.array([float(v) for v in closed_form_coefficients("quadratic", K_MAX, omega)])
    ref = hermite_coefficients_mpmath(lambda z: z * z, K_MAX, omega=float(omega), dps=DPS)
    np.testing.assert_allclose(closed, [float(v) for v in ref], **tol("mpmath"))


@pytest.mark.parametrize("poly", [S.x**2, S.x**3 - S.x, S.x**4 + 2 * S.x**3 - S.x + 1,
                                  (S.x - 1) ** 5])
def test_dual_kernel_identity_for_polynomials_is_exact(poly):
    lhs, rhs = dual_kernel_polynomial(poly)
    assert is_zero(lhs - rhs)
    lhs2, rhs2 = dual_kernel_polynomial(poly.subs(S.x, Rational(2, 3) * S.x))
    assert is_zero(lhs2 - rhs2)


def test_dual_kernel_series_for_gelu_numerically():
    """E[phi(u) phi(v)] by 2-D Gauss-Hermite against sum_k c_k^2/k! rho^k."""
    g, w = hermegauss(90)
    w = w / w.sum()
    c = hermite_coefficients("gelu", 40)
    fact = np.cumprod(np.concatenate([[1.0], np.arange(1, 41)]))
    gelu = lambda z: z * ndtr(z)  # noqa: E731
    G1, G2 = np.meshgrid(g, g, indexing="ij")
    W2 = np.outer(w, w)
    phi1 = gelu(G1)
    for rho in (-0.6, 0.0, 0.3, 0.7):
        v = rho * G1 + np.sqrt(1 - rho**2) * G2
        lhs = np.sum(W2 * phi1 * gelu(v))
        rhs = np.sum(c**2 / fact * rho ** np.arange(41))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


def test_unknown_activation_name_raises():
    with pytest.raises(ValueError, match="name"):
        closed_form_coefficients("relu6", 2)


def test_polynomial_coefficient_small_cases():
    assert [hermite_coefficient_polynomial(S.x**3, kk) for kk in range(4)] == [0, 3, 0, 6]
    assert hermite_coefficient_polynomial(S.x**2, 2, omega=Integer(3)) == 18


# ---------------------------------------------------- the small-omega1 expansion
from derivations.hermite import (activation_expr, activation_mpmath,  # noqa: E402
                                 gaussian_expectation_expansion, gelu_expansion_steps,
                                 hermite_coefficient_mpmath, leading_order,
                                 shifted_softplus_expr, small_omega_expansion,
                                 variance_expansion)

SMALL_OMEGAS = (Rational(1, 8), Rational(1, 16), Rational(1, 32))
EXPANSION_CASES = [("gelu", 0), ("gelu", 2)] + [
    pytest.param(name, kk, marks=pytest.mark.slow)
    for name, kk in (("gelu", 4), ("shifted_softplus", 0), ("shifted_softplus", 2),
                     ("tanh", 1), ("tanh", 3))]


def _mp_rational(r):
    return mpmath.mpf(r.p) / r.q


@pytest.mark.parametrize("name,kk", EXPANSION_CASES)
def test_small_omega_expansion_against_quadrature(name, kk):
    """The error of the J-term expansion is its next term times 1 + O(omega^2)."""
    phi = activation_expr(name)
    gamma, p = leading_order(phi, kk)
    J = (p - kk) // 2 + 1  # terms through the leading one
    exp_J = small_omega_expansion(phi, kk, J)
    nxt = small_omega_expansion(phi, kk, J + 1) - exp_J
    assert nxt != 0
    dev = []
    with mpmath.workdps(DPS):
        for om in SMALL_OMEGAS:
            q = hermite_coefficient_mpmath(activation_mpmath(name), kk, _mp_rational(om),
                                           dps=DPS)
            r = (q - _mp_rational_expr(exp_J, om)) / _mp_rational_expr(nxt, om)
            dev.append(abs(1 - r))
    # 1 - r = O(omega^2): it shrinks about fourfold per halving of omega (at least 2)
    assert all(b <= a / 2 for a, b in zip(dev, dev[1:])), dev
    assert dev[-1] < 1


def _mp_rational_expr(expr, om):
    return mpmath.mpf(str(expr.subs(S.omega, om).evalf(DPS + 5)))


@pytest.mark.parametrize("name", ["gelu", pytest.param("shifted_softplus",
                                                       marks=pytest.mark.slow)])
def test_c1_is_exactly_half_omega(name):
    """Odd part x/2 (GELU, shifted softplus): c_1(omega) = omega/2 for every omega."""
    phi = activation_expr(name)
    for J in (1, 3):
        assert small_omega_expansion(phi, 1, J) == S.omega / 2
    om = mpmath.mpf(1) / 16
    c1 = hermite_coefficient_mpmath(activation_mpmath(name), 1, om, DPS)
    assert abs(float(c1 - om / 2)) < tol("mpmath")["atol"]


def test_expansion_against_gelu_closed_forms():
    steps = gelu_expansion_steps(k_max=2, terms=3)
    assert [s.verify() for s in steps] == [True, True, True]
    # the digest: c_0(omega) = omega^2 phi''(0)/2 + O(omega^4), phi''(0) = sqrt(2/pi)
    assert leading_order(gelu_expr(), 0) == (sqrt(2) / (2 * sqrt(pi)), 2)


@pytest.mark.parametrize("name", ["gelu", pytest.param("shifted_softplus",
                                                       marks=pytest.mark.slow),
                                  pytest.param("tanh", marks=pytest.mark.slow)])
def test_variance_expansion_is_parseval_of_the_coefficient_expansions(name):
    """Var = sum_{k>=1} c_k^2/k!, both sides from the Taylor coefficients, exact."""
    for phi in (activation_expr(name),):
        J = 3  # exact through omega^4; c_k = O(omega^k), so k <= 4 suffices
        lhs = variance_expansion(phi, J)
        rhs = sum(small_omega_expansion(phi, kk, J) ** 2 / factorial(kk) for kk in range(1, 5))
        rhs = sum(rhs.expand().coeff(S.omega, m) * S.omega**m for m in range(2 * J - 1))
        assert is_zero(lhs - rhs)
        # and E[phi^2] = c_0^2 + Var to the same order
        e2 = gaussian_expectation_expansion(phi**2, J)
        c0 = small_omega_expansion(phi, 0, J)
        diff_ = (e2 - c0**2 - lhs).expand()
        assert all(diff_.coeff(S.omega, m) == 0 for m in range(2 * J - 1))


def test_parity_facts_of_shifted_softplus_and_tanh():
    sp = parity_vanishing(shifted_softplus_expr())
    assert sp["odd_k_vanish_from"] == 3 and sp["even_k_vanish"] is False
    th = parity_vanishing(tanh_expr())
    assert th["even_k_vanish"] is True and th["odd_k_vanish_from"] is None
    assert leading_order(shifted_softplus_expr(), 3) == (0, None)
    assert leading_order(tanh_expr(), 0) == (0, None)
    assert leading_order(tanh_expr(), 2) == (0, None)
    assert leading_order(tanh_expr(), 3) == (-2, 3)
    assert leading_order(shifted_softplus_expr(), 2) == (Rational(1, 4), 2)
    # pl_toolkit's quadrature at omega = 0.3 agrees: odd c_k (k >= 3) vanish, and tanh's
    # even ones
    for om in (0.3,):
        c = hermite_coefficients("shifted_softplus", 7, omega=om)
        assert np.all(np.abs(c[[3, 5, 7]]) < tol("mpmath")["atol"])
        ct = hermite_coefficients("tanh", 6, omega=om)
        assert np.all(np.abs(ct[[0, 2, 4, 6]]) < tol("mpmath")["atol"])


def test_leading_order_errors():
    with pytest.raises(ValueError, match="quantity"):
        leading_order(gelu_expr(), 0, quantity="mean")
    with pytest.raises(ValueError, match="kk"):
        leading_order(gelu_expr())
    with pytest.raises(ValueError, match="terms"):
        gaussian_expectation_expansion(gelu_expr(), 0)
    with pytest.raises(ValueError, match="^name: no SymPy form for activation 'relu6': it is "
                                         "not a built-in"):
        activation_expr("relu6")
    with pytest.raises(ValueError, match="^name: no mpmath form for activation 'relu6'"):
        activation_mpmath("relu6")
    assert leading_order(gelu_expr(), quantity="variance") == (Rational(1, 4), 2)


def test_user_activation_has_no_sympy_form():
    """A user-registered activation has kernels only: derivations say so, naming it."""
    import math

    from pl_toolkit import available_activations, get_activation, register_activation

    def sin(x):
        return math.sin(x)

    def cos(x):
        return math.cos(x)

    def msin(x):
        return -math.sin(x)

    name = "test_user_sin_derivations"
    if name not in available_activations():
        register_activation(name, sin, cos, msin)
    act = get_activation(name)
    for f, what in ((activation_expr, "SymPy"), (activation_mpmath, "mpmath")):
        with pytest.raises(ValueError, match=f"^name: no {what} form for activation "
                                             f"'{name}': it is user-registered"):
            f(name)
        with pytest.raises(ValueError, match="user-registered"):
            f(act)


def test_every_builtin_has_a_sympy_and_mpmath_form():
    """The SymPy forms are the activation table's, for every built-in; mpmath lambdifies them."""
    from sympy import Symbol, sympify

    from pl_toolkit.activations import BUILTIN_FORMS

    for name, row in BUILTIN_FORMS.items():
        expr = activation_expr(name)
        assert expr.free_symbols == {S.x}
        assert is_zero(expr - sympify(row.sympy, locals={"x": S.x}, rational=True))
        y = Symbol("y", positive=True)
        assert activation_expr(name, y).free_symbols == {y}
        with mpmath.workdps(30):
            z = mpmath.mpf(3) / 7
            assert abs(activation_mpmath(name)(z) - expr.subs(S.x, Rational(3, 7)).evalf(40)) \
                < mpmath.mpf(10) ** -28
