"""Bad input gives a ValueError that names the argument and the problem.

Never a numba typing error, never a silent NaN.  Non-finite values are
reported with the first offending index (C order).
"""

import numpy as np
import pytest

from _tolerances import tol

from pl_toolkit import (ShallowNet, get_activation, gradient, jvp, loss, ntk_gram, ntk_operator,
                        residual, vjp)

N, D0, D1, D2 = 5, 3, 4, 2


def make():
    rng = np.random.default_rng(np.random.SeedSequence(123))
    net = ShallowNet(rng.standard_normal((D1, D0)), rng.standard_normal((D2, D1)), "tanh",
                     rng.standard_normal(D1), rng.standard_normal(D2))
    X = rng.standard_normal((N, D0))
    Y = rng.standard_normal((N, D2))
    return net, X, Y


def with_entry(a, idx, value):
    a = np.array(a, dtype=float)
    a[idx] = value
    return a


# Every public entry point that takes data, as f(net, X, Y) -> anything.
DATA_FUNCS = {
    "forward": lambda net, X, Y: net.forward(X),
    "preactivations": lambda net, X, Y: net.preactivations(X),
    "features": lambda net, X, Y: net.features(X),
    "loss": lambda net, X, Y: loss(net, X, Y),
    "residual": lambda net, X, Y: residual(net, X, Y),
    "gradient": lambda net, X, Y: gradient(net, X, Y),
    "jvp": lambda net, X, Y: jvp(net, X, np.ones(net.num_parameters())),
    "vjp": lambda net, X, Y: vjp(net, X, np.ones_like(Y)),
    "ntk_gram": lambda net, X, Y: ntk_gram(net, X),
    "ntk_gram_numpy": lambda net, X, Y: ntk_gram(net, X, backend="numpy"),
    "ntk_gram_cross": lambda net, X, Y: ntk_gram(net, X, np.ones((2, net.d0))),
    "ntk_operator": lambda net, X, Y: ntk_operator(net, X),
}
TARGET_FUNCS = {
    "loss": lambda net, X, Y: loss(net, X, Y),
    "residual": lambda net, X, Y: residual(net, X, Y),
    "gradient": lambda net, X, Y: gradient(net, X, Y),
}


# --------------------------------------------------------------------------
# Data X
# --------------------------------------------------------------------------
BAD_X = {
    "nan": (lambda X: with_entry(X, (2, 1), np.nan), r"^X contains NaN at index \(2, 1\)"),
    "inf": (lambda X: with_entry(X, (0, 2), -np.inf), r"^X contains Inf at index \(0, 2\)"),
    "first_of_two": (lambda X: with_entry(with_entry(X, (3, 0), np.nan), (1, 2), np.inf),
                     r"^X contains Inf at index \(1, 2\)"),
    "ndim1": (lambda X: X[0], r"^X must have 2 dimension"),
    "ndim3": (lambda X: X[None], r"^X must have 2 dimension"),
    "d0_mismatch": (lambda X: np.hstack([X, X[:, :1]]),
                    r"^X has 4 columns but the net expects d0 = 3"),
    "complex": (lambda X: X + 1j, r"^X has complex dtype"),
    "object": (lambda X: X.astype(object), r"^X has object dtype"),
    "strings": (lambda X: X.astype(str), r"^X has string dtype"),
    "empty": (lambda X: X[:0], r"^X is empty"),
    "none": (lambda X: None, r"^X is None"),
}


@pytest.mark.parametrize("func", list(DATA_FUNCS))
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X(func, case):
    net, X, Y = make()
    bad, match = BAD_X[case]
    Xb = bad(X)
    n = 1 if case == "ndim1" else (0 if case in ("empty", "none") else N)
    Yb = Y[:n] if case not in ("ndim3",) else Y
    with pytest.raises(ValueError, match=match):
        DATA_FUNCS[func](net, Xb, Yb)


@pytest.mark.parametrize("case", ["nan", "d0_mismatch", "complex", "empty", "ndim1"])
def test_bad_X2(case):
    net, X, _ = make()
    bad, match = BAD_X[case]
    with pytest.raises(ValueError, match=match.replace("^X", "^X2")):
        ntk_gram(net, X, bad(X))


_OVERFLOW_X = (r"^X has entries up to 1e\+308 \(net\.b1 up to [\d.]+, net\.W up to 1\): "
               r"the preactivations "
               r"X W\^T \+ b1 overflows float64 \(largest finite value 1\.8e\+308\); rescale X$")


def _overflowing():
    """A net and data whose preactivations x . w = 3e308 overflow for every unit."""
    net, X, Y = make()
    return net.replace(W=np.ones_like(net.W)), X, np.full_like(X, 1e308), Y


@pytest.mark.parametrize("func", list(DATA_FUNCS))
def test_overflow_names_X(func):
    """Finite X whose preactivations overflow: one ValueError naming X and the stage
    (never NaN/Inf, never a plausible value from tanh(inf) = 1)."""
    net, _, Xb, Y = _overflowing()
    with pytest.raises(ValueError, match=_OVERFLOW_X):
        DATA_FUNCS[func](net, Xb, Y)


def test_overflow_names_X2():
    net, X, Xb, _ = _overflowing()
    with pytest.raises(ValueError, match=_OVERFLOW_X.replace("X", "X2")):
        ntk_gram(net, X, Xb)


# --------------------------------------------------------------------------
# Targets Y
# --------------------------------------------------------------------------
BAD_Y = {
    "nan": (lambda Y: with_entry(Y, (4, 1), np.nan), r"^Y contains NaN at index \(4, 1\)"),
    "inf": (lambda Y: with_entry(Y, (0, 0), np.inf), r"^Y contains Inf at index \(0, 0\)"),
    "rows": (lambda Y: Y[:-1], r"^Y has shape \(4, 2\), expected \(5, 2\)"),
    "cols": (lambda Y: Y[:, :1], r"^Y has shape \(5, 1\), expected \(5, 2\)"),
    "1d_for_d2_2": (lambda Y: Y[:, 0], r"^Y is 1-D but the net has d2 = 2"),
    "ndim3": (lambda Y: Y[None], r"^Y must have 1 or 2 dimension"),
    "complex": (lambda Y: Y.astype(complex), r"^Y has complex dtype"),
    "object": (lambda Y: Y.astype(object), r"^Y has object dtype"),
    "none": (lambda Y: None, r"^Y is None"),
}


@pytest.mark.parametrize("func", list(TARGET_FUNCS))
@pytest.mark.parametrize("case", list(BAD_Y))
def test_bad_Y(func, case):
    net, X, Y = make()
    bad, match = BAD_Y[case]
    with pytest.raises(ValueError, match=match):
        TARGET_FUNCS[func](net, X, bad(Y))


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------
def _net_args():
    net, _, _ = make()
    return dict(W=np.array(net.W), V=np.array(net.V), b1=np.array(net.b1), b2=np.array(net.b2))


BAD_WEIGHTS = {
    "W_nan": ("W", lambda a: with_entry(a, (2, 1), np.nan), r"^W contains NaN at index \(2, 1\)"),
    "W_inf": ("W", lambda a: with_entry(a, (0, 0), np.inf), r"^W contains Inf at index \(0, 0\)"),
    "V_nan": ("V", lambda a: with_entry(a, (1, 3), np.nan), r"^V contains NaN at index \(1, 3\)"),
    "b1_inf": ("b1", lambda a: with_entry(a, 2, -np.inf), r"^b1 contains Inf at index 2"),
    "b2_nan": ("b2", lambda a: with_entry(a, 1, np.nan), r"^b2 contains NaN at index 1"),
    "W_ndim": ("W", lambda a: a.ravel(), r"^W must have 2 dimension"),
    "V_ndim": ("V", lambda a: a[None], r"^V must have 1 or 2 dimension"),
    "V_shape": ("V", lambda a: a[:, :-1], r"^V has shape \(2, 3\)"),
    "b1_len": ("b1", lambda a: a[:-1], r"^b1 has length 3, expected d1 = 4"),
    "b2_len": ("b2", lambda a: np.append(a, 0.0), r"^b2 has length 3, expected d2 = 2"),
    "b1_ndim": ("b1", lambda a: a[None], r"^b1 must have 1 dimension"),
    "W_complex": ("W", lambda a: a.astype(complex), r"^W has complex dtype"),
    "V_object": ("V", lambda a: a.astype(object), r"^V has object dtype"),
    "W_empty": ("W", lambda a: a[:, :0], r"^W is empty"),
    "W_none": ("W", lambda a: None, r"^W is None"),
}


@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
def test_bad_weights(case):
    key, bad, match = BAD_WEIGHTS[case]
    args = _net_args()
    args[key] = bad(args[key])
    with pytest.raises(ValueError, match=match):
        ShallowNet(args["W"], args["V"], "tanh", args["b1"], args["b2"])


def test_bad_activation_name():
    args = _net_args()
    with pytest.raises(ValueError,
                       match=r"^activation 'no_such_thing' is unknown; available: .*\bgelu\b"):
        ShallowNet(args["W"], args["V"], "no_such_thing")


def test_bad_flat_vectors():
    net, X, _ = make()
    P = net.num_parameters()
    with pytest.raises(ValueError, match=r"^theta contains NaN at index 3"):
        net.with_parameters(with_entry(np.zeros(P), 3, np.nan))
    with pytest.raises(ValueError, match=rf"^theta has length {P - 1}, expected {P}"):
        net.with_parameters(np.zeros(P - 1))
    with pytest.raises(ValueError, match=r"^t has length"):
        jvp(net, X, np.zeros(P + 1))
    with pytest.raises(ValueError, match=r"^t contains Inf at index 0"):
        jvp(net, X, with_entry(np.zeros(P), 0, np.inf))
    with pytest.raises(ValueError, match=r"^U has shape \(5, 3\), expected \(5, 2\)"):
        vjp(net, X, np.zeros((N, 3)))
    with pytest.raises(ValueError, match=r"^U has length 9, expected n\*d2 = 10"):
        vjp(net, X, np.zeros(9))
    with pytest.raises(ValueError, match=r"^U contains NaN at index \(1, 1\)"):
        vjp(net, X, with_entry(np.zeros((N, D2)), (1, 1), np.nan))
    with pytest.raises(ValueError, match=r"^U has complex dtype"):
        vjp(net, X, np.zeros((N, D2), dtype=complex))


# --------------------------------------------------------------------------
# Other arguments
# --------------------------------------------------------------------------
@pytest.mark.parametrize("layers", [(), ("W", "X"), ("b1",), 3, None])
def test_bad_layers(layers):
    net, X, Y = make()
    for call in (lambda: ntk_gram(net, X, layers=layers), lambda: gradient(net, X, Y, layers),
                 lambda: ntk_operator(net, X, layers=layers), lambda: net.parameters(layers)):
        with pytest.raises(ValueError, match=r"^layers must"):
            call()


def test_bad_backend_and_net():
    net, X, Y = make()
    with pytest.raises(ValueError, match=r"^backend must be"):
        ntk_gram(net, X, backend="torch")
    for call in (lambda: ntk_gram("net", X), lambda: loss(None, X, Y),
                 lambda: ntk_operator(object(), X), lambda: gradient({}, X, Y)):
        with pytest.raises(ValueError, match=r"^net must be a ShallowNet"):
            call()


@pytest.mark.parametrize("kwargs, match", [
    (dict(d0=0, d1=4), r"^d0 must be an integer >= 1"),
    (dict(d0=3, d1=2.5), r"^d1 must be an integer"),
    (dict(d0=3, d1=4, d2=True), r"^d2 must be an integer"),
    (dict(d0=3, d1=4, d2=-1), r"^d2 must be an integer >= 1"),
    (dict(d0=3, d1=4, init="glorot"), r"^init 'glorot' is unknown"),
    (dict(d0=3, d1=4, init=(1.0, -1.0)),
     r"^init=\(omega1, omega2\): omega2 must be a positive finite"),
    (dict(d0=3, d1=4, init=(1.0, np.nan)),
     r"^init=\(omega1, omega2\): omega2 must be a positive finite"),
    (dict(d0=3, d1=4, init=(0.0, 1.0)),
     r"^init=\(omega1, omega2\): omega1 must be a positive finite"),
    (dict(d0=3, d1=4, init=("a", 1.0)),
     r"^init=\(omega1, omega2\): omega1 must be a positive finite"),
    (dict(d0=3, d1=4, init=(1.0,)), r"^init must be a name or an \(omega1, omega2\) pair"),
    (dict(d0=3, d1=4, init=(1.0, 2.0, 3.0)), r"^init must be a name or an \(omega1, omega2\) pair"),
    (dict(d0=3, d1=4, activation="nope"), r"activation 'nope' is unknown"),
    # seed: SeedSequence's own messages ("expected non-negative integer") named nothing.
    (dict(d0=3, d1=4, seed=-1), r"^seed must be non-negative, got -1"),
    (dict(d0=3, d1=4, seed=[1, -2]), r"^seed must be non-negative"),
    (dict(d0=3, d1=4, seed=1.5), r"^seed must be a non-negative integer"),
    (dict(d0=3, d1=4, seed="7"), r"^seed must be a non-negative integer"),
    (dict(d0=3, d1=4, seed=True), r"^seed must be a non-negative integer"),
    (dict(d0=3, d1=4, seed=None), r"^seed must be .*got None"),
    (dict(d0=3, d1=4, bias="yes"), r"^bias must be True or False"),
])
def test_bad_init(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShallowNet.init(**kwargs)


def test_seed_forms_agree():
    """An int, its SeedSequence and a numpy integer draw the same net; sequences are accepted."""
    a = ShallowNet.init(3, 4, seed=5)
    assert (a == ShallowNet.init(3, 4, seed=np.random.SeedSequence(5))
            == ShallowNet.init(3, 4, seed=np.int64(5)))
    assert ShallowNet.init(3, 4, seed=[5, 6]) != a


@pytest.mark.parametrize("value", ["x", -1.0, np.inf, np.nan, [1.0], "1e400"])
@pytest.mark.parametrize("name", ["omega1", "omega2"])
def test_bad_omega_in_constructor(name, value):
    """omega1/omega2 of explicit weights are recorded standard deviations: >= 0 and finite,
    one message whether the value is unparseable or out of range."""
    args = _net_args()
    with pytest.raises(ValueError, match=rf"^{name} must be a non-negative finite number, got "):
        ShallowNet(args["W"], args["V"], "tanh", **{name: value})


def test_omega_in_constructor_recorded_as_float():
    args = _net_args()
    net = ShallowNet(args["W"], args["V"], "tanh", omega1=np.float32(0.5), omega2=0)
    assert (net.omega1, net.omega2) == (0.5, 0.0)
    assert type(net.omega1) is float and type(net.omega2) is float


def test_replace_unknown_field():
    net, _, _ = make()
    with pytest.raises(ValueError, match="unknown field"):
        net.replace(U=np.zeros(3))


def test_activation_array_input():
    act = get_activation("gelu")
    with pytest.raises(ValueError, match=r"^x contains NaN at index \(0, 1\)"):
        act.phi(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"^x has complex dtype"):
        act.dphi(np.array([1j]))
    with pytest.raises(ValueError, match=r"^x has object dtype"):
        act.ddphi(np.array([1.0, None], dtype=object))


# --------------------------------------------------------------------------
# Acceptable but unusual input is converted, not refused
# --------------------------------------------------------------------------
def test_layouts_and_dtypes_are_converted():
    net, X, Y = make()
    K = ntk_gram(net, X)
    g = gradient(net, X, Y)
    variants = {
        "fortran": np.asfortranarray(X),
        "strided": np.repeat(X, 2, axis=0)[::2],
        "list": X.tolist(),
        "readonly": X.copy(),
    }
    variants["readonly"].setflags(write=False)
    for name, Xv in variants.items():
        np.testing.assert_array_equal(ntk_gram(net, Xv), K, err_msg=name)
        np.testing.assert_array_equal(gradient(net, Xv, Y), g, err_msg=name)
    # Integer and float32 data are converted to float64.
    Xi = np.arange(N * D0).reshape(N, D0) % 3 - 1
    np.testing.assert_array_equal(ntk_gram(net, Xi), ntk_gram(net, Xi.astype(float)))
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(ntk_gram(net, X32), ntk_gram(net, X32.astype(float)),
                               **tol("same_math"))
    # Integer weights.
    net_i = ShallowNet(np.ones((D1, D0), dtype=int), np.ones((1, D1), dtype=np.int32), "tanh")
    assert net_i.W.dtype == np.float64 and net_i.V.dtype == np.float64


# --------------------------------------------------------------------------
# Activation.phi_dphi is public: it must not return wrong numbers or leak a
# numba typing error for input the other array methods accept.
# --------------------------------------------------------------------------
PHI_DPHI_INPUTS = {
    "int_matrix": np.array([[0, 1], [2, -1]]),
    "list": [[0.5, 1.0]],
    "vector": np.array([0.5, 1.0, -2.0]),
    "float32": np.array([[0.5, 1.0]], dtype=np.float32),
}
_PHI_DPHI_BUGS = {
    "int_matrix": "bug: phi_dphi allocates H, G like an integer Z and truncates "
                  "tanh(1) = 0.76 to 0 silently",
    "list": "bug: phi_dphi passes a list to the kernel: numba TypingError",
    "vector": "bug: phi_dphi passes a 1-D array to the 2-D kernel: numba TypingError",
    "float32": "bug: phi_dphi returns float32 H, G for float32 Z (compiles a float32 "
               "specialization) instead of float64",
}


@pytest.mark.parametrize("case", list(PHI_DPHI_INPUTS))
def test_phi_dphi_input(case):
    """Either a ValueError naming Z, or the right float64 values."""
    act = get_activation("tanh")
    Z = PHI_DPHI_INPUTS[case]
    try:
        H, G = act.phi_dphi(Z)
    except ValueError as exc:
        assert str(exc).startswith("Z")
        return
    Zf = np.asarray(Z, dtype=np.float64)
    assert H.dtype == G.dtype == np.float64
    np.testing.assert_allclose(H, act.phi(Zf), **tol("same_math"))
    np.testing.assert_allclose(G, act.dphi(Zf), **tol("same_math"))


@pytest.mark.parametrize("kw", [dict(phi_dot_max="abc"), dict(phi_dot_max=-1.0),
                                dict(phi_ddot_max=np.nan), dict(phi_ddot_max=[1.0])])
def test_register_activation_bad_constants(kw):
    from pl_toolkit import register_activation

    name = next(iter(kw))
    with pytest.raises(ValueError, match=rf"^{name} must be a non-negative number"):
        register_activation("bad_constants", lambda x: x, lambda x: 1.0, lambda x: 0.0,
                            overwrite=True, **kw)
