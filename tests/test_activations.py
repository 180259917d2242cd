"""Activation registry: values and derivatives against SymPy/mpmath and finite
differences, the Assumption-2 constants against dense grids and mpmath, and
user registration.

The SymPy table ``SYMPY_ACTIVATIONS`` below is written from the textbook
definitions, independently of ``pl_toolkit``; other test files import it to
build their own Jacobians.
"""

import decimal
import functools
import math
import pickle

import mpmath as mp
import numba
import numpy as np
import pytest
import sympy as sp

from _tolerances import EPS64, TOL, tol

import pl_toolkit
from pl_toolkit import available_activations, get_activation, register_activation

BUILTINS = ("gelu", "tanh", "sigmoid", "softplus", "shifted_softplus", "silu", "erf",
            "quadratic", "identity", "relu", "leaky_relu")
KINKED = ("relu", "leaky_relu")  # phi' jumps at 0: no derivative checks across 0

x_ = sp.Symbol("x", real=True)

#: phi as SymPy expressions, from the definitions (not from pl_toolkit).
SYMPY_ACTIVATIONS = {
    "gelu": x_ / 2 * (1 + sp.erf(x_ / sp.sqrt(2))),
    "tanh": sp.tanh(x_),
    "sigmoid": 1 / (1 + sp.exp(-x_)),
    "softplus": sp.log(1 + sp.exp(x_)),
    "shifted_softplus": sp.log(1 + sp.exp(x_)) - sp.log(2),
    "silu": x_ / (1 + sp.exp(-x_)),
    "erf": sp.erf(x_),
    "quadratic": x_ ** 2,
    "identity": x_,
    "relu": sp.Piecewise((x_, x_ > 0), (0, True)),
    "leaky_relu": sp.Piecewise((x_, x_ > 0), (x_ / 100, True)),
}

NO_JIT = bool(numba.config.DISABLE_JIT)
_NEEDS_JIT = pytest.mark.skipif(NO_JIT, reason="without numba any Python function 'compiles'")

#: Twice continuously differentiable? (relu/leaky_relu: phi' jumps at 0.)
C2 = {name: name not in KINKED for name in BUILTINS}


def sympy_derivatives(name, order_max=3):
    """[phi, phi', phi'', ...] as SymPy expressions."""
    e = SYMPY_ACTIVATIONS[name]
    return [sp.diff(e, x_, k) if k else e for k in range(order_max + 1)]


def numpy_funcs(name):
    """(phi, phi', phi'') lambdified to SciPy/NumPy from the SymPy table."""
    return tuple(sp.lambdify(x_, q, modules=["scipy", "numpy"])
                 for q in sympy_derivatives(name, 2))


def _broadcast(f):
    # lambdify of a constant returns a scalar; give it the input's shape.
    return lambda z: np.broadcast_to(np.asarray(f(z), dtype=float), np.shape(z)).copy()


@functools.cache
def numpy_funcs_broadcast(name):
    """Like :func:`numpy_funcs`, always returning arrays shaped like the input."""
    return tuple(_broadcast(f) for f in numpy_funcs(name))


def mp_values(expr, xs, dps=30):
    """Evaluate a SymPy expression in mpmath at float points, return floats."""
    f = sp.lambdify(x_, expr, "mpmath")
    with mp.workdps(dps):
        return np.array([float(f(mp.mpf(float(v)))) for v in xs])


def sample_points(name):
    xs = np.concatenate([np.linspace(-12.0, 12.0, 97), [-30.0, -20.5, 20.5, 30.0, 1e-3, -1e-3]])
    if name in KINKED:
        xs = xs[np.abs(xs) > 1e-2]
    else:
        xs = np.concatenate([xs, [0.0, 1e-9, -1e-9]])
    return xs


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
def test_builtin_names_registered():
    names = available_activations()
    assert names == sorted(names)
    assert set(BUILTINS) == {n for n in names if get_activation(n).code >= 0}
    # every built-in has its textbook definition here
    assert set(SYMPY_ACTIVATIONS) == set(BUILTINS)
    for name in BUILTINS:
        act = get_activation(name)
        assert isinstance(act, pl_toolkit.Activation)
        assert act.name == name


@pytest.mark.parametrize("name", BUILTINS)
def test_table_definition_is_the_textbook_one(name):
    """The activation table's SymPy string against the definition written here."""
    from pl_toolkit.activations import BUILTIN_FORMS

    table = sp.sympify(BUILTIN_FORMS[name].sympy, locals={"x": x_}, rational=True)
    diff = sp.expand_log((table - SYMPY_ACTIVATIONS[name]).rewrite(sp.exp), force=True)
    assert sp.simplify(diff) == 0


def test_get_activation_normalizes_and_passes_records():
    act = get_activation("tanh")
    assert get_activation("TANH") is act
    assert get_activation(" Shifted-Softplus ") is get_activation("shifted_softplus")
    assert get_activation(act) is act


@pytest.mark.parametrize("bad", ["no_such_activation", "", 3, None])
def test_get_activation_unknown(bad):
    with pytest.raises(ValueError, match="activation"):
        get_activation(bad)


def test_activation_pickles_by_name():
    act = get_activation("silu")
    assert pickle.loads(pickle.dumps(act)) is act


# --------------------------------------------------------------------------
# Values and derivatives
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("order", [0, 1, 2])
def test_against_sympy_mpmath(name, order):
    """phi, phi', phi'' against SymPy derivatives evaluated in mpmath at 30 digits."""
    act = get_activation(name)
    xs = sample_points(name)
    expr = sympy_derivatives(name, 2)[order]
    expected = mp_values(expr, xs)
    got = (act.phi, act.dphi, act.ddphi)[order](xs)
    np.testing.assert_allclose(got, expected, **tol("mpmath"))


EXTREME = np.array([1e3, -1e3, 1e10, -1e10, 1e100, -1e100, 1e160, -1e160, 1e200, -1e200,
                    1e300, -1e300, 1.7e308, -1.7e308])
@pytest.mark.parametrize("name, order", [(name, order) for name in BUILTINS for order in (0, 1, 2)])
def test_extreme_finite_inputs(name, order):
    """Huge finite inputs: the float64 rounding of the exact value (overflow to
    +-inf allowed where the exact value exceeds the range), never NaN."""
    act = get_activation(name)
    # Overflow in intermediate steps is expected here (and warns when the
    # kernels run as Python under NUMBA_DISABLE_JIT): only the values matter.
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        got = (act.phi, act.dphi, act.ddphi)[order](EXTREME)
    expected = mp_values(sympy_derivatives(name, 2)[order], EXTREME)
    assert not np.any(np.isnan(got)), EXTREME[np.isnan(got)]
    np.testing.assert_allclose(got, expected, **tol("mpmath"))


@pytest.mark.parametrize("name", BUILTINS)
def test_scalar_kernels_match_array_methods(name):
    act = get_activation(name)
    xs = [-2.5, -0.3, 0.7, 4.0]
    for scalar, array in ((act.phi_scalar, act.phi), (act.dphi_scalar, act.dphi),
                          (act.ddphi_scalar, act.ddphi)):
        assert [scalar(v) for v in xs] == array(np.array(xs)).tolist()


@pytest.mark.parametrize("name", BUILTINS)
def test_derivatives_against_finite_differences(name):
    """phi' ~ central differences of phi, phi'' ~ central differences of phi'."""
    act = get_activation(name)
    xs = np.linspace(-6.0, 6.0, 61) + 0.0123
    h = EPS64 ** (1 / 3) * np.maximum(1.0, np.abs(xs))
    if name in KINKED:
        # A difference quotient straddling the kink is meaningless.
        keep = np.abs(xs) > 10 * h
        xs, h = xs[keep], h[keep]
    fd1 = (act.phi(xs + h) - act.phi(xs - h)) / (2 * h)
    fd2 = (act.dphi(xs + h) - act.dphi(xs - h)) / (2 * h)
    np.testing.assert_allclose(act.dphi(xs), fd1, **tol("finite_difference"))
    np.testing.assert_allclose(act.ddphi(xs), fd2, **tol("finite_difference"))


def test_kink_conventions():
    # Documented one-sided conventions at 0.
    assert get_activation("relu").dphi(np.array([0.0]))[0] == 0.0
    assert get_activation("leaky_relu").dphi(np.array([0.0]))[0] == 0.01
    assert get_activation("relu").phi(np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("name", BUILTINS)
def test_shapes_and_int_input(name):
    act = get_activation(name)
    z = np.arange(-6, 6).reshape(3, 2, 2)
    for f in (act.phi, act.dphi, act.ddphi):
        out = f(z)
        assert out.shape == z.shape and out.dtype == np.float64
        np.testing.assert_array_equal(out, f(z.astype(float)))
    assert act.phi(np.empty((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("name", BUILTINS)
def test_parity(name):
    """Declared parity matches phi(-x) = -+ phi(x) by mpmath values."""
    xs = np.linspace(0.1, 5.0, 50)
    expr = SYMPY_ACTIVATIONS[name]
    plus, minus = mp_values(expr, xs), mp_values(expr, -xs)
    odd = np.allclose(minus, -plus, **tol("mpmath"))
    even = np.allclose(minus, plus, **tol("mpmath"))
    expected = "odd" if odd else "even" if even else None
    assert get_activation(name).parity == expected


# --------------------------------------------------------------------------
# Assumption-2 constants
# --------------------------------------------------------------------------
def _grid_max_rtol():
    return TOL[(np.float64, "grid_max")][0]


GRID = np.linspace(-30.0, 30.0, 600001)  # spacing 1e-4


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("order", [1, 2])
def test_sup_against_dense_grid(name, order):
    act = get_activation(name)
    stated = act.phi_dot_max if order == 1 else act.phi_ddot_max
    f = act.dphi if order == 1 else act.ddphi
    if not math.isfinite(stated):
        if name == "quadratic" and order == 1:
            big = np.array([1e6, -1e8])
            assert np.all(np.abs(f(big)) >= np.abs(big))  # phi' = 2x is unbounded
        else:
            assert name in KINKED and order == 2  # phi'' is a Dirac mass at the kink
        return
    grid_max = float(np.max(np.abs(f(GRID))))
    same = tol("same_math")
    assert grid_max <= stated * (1 + same["rtol"]) + same["atol"]
    assert grid_max >= stated * (1 - _grid_max_rtol())


@pytest.mark.parametrize("name", BUILTINS)
@pytest.mark.parametrize("order", [1, 2])
def test_sup_exact_by_mpmath(name, order):
    """Locate the maximizer of |phi^(order)| by mpmath root finding on the next
    derivative (SymPy) and compare the stated sup with the value there."""
    act = get_activation(name)
    stated = act.phi_dot_max if order == 1 else act.phi_ddot_max
    if not math.isfinite(stated):
        pytest.skip("unbounded; covered by test_sup_against_dense_grid")
    exprs = sympy_derivatives(name, 3)
    q, dq = exprs[order], exprs[order + 1]
    qf = sp.lambdify(x_, q, "mpmath")
    with mp.workdps(30):
        if name in KINKED:
            # Piecewise-constant derivative: sup over the two sides.
            exact = max(abs(qf(mp.mpf(1))), abs(qf(mp.mpf(-1))))
        elif dq == 0:
            exact = abs(qf(mp.mpf(0)))
        else:
            vals = np.abs((act.dphi if order == 1 else act.ddphi)(GRID))
            x0 = GRID[int(np.argmax(vals))]
            if abs(x0) > 29.0:
                # Not attained (softplus phi' -> 1): the sup is the limit, which
                # |phi'(1000)| = 1 - e^-1000 equals to 30 digits.
                exact = abs(qf(mp.mpf(1000 if x0 > 0 else -1000)))
            else:
                root = mp.findroot(sp.lambdify(x_, dq, "mpmath"), mp.mpf(float(x0)))
                exact = abs(qf(root))
    np.testing.assert_allclose(stated, float(exact), **tol("mpmath"))


def test_tanh_exact_constants():
    act = get_activation("tanh")
    assert act.phi_dot_max == 1.0
    np.testing.assert_allclose(act.phi_ddot_max, 4 / (3 * math.sqrt(3)), **tol("same_math"))


@pytest.mark.parametrize("name", ["softplus", "shifted_softplus"])
def test_softplus_sup_approached_not_attained(name):
    act = get_activation(name)
    assert act.phi_dot_max == 1.0
    xs = np.array([5.0, 10.0, 20.0, 40.0])
    d = act.dphi(xs)
    assert np.all(d <= 1.0) and np.all(np.diff(d) >= 0)
    assert 1.0 - d[-1] <= _grid_max_rtol()


@pytest.mark.parametrize("name", BUILTINS)
def test_assumption2(name):
    """Assumption 2: C^2, phi(0) = 0, bounded phi' and phi'' (SymPy limits)."""
    act = get_activation(name)
    phi, d1, d2 = sympy_derivatives(name, 2)
    phi0_zero = sp.simplify(phi.subs(x_, 0)) == 0
    if C2[name]:
        # A continuous derivative is bounded iff it stays bounded at +-oo; probe
        # far out in mpmath (no overflow): bounded ones do not grow from 1e3 to 1e9.
        bounded = True
        for q in (d1, d2):
            near = np.abs(mp_values(q, [1e3, -1e3]))
            far = np.abs(mp_values(q, [1e9, -1e9]))
            bounded &= bool(np.all(far <= near + 1.0))
    else:
        bounded = False
    expected = C2[name] and phi0_zero and bounded
    assert act.assumption2 is expected
    assert (act.assumption2_reason == "") is expected
    if not C2[name]:
        assert "C^2" in act.assumption2_reason
    if not phi0_zero:
        assert "phi(0)" in act.assumption2_reason
    # Consistency of the record: a finite sup for every assumption-2 activation.
    if expected:
        assert math.isfinite(act.phi_dot_max) and math.isfinite(act.phi_ddot_max)


def test_issue_examples_of_reasons():
    assert not get_activation("relu").assumption2
    assert "C^2" in get_activation("relu").assumption2_reason
    assert not get_activation("sigmoid").assumption2
    assert "phi(0)" in get_activation("sigmoid").assumption2_reason


# --------------------------------------------------------------------------
# User activations
# --------------------------------------------------------------------------
def _sin(x):
    return math.sin(x)


def _cos(x):
    return math.cos(x)


def _msin(x):
    return -math.sin(x)


def user_sin_activation():
    """The user activation sin, registered once per process (compiling it costs ~1 s)."""
    if "test_user_sin" in available_activations():
        return get_activation("test_user_sin")
    return register_activation("test_user_sin", _sin, _cos, _msin)


@pytest.fixture(scope="module")
def user_sin():
    return user_sin_activation()


def test_user_activation_record(user_sin):
    assert get_activation("test_user_sin") is user_sin
    assert "test_user_sin" in available_activations()
    # sups omitted: estimated on a dense grid, and said so.
    assert abs(user_sin.phi_dot_max - 1.0) <= TOL[(np.float64, "grid_max")][0]
    assert abs(user_sin.phi_ddot_max - 1.0) <= TOL[(np.float64, "grid_max")][0]
    assert "estimated" in user_sin.notes
    assert user_sin.assumption2 and user_sin.assumption2_reason == ""
    xs = np.linspace(-4, 4, 33)
    np.testing.assert_allclose(user_sin.phi(xs), np.sin(xs), **tol("same_math"))
    np.testing.assert_allclose(user_sin.dphi(xs), np.cos(xs), **tol("same_math"))
    np.testing.assert_allclose(user_sin.ddphi(xs), -np.sin(xs), **tol("same_math"))


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("parallel", [False, True])
def test_user_activation_phi_dphi_in_place(user_sin, parallel):
    """phi_dphi with H aliasing Z (as the NTK code calls it).

    Regression: the serial closure once wrote H[i, j] before reading Z[i, j]
    for G, giving G = phi'(phi(Z)).
    """
    Z = np.linspace(-3, 3, 24).reshape(4, 6)
    Zc = Z.copy()
    H, G = user_sin._fill_phi_dphi(Zc, Zc, np.empty_like(Zc), parallel)
    np.testing.assert_allclose(H, np.sin(Z), **tol("same_math"))
    np.testing.assert_allclose(G, np.cos(Z), **tol("same_math"))


@pytest.mark.usefixtures("always_parallel")
@pytest.mark.parametrize("parallel", [False, True])
def test_user_activation_end_to_end_ntk(user_sin, rng, parallel):
    """ntk_gram of a user activation against an explicit Jacobian built with np.sin/np.cos."""
    n, d0, d1, d2 = 5, 3, 6, 2
    W = rng.standard_normal((d1, d0))
    V = rng.standard_normal((d2, d1))
    b1 = rng.standard_normal(d1)
    X = rng.standard_normal((n, d0))
    net = pl_toolkit.ShallowNet(W, V, activation="test_user_sin", b1=b1)
    Z = X @ W.T + b1
    G = np.cos(Z)
    # rows a*d2 + p; columns W (row-major), b1, V (row-major)
    JW = np.einsum("pr,ar,ak->aprk", V, G, X).reshape(n * d2, d1 * d0)
    Jb1 = np.einsum("pr,ar->apr", V, G).reshape(n * d2, d1)
    JV = np.einsum("pq,ar->apqr", np.eye(d2), np.sin(Z)).reshape(n * d2, d2 * d1)
    J = np.hstack([JW, Jb1, JV])
    K = pl_toolkit.ntk_gram(net, X, parallel=parallel)
    np.testing.assert_allclose(K, J @ J.T, **tol("analytic_jacobian"))
    np.testing.assert_allclose(K, pl_toolkit.ntk_gram(net, X, backend="numpy"),
                               **tol("kernel_vs_reference"))
    np.testing.assert_allclose(net.forward(X), np.sin(Z) @ V.T, **tol("same_math"))


def test_user_activation_explicit_constants_and_flags():
    import numba

    def cos(x):
        return math.cos(x)

    # A numba dispatcher is accepted as it is; explicit sups are kept.
    act = register_activation("test_user_cos", numba.njit(cos), _msin,
                              lambda x: -math.cos(x), phi_dot_max=1.0, phi_ddot_max=1.0,
                              c2=False, parity="even", overwrite=True)
    assert act.phi_dot_max == 1.0 and act.phi_ddot_max == 1.0 and act.parity == "even"
    assert "estimated" not in act.notes
    assert not act.assumption2
    assert "phi(0)" in act.assumption2_reason and "C^2" in act.assumption2_reason


def test_register_refuses_builtin_and_duplicate(user_sin):
    with pytest.raises(ValueError, match="built-in"):
        register_activation("tanh", _sin, _cos, _msin, overwrite=True)
    with pytest.raises(ValueError, match="already registered"):
        register_activation("test_user_sin", _sin, _cos, _msin)
    with pytest.raises(ValueError, match="name"):
        register_activation("  ", _sin, _cos, _msin)


def _not_numba(x):
    return decimal.Decimal(x)


def _inf_at_zero(x):
    return 1.0 / x


@pytest.mark.parametrize("args, match", [
    ((1.0, _cos, _msin), "phi must be callable"),
    pytest.param((_sin, _not_numba, _msin), "dphi cannot be compiled", marks=_NEEDS_JIT),
    # (as Python, 1.0 / 0.0 raises ZeroDivisionError instead of giving inf)
    pytest.param((_sin, _cos, _inf_at_zero), r"ddphi\(0\) is not finite", marks=_NEEDS_JIT),
    ((_sin, _cos, lambda x: (x, x)), "ddphi"),
])
def test_register_bad_user_functions(args, match):
    with pytest.raises(ValueError, match=match):
        register_activation("test_user_bad", *args, overwrite=True)
    assert "test_user_bad" not in available_activations()
