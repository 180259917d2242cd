"""The activation table: every built-in has every form, and the forms agree.

``pl_toolkit.activations.BUILTIN_FORMS`` holds, per built-in activation,
the numba scalar kernels, the NumPy form, the SymPy definition (a string)
and the ball-arithmetic forms.  Here

* the checker ``form_problems`` passes the table and rejects synthetic
  tables whose fake built-in lacks a form (and the registry refuses them);
* every consumer takes its form from the table: the registry records, the
  NumPy references, the arb route of the certified NTK bound and the SymPy
  and mpmath forms of ``derivations``;
* the forms agree at random points including large ``|x|``: numba kernels,
  NumPy forms and the ball midpoints (at a precision that absorbs every
  cancellation) against the SymPy definition and its derivatives evaluated
  in mpmath, and each float ball encloses the exact value;
* the ball forms equal the definition and its derivative symbolically, and
  the declared parities are identities of the definition;
* the closed-form lists of ``pl_toolkit.hermite``, ``pl_toolkit.infinite_width``
  and ``derivations.hermite`` name built-ins only, and each closed form agrees
  with the generic route.
"""

import dataclasses
import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from _tolerances import tol

from derivations import hermite as dh
from pl_toolkit import available_activations, get_activation, infinite_width_kernels
from pl_toolkit import _reference, activations, hermite, infinite_width, ntk_certified
from pl_toolkit.activations import (BUILTIN_FORMS, NoForm, ActivationForms, ball_function,
                                    form_problems, forms_of)

flint = pytest.importorskip("flint")

NAMES = tuple(BUILTIN_FORMS)
BALL_NAMES = tuple(n for n, row in BUILTIN_FORMS.items() if not isinstance(row.ball, NoForm))
x_ = sp.Symbol("x", real=True)

#: mpmath digits for the exact values: 1 - tanh(x)^2 at |x| = 700 is 4e-608.
DPS = 800
#: Digits added for a second evaluation, whose difference bounds the first one's error.
DPS_CHECK = 40
#: Working precision (bits) of the ball midpoints compared with the exact values.
BALL_PREC = 3000


def _definition(name):
    return sp.sympify(BUILTIN_FORMS[name].sympy, locals={"x": x_}, rational=True)


def _sample_points():
    """Moderate points (where roots of phi' and phi'' lie) and large ones, both signs."""
    rng = np.random.default_rng(np.random.SeedSequence(2024))
    moderate = np.concatenate([rng.uniform(-8.0, 8.0, 40), [0.0, 1e-8, -1e-8]])
    large = np.exp(rng.uniform(np.log(8.0), np.log(700.0), 12))
    return moderate, np.concatenate([large, -large])


POINTS = np.concatenate(_sample_points())


@pytest.fixture(scope="module")
def exact_values():
    """``{name: (values, errors)}`` at ``POINTS``, from the SymPy definition in mpmath.

    ``values[k]`` is ``phi^(k)`` for ``k = 0..3``, lambdified to mpmath at
    ``DPS`` digits; ``errors[k]`` (``k = 0, 1``) bounds the error of
    ``values[k]``: its difference to a second evaluation at ``DPS +
    DPS_CHECK`` digits plus ``10^-(DPS - 60)`` relative and absolute.  The
    definitions cancel only terms of size at most ``|x|^3 <= 4e8`` (``1 +
    erf``, ``1 - tanh^2``), so where every digit cancels (``1 + erf(x /
    sqrt 2)`` beyond ``x = -60``) the value is below ``1e-790`` and the
    absolute part covers it.
    """
    out = {}
    floor = mpmath.mpf(10) ** -(DPS - 60)
    for name in NAMES:
        phi = _definition(name)
        funcs = [sp.lambdify(x_, sp.diff(phi, x_, k) if k else phi, "mpmath") for k in range(4)]
        with mpmath.workdps(DPS):
            values = [[mpmath.mpf(f(mpmath.mpf(float(v)))) for v in POINTS] for f in funcs]
        with mpmath.workdps(DPS + DPS_CHECK):
            again = [[mpmath.mpf(f(mpmath.mpf(float(v)))) for v in POINTS] for f in funcs[:2]]
            errors = [[abs(a - b) + floor * (abs(a) + 1) for a, b in zip(va, vb)]
                      for va, vb in zip(values, again)]
        out[name] = (values, errors)
    return out


def _assert_close_to_exact(got, exact, order, what):
    """``|got - f(x)| <= rtol (|f(x)| + |x f'(x)|) + atol``, ``activation_pointwise``.

    ``f = phi^(order)``.  A few correctly rounded operations and libm calls
    give ``f`` at a relatively perturbed argument (``x / sqrt 2`` inside
    erfc, ``x * x`` inside a Gaussian factor): a relative error of a few ulps
    times ``|x f'(x) / f(x)|`` (``x^2`` ulps for ``exp(-x^2)``), absolute
    near the roots of ``f``.  The allowance is the pointwise tolerance on
    that scale.
    """
    values = exact[0]
    f = np.array([float(v) for v in values[order]])
    xf = np.array([float(abs(mpmath.mpf(float(x)) * v))
                   for x, v in zip(POINTS, values[order + 1])])
    t = tol("activation_pointwise")
    allowed = t["rtol"] * (np.abs(f) + xf) + t["atol"]
    bad = ~(np.abs(got - f) <= allowed)
    assert not np.any(bad), (f"{what}: at x = {POINTS[bad]} got {got[bad]}, exact {f[bad]}, "
                             f"allowed {allowed[bad]}")


# --------------------------------------------------------------------------
# The table and its checker
# --------------------------------------------------------------------------
def test_table_has_every_form():
    assert form_problems(BUILTIN_FORMS) == []
    builtins = {n for n in available_activations() if get_activation(n).code >= 0}
    assert builtins == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_registry_records_come_from_the_table(name):
    row, act = BUILTIN_FORMS[name], get_activation(name)
    assert forms_of(name) is row and forms_of(act) is row
    assert (act.phi_scalar, act.dphi_scalar, act.ddphi_scalar) == row.kernels
    assert act.code == row.code
    assert (act.phi_dot_max, act.phi_ddot_max) == (row.phi_dot_max, row.phi_ddot_max)
    assert act.assumption2 == (row.assumption2_reason == "")
    assert (act.assumption2_reason, act.parity, act.notes) == (row.assumption2_reason,
                                                                 row.parity, row.notes)
    # the NumPy references are the table's forms
    assert _reference.ACTIVATIONS[name] is row.numpy
    assert _reference.activation_funcs(act) is row.numpy


def _fake(**changes):
    base = BUILTIN_FORMS["tanh"]
    return dataclasses.replace(base, **{"name": "fake", "code": len(BUILTIN_FORMS), **changes})


@pytest.mark.parametrize("changes, problem", [
    (dict(kernels=None), "fake: no scalar kernels"),
    (dict(kernels=(activations.tanh, activations.tanh_d)), "fake: no scalar kernels"),
    (dict(numpy=None), "fake: no NumPy form"),
    (dict(numpy=(np.tanh, None, np.tanh)), "fake: no NumPy form"),
    (dict(sympy=None), "fake: no SymPy form"),
    (dict(sympy="  "), "fake: no SymPy form"),
    (dict(ball=None), "fake: no ball form"),
    (dict(ball=("tanh(x)",)), "fake: no ball form"),
    (dict(ball=NoForm("")), "fake: NoForm for the ball form without a reason"),
    (dict(ball=("tanh(x)", "0.5*x")), "the literal 0.5 is outside the ball vocabulary"),
    (dict(ball=("sin(x)", "1")), "the call sin(x) is outside"),
    (dict(ball=("x**y", "1")), "a non-integer exponent"),
    (dict(ball=("x.exp()", "1")), "the call x.exp() is outside"),
    (dict(ball=("__import__('os')", "1")), "outside the ball vocabulary"),
    (dict(ball=("x +", "1")), "is not an expression"),
    (dict(parity="odd-ish"), "fake: parity 'odd-ish'"),
    (dict(code=3), "dispatch codes"),
])
def test_checker_rejects_a_fake_builtin_without_a_form(changes, problem):
    table = {**BUILTIN_FORMS, "fake": _fake(**changes)}
    problems = form_problems(table)
    assert len(problems) == 1 and problem in problems[0], problems
    # the registry is built only from a complete table
    with pytest.raises(ValueError, match="^activation table: "):
        activations._registry(table)


def test_checker_rejects_a_misnamed_row_and_a_foreign_record():
    assert form_problems({"fake": _fake(name="other")}) == ["fake: the row is named 'other'",
                                                            "dispatch codes [11] are not 0..0, "
                                                            "each once"]
    assert form_problems({"tanh": BUILTIN_FORMS["tanh"], "x": object()}) == [
        "x: not an ActivationForms record", "dispatch codes [1] are not 0..0, each once"]
    assert form_problems({}) == []
    assert isinstance(_fake(), ActivationForms)


def test_ball_literals_are_exact_balls():
    f = ball_function("1/3 + x**2", flint.arb)
    pi = ball_function("pi", flint.arb)
    # an integer power of a negative ball is defined (no exp(2 log x))
    assert ball_function("x**2", flint.arb)(flint.arb(-2)) == 4
    old = flint.ctx.prec
    try:
        flint.ctx.prec = 200
        # 1/3 is the ball of one third, not the float 0.333...; pi is read at the
        # working precision of each call
        v = f(flint.arb(0))
        assert v.contains(flint.arb(1) / 3) and not v.contains(flint.arb(1.0 / 3.0))
        assert pi(flint.arb(0)).rel_accuracy_bits() > 190
    finally:
        flint.ctx.prec = old


# --------------------------------------------------------------------------
# The consumers find every form (or say clearly that there is none)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_arb_route_finds_the_ball_form(name):
    act = get_activation(name)
    row = BUILTIN_FORMS[name]
    if isinstance(row.ball, NoForm):
        with pytest.raises(ValueError, match=f"^net: method='arb' has no ball-arithmetic form of "
                                             f"activation '{name}' \\({row.ball.reason}\\)$"):
            ntk_certified._arb_activation(act)
    else:
        phi, dphi = ntk_certified._arb_activation(act)
        z = flint.arb(0.75)
        assert phi(z).overlaps(ball_function(row.ball[0], flint.arb)(z))
        assert dphi(z).overlaps(ball_function(row.ball[1], flint.arb)(z))


def test_user_activation_has_only_kernels():
    from test_activations import user_sin_activation

    act = user_sin_activation()
    assert forms_of(act) is None
    with pytest.raises(ValueError, match="^net: method='arb' has no ball-arithmetic form of "
                                         "activation 'test_user_sin' \\(user-registered"):
        ntk_certified._arb_activation(act)
    with pytest.raises(ValueError, match="^name: no SymPy form for activation 'test_user_sin'"):
        dh.activation_expr("test_user_sin")
    # the NumPy reference of a user activation vectorizes its kernels
    xs = np.linspace(-2.0, 2.0, 9)
    phi, dphi, ddphi = _reference.activation_funcs(act)
    np.testing.assert_allclose(phi(xs), np.sin(xs), **tol("same_math"))


@pytest.mark.parametrize("name", NAMES)
def test_derivations_take_the_table_definition(name):
    assert dh.activation_expr(name) == _definition(name)
    with mpmath.workdps(30):
        z = mpmath.mpf(-5) / 4
        exact = _definition(name).subs(x_, sp.Rational(-5, 4)).evalf(40)
        assert abs(dh.activation_mpmath(name)(z) - exact) < mpmath.mpf(10) ** -28


# --------------------------------------------------------------------------
# The forms agree
# --------------------------------------------------------------------------
@pytest.mark.parametrize("order", [0, 1, 2], ids=["phi", "dphi", "ddphi"])
@pytest.mark.parametrize("name", NAMES)
def test_kernels_and_numpy_forms_against_the_definition(name, order, exact_values):
    row, act = BUILTIN_FORMS[name], get_activation(name)
    kernel = (act.phi, act.dphi, act.ddphi)[order](POINTS)
    # the compiled dispatch of the row's code is the row's own scalar kernel
    assert kernel.tolist() == [row.kernels[order](v) for v in POINTS]
    with np.errstate(over="ignore", under="ignore"):
        numpy_form = np.asarray(row.numpy[order](POINTS.copy()), dtype=float)
    exact = exact_values[name]
    _assert_close_to_exact(kernel, exact, order, f"numba {name} order {order}")
    _assert_close_to_exact(numpy_form, exact, order, f"numpy {name} order {order}")


@pytest.mark.parametrize("order", [0, 1], ids=["phi", "dphi"])
@pytest.mark.parametrize("name", BALL_NAMES)
def test_ball_forms_against_the_definition(name, order, exact_values):
    text = BUILTIN_FORMS[name].ball[order]
    f = ball_function(text, flint.arb)
    exact = exact_values[name]
    old = flint.ctx.prec
    try:
        flint.ctx.prec = 53           # the arb route's first precision: wide balls
        balls = [f(flint.arb(float(v))) for v in POINTS]
        flint.ctx.prec = BALL_PREC
        mids = np.array([float(f(flint.arb(float(v))).mid()) for v in POINTS])
        for v, ball, e, err in zip(POINTS, balls, exact[0][order], exact[1][order]):
            # each float-precision ball meets the enclosure of the exact value
            truth = flint.arb(e) + flint.arb(0, 1) * flint.arb(err)
            assert ball.overlaps(truth), (name, order, v, ball, truth)
    finally:
        flint.ctx.prec = old
    _assert_close_to_exact(mids, exact, order, f"ball midpoint {name} order {order}")


def _identically_zero(expr):
    """A proof that ``expr`` vanishes: expansion, or SymPy's simplify after writing
    erfc through erf and splitting logarithms (exact rewrites; simplify never claims a
    false 0)."""
    if sp.expand(expr) == 0:
        return True
    return sp.simplify(sp.expand_log(expr.rewrite(sp.erf), force=True)) == 0


@pytest.mark.parametrize("name", BALL_NAMES)
def test_ball_forms_are_the_definition_symbolically(name):
    phi = _definition(name)
    ball = [sp.sympify(t, locals={"x": x_}) for t in BUILTIN_FORMS[name].ball]
    assert _identically_zero(ball[0] - phi)
    assert _identically_zero(ball[1] - sp.diff(phi, x_))
    # and the check can fail
    assert not _identically_zero(ball[1] - sp.diff(phi, x_) + x_ / 7)


@pytest.mark.parametrize("name", NAMES)
def test_declared_parity_is_an_identity_of_the_definition(name):
    phi = _definition(name)
    mirrored = phi.subs(x_, -x_)
    parity = BUILTIN_FORMS[name].parity
    if parity == "odd":
        assert _identically_zero(phi + mirrored)
    elif parity == "even":
        assert _identically_zero(phi - mirrored)
    else:
        # a witness: phi(1) is neither phi(-1) nor -phi(-1)
        at1, atm1 = phi.subs(x_, 1).evalf(30), mirrored.subs(x_, 1).evalf(30)
        assert abs(at1 - atm1) > 1e-3 and abs(at1 + atm1) > 1e-3


# --------------------------------------------------------------------------
# Closed-form lists, registered against the table
# --------------------------------------------------------------------------
def test_closed_form_lists_name_builtins():
    for names in (hermite._CLOSED_FORMS, infinite_width._CLOSED_FORMS,
                  dh._CLOSED_FORM_NAMES):
        assert set(names) <= set(NAMES), names


def _rows_with_cosines_below(rng, bound, n=5, d0=6):
    while True:
        X = rng.standard_normal((n, d0))
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        C = U @ U.T
        if np.max(np.abs(C - np.diag(np.diag(C)))) <= bound:
            return X / np.max(np.linalg.norm(X, axis=1))


@pytest.mark.parametrize("name", NAMES)
def test_infinite_width_closed_forms_agree_with_the_series(name, rng):
    # |rho| <= 0.9 off the diagonal: 300 series terms leave a tail below 0.9^300 ~ 2e-14,
    # also for the kinked ReLU family.
    X = _rows_with_cosines_below(rng, 0.9)
    if name not in infinite_width._CLOSED_FORMS:
        with pytest.raises(ValueError, match="^method 'closed_form' is not available"):
            infinite_width_kernels(X, name, 0.7, 1.0, method="closed_form")
        return
    closed = infinite_width_kernels(X, name, 0.7, 1.0, method="closed_form")
    series = infinite_width_kernels(X, name, 0.7, 1.0, method="series")
    np.testing.assert_allclose(closed.ntk, series.ntk, **tol("kernel_routes"))
    np.testing.assert_allclose(closed.conjugate, series.conjugate, **tol("kernel_routes"))


@pytest.mark.parametrize("name", NAMES)
def test_hermite_closed_forms_agree_with_quadrature(name):
    auto = hermite.hermite_coefficients(name, 20, 0.8, normalized=True)
    quad = hermite.hermite_coefficients(name, 20, 0.8, normalized=True, method="quadrature")
    np.testing.assert_allclose(auto, quad, rtol=0, atol=tol("mpmath")["atol"])


@pytest.mark.parametrize("name", NAMES)
def test_hermite_norm_is_finite_exactly_for_polynomials(name):
    """The paper's norm sqrt(sum c_k^2) is finite iff the definition is a polynomial."""
    phi = _definition(name)
    norm = hermite.hermite_norm(name, omega=0.5)
    if not phi.is_polynomial(x_):
        assert norm == math.inf
        return
    deg = sp.Poly(phi, x_).degree()
    c = [dh.hermite_coefficient_polynomial(phi, k, x_, sp.Rational(1, 2))
         for k in range(deg + 1)]
    np.testing.assert_allclose(norm, float(sp.sqrt(sum(v**2 for v in c))), **tol("same_math"))


@pytest.mark.parametrize("name", dh._CLOSED_FORM_NAMES)
def test_derivations_closed_forms_agree_with_pl_toolkit(name):
    closed = dh.closed_form_coefficients(name, 4, sp.Rational(3, 4))
    ours = hermite.hermite_coefficients(name, 4, omega=0.75, method="quadrature")
    for k, c in enumerate(closed):
        if c is not None:
            np.testing.assert_allclose(float(c), ours[k], rtol=0, atol=tol("mpmath")["atol"])
    assert closed[1] is not None or BUILTIN_FORMS[name].parity == "odd"
