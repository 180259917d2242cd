"""Hermite coefficients against mpmath quadrature, closed forms and identities."""

import math

import mpmath
import numpy as np
import pytest
from _tolerances import tol
from scipy.special import roots_hermitenorm

from pl_toolkit import available_activations, get_activation, register_activation
from pl_toolkit.hermite import hermite_coefficients, hermite_norm

BUILTINS = ["gelu", "tanh", "sigmoid", "softplus", "shifted_softplus", "silu", "erf",
            "quadratic", "identity", "relu", "leaky_relu"]
LEAKY = mpmath.mpf("0.01")

# Independent high-precision definitions of every built-in activation.
MP_PHI = {
    "gelu": lambda x: x * mpmath.ncdf(x),
    "tanh": mpmath.tanh,
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log(1 + mpmath.exp(x)),
    "shifted_softplus": lambda x: mpmath.log(1 + mpmath.exp(x)) - mpmath.log(2),
    "silu": lambda x: x / (1 + mpmath.exp(-x)),
    "erf": mpmath.erf,
    "quadratic": lambda x: x * x,
    "identity": lambda x: x,
    "relu": lambda x: x if x > 0 else 0 * x,
    "leaky_relu": lambda x: x if x > 0 else LEAKY * x,
}

# Activations phi with phi(x) - a x even (odd c_k, k >= 3, vanish) and with
# phi(x) - b odd (even c_k, k >= 2, vanish).
EVEN_PLUS_LINEAR = ["gelu", "softplus", "shifted_softplus", "silu", "relu", "leaky_relu",
                    "quadratic"]
ODD_PLUS_CONSTANT = ["tanh", "erf", "sigmoid", "identity"]


def _mp_hermite_coefficient(name, k, omega, dps=30):
    """c_k = E[phi(omega g) He_k(g)] by mpmath.quad at ``dps`` digits, split at the kink 0."""
    with mpmath.workdps(dps):
        om = mpmath.mpf(omega)
        f = MP_PHI[name]

        def he(g):
            a, b = mpmath.mpf(1), g
            if k == 0:
                return a
            for j in range(1, k):
                a, b = b, g * b - j * a
            return b

        pts = [-mpmath.inf, -8, -3, 0, 3, 8, mpmath.inf]
        return mpmath.quad(lambda g: f(om * g) * he(g) * mpmath.npdf(g), pts)


def _normalized_error(name, ks, omega):
    h = hermite_coefficients(name, max(ks), omega, normalized=True)
    errs = []
    for k in ks:
        ref = _mp_hermite_coefficient(name, k, omega) / mpmath.sqrt(mpmath.factorial(k))
        errs.append(abs(h[k] - float(ref)))
    return np.array(errs)


def test_builtins_are_covered():
    builtins = [a for a in available_activations() if get_activation(a).code >= 0]
    assert sorted(BUILTINS) == sorted(builtins)
    assert sorted(MP_PHI) == sorted(builtins)  # an independent definition of each


@pytest.mark.parametrize("name", BUILTINS)
def test_against_mpmath_default(name):
    # Accuracy is stated on c_k / sqrt(k!) (see module notes): c_20 is up to 1e7.
    # One low and one high index of the parity that does not vanish (see below).
    ks = [2, 20] if name in EVEN_PLUS_LINEAR else [3, 19]
    errs = _normalized_error(name, ks, 1.0)
    assert np.all(errs <= tol("mpmath")["atol"]), errs


@pytest.mark.slow
@pytest.mark.parametrize("omega", [1.0 / 28.0, 1.0, 2.5])
@pytest.mark.parametrize("name", BUILTINS)
def test_against_mpmath_all_k(name, omega):
    errs = _normalized_error(name, list(range(21)), omega)
    assert np.all(errs <= tol("mpmath")["atol"]), errs


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "identity", "quadratic"])
@pytest.mark.parametrize("omega", [0.3, 1.0, 2.0])
def test_closed_forms_match_quadrature(name, omega):
    exact = hermite_coefficients(name, 60, omega, normalized=True)
    quad = hermite_coefficients(name, 60, omega, normalized=True, method="quadrature")
    np.testing.assert_allclose(quad, exact, rtol=0, atol=tol("mpmath")["atol"])


def test_relu_closed_form_against_mpmath():
    c = hermite_coefficients("relu", 20, 1.5)
    for k in [0, 1, 2, 4, 6, 20]:
        ref = float(_mp_hermite_coefficient("relu", k, 1.5))
        assert abs(c[k] - ref) <= tol("mpmath")["rtol"] * max(1.0, abs(ref))
    # c_k = pdf(0) He_{k-2}(0) omega for k >= 2, He_{2j}(0) = (-1)^j (2j - 1)!!; j = 9.
    assert c[20] == pytest.approx(-1.5 * math.prod(range(1, 18, 2)) / math.sqrt(2 * math.pi),
                                  rel=tol("same_math")["rtol"])


def test_gelu_reference_values_of_the_paper():
    c = hermite_coefficients("gelu", 5)
    exact = [1 / (2 * math.sqrt(math.pi)), 0.5, 3 / (4 * math.sqrt(math.pi)), 0.0]
    np.testing.assert_allclose(c[:4], exact, rtol=0, atol=tol("mpmath")["atol"])
    ref4 = float(_mp_hermite_coefficient("gelu", 4, 1.0))
    assert abs(c[4] - ref4) <= tol("mpmath")["atol"]
    assert round(c[4], 4) == -0.3526
    assert abs(c[5]) <= tol("mpmath")["atol"]
    omega = 1 / math.sqrt(784)
    c2 = hermite_coefficients("gelu", 2, omega)[2]
    ref = float(_mp_hermite_coefficient("gelu", 2, omega))
    assert abs(c2 - ref) <= tol("mpmath")["atol"]
    assert float(f"{c2:.4g}") == 1.016e-3


@pytest.mark.parametrize("name", EVEN_PLUS_LINEAR)
def test_odd_coefficients_vanish(name):
    h = hermite_coefficients(name, 40, 1.3, normalized=True)
    assert np.max(np.abs(h[3::2])) <= tol("same_math")["atol"]
    assert abs(h[2]) > 1e-3  # the even ones do not


@pytest.mark.parametrize("name", ODD_PLUS_CONSTANT)
def test_even_coefficients_vanish(name):
    h = hermite_coefficients(name, 40, 1.3, normalized=True)
    assert np.max(np.abs(h[2::2])) <= tol("same_math")["atol"]
    assert abs(h[1]) > 1e-3


SMOOTH = ["gelu", "tanh", "sigmoid", "softplus", "shifted_softplus", "silu", "erf", "quadratic",
          "identity"]


@pytest.mark.parametrize("name", SMOOTH)
@pytest.mark.parametrize("omega", [1.0 / 28.0, 0.5, 1.0])
def test_stein_identity(name, omega):
    # c_k(omega) = omega^k E[phi^(k)(omega g)], E by an independent Gauss-Hermite rule.
    act = get_activation(name)
    x, w = roots_hermitenorm(200)
    w = w / math.sqrt(2 * math.pi)
    c = hermite_coefficients(name, 2, omega)
    assert c[1] == pytest.approx(omega * w @ act.dphi(omega * x), abs=tol("mpmath")["atol"])
    assert c[2] == pytest.approx(omega ** 2 * w @ act.ddphi(omega * x), abs=tol("mpmath")["atol"])


def _mp_second_moment(name, omega):
    with mpmath.workdps(30):
        f = MP_PHI[name]
        om = mpmath.mpf(omega)
        return mpmath.quad(lambda g: f(om * g) ** 2 * mpmath.npdf(g),
                           [-mpmath.inf, -8, -3, 0, 3, 8, mpmath.inf])


@pytest.mark.parametrize("name", ["gelu", "tanh", "sigmoid", "softplus", "silu", "erf"])
def test_parseval(name):
    # sum_k c_k^2 / k! = E[phi(omega g)^2]; the series converges fast for smooth phi.
    ref = float(_mp_second_moment(name, 1.0))
    h = hermite_coefficients(name, 300, 1.0, normalized=True)
    assert np.sum(h * h) == pytest.approx(ref, rel=tol("mpmath")["rtol"])
    norm = hermite_norm(name, convention="orthonormal")
    assert norm ** 2 == pytest.approx(ref, rel=tol("mpmath")["rtol"])
    assert hermite_norm(name, convention="orthonormal", k_max=300) ** 2 == \
        pytest.approx(ref, rel=tol("mpmath")["rtol"])


def test_parseval_relu_partial_sums_increase_to_limit():
    # h_k^2 ~ k^{-5/2}: the tail after K is O(K^{-3/2}); E[relu(g)^2] = 1/2.
    h = hermite_coefficients("relu", 300, normalized=True)
    s = np.cumsum(h * h)
    assert np.all(np.diff(s) >= 0) and s[-1] < 0.5 and 0.5 - s[-1] < 300 ** -1.5


@pytest.mark.parametrize("name", [n for n in BUILTINS if n not in ("identity", "quadratic")])
def test_paper_hermite_norm_diverges(name):
    # Def. 4's sqrt(sum c_k^2): the non-zero terms grow (factorially) already by k ~ 10..20.
    assert hermite_norm(name) == math.inf
    c = hermite_coefficients(name, 20)
    k0 = 2 if name in EVEN_PLUS_LINEAR else 3
    terms = c[10 + (k0 % 2)::2] ** 2
    assert np.all(np.diff(terms) > 0), terms
    assert hermite_norm(name, k_max=20) == pytest.approx(math.sqrt(np.sum(c * c)),
                                                         rel=tol("same_math")["rtol"])


@pytest.mark.parametrize("omega", [0.5, 2.0])
def test_paper_norm_polynomials(omega):
    assert hermite_norm("identity", omega) == pytest.approx(omega, rel=tol("same_math")["rtol"])
    c = hermite_coefficients("quadratic", 6, omega, method="quadrature")
    assert hermite_norm("quadratic", omega) == pytest.approx(math.sqrt(np.sum(c * c)),
                                                            rel=tol("mpmath")["rtol"])


def test_user_activation():
    act = register_activation("test_hermite_scaled_tanh", lambda x: 2.0 * math.tanh(x),
                              lambda x: 2.0 * (1.0 - math.tanh(x) ** 2),
                              lambda x: -4.0 * math.tanh(x) * (1.0 - math.tanh(x) ** 2),
                              phi_dot_max=2.0, phi_ddot_max=8.0 / (3.0 * math.sqrt(3.0)),
                              overwrite=True)
    np.testing.assert_allclose(hermite_coefficients(act, 10, 0.7),
                               2.0 * hermite_coefficients("tanh", 10, 0.7), **tol("same_math"))
    with pytest.raises(ValueError, match="^k_max is required"):
        hermite_norm(act)
    assert hermite_norm(act, k_max=5) > 0


def test_validation():
    with pytest.raises(ValueError, match="^k_max"):
        hermite_coefficients("gelu", -1)
    with pytest.raises(ValueError, match="^k_max"):
        hermite_coefficients("gelu", 2.0)
    with pytest.raises(ValueError, match="^k_max must be <= 170"):
        hermite_coefficients("gelu", 171)
    with pytest.raises(ValueError, match="^k_max must be <= 300"):
        hermite_coefficients("gelu", 301, normalized=True)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="^omega"):
            hermite_coefficients("gelu", 2, bad)
    with pytest.raises(ValueError, match="^activation"):
        hermite_coefficients("nope", 2)
    with pytest.raises(ValueError, match="^method"):
        hermite_coefficients("gelu", 2, method="exact")
    with pytest.raises(ValueError, match="^convention"):
        hermite_norm("gelu", convention="physicists")
    with pytest.raises(ValueError, match="^k_max must be <= 170"):
        hermite_norm("gelu", k_max=200)


def test_large_omega_approaches_sign_function():
    # tanh(omega g) -> sign(g) as omega -> inf: c_1 -> E|g| = sqrt(2/pi) and, by Stein with
    # sign' = 2 delta, c_3 -> 2 pdf(0) He_2(0) = -sqrt(2/pi).  The panels (width 0.5 / omega)
    # are processed in chunks, so memory stays bounded.
    c = hermite_coefficients("tanh", 3, omega=2000.0)
    # |tanh(omega g) - sign(g)| integrates to O(1/omega) against the Gaussian.
    np.testing.assert_allclose(c[[1, 3]], [math.sqrt(2 / math.pi), -math.sqrt(2 / math.pi)],
                               rtol=0, atol=2.0 / 2000.0)
    with pytest.raises(ValueError, match="^omega = 2e"):
        hermite_coefficients("tanh", 3, omega=2e4)
    # closed forms have no such limit
    assert hermite_coefficients("relu", 3, omega=2e4)[1] == pytest.approx(1e4)
