"""One registry-driven test: every compiled kernel against its plain NumPy
reference, serial and parallel.

``COMPARISONS`` maps a kernel (by id) to its reference, in the manner of
numbagg's ``COMPARISONS``.  Each entry runs the kernel with
``parallel=False`` and ``parallel=True``; the two builds must agree bitwise
(their ``prange`` loops run over independent rows), and both must match
the reference within tolerance ``kernel_vs_reference``.  Adding a kernel
to pl_toolkit means adding an entry here; ``test_registry_covers`` fails
when an activation has no entry.
"""

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from _tolerances import tol

from test_activations import user_sin_activation

from pl_toolkit import (ShallowNet, available_activations, get_activation, infinite_width_kernels,
                        ntk_gram, ntk_operator)
from pl_toolkit import _reference


@dataclass(frozen=True)
class Comparison:
    kernel: Callable      # kernel(inputs, parallel) -> array or tuple of arrays
    reference: Callable   # reference(inputs) -> same structure
    inputs: Callable      # inputs() -> fresh inputs (kernels must not mutate them)
    bitwise: bool = True  # serial and parallel builds must agree bitwise


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
def activation_inputs():
    """Rows of points spanning [-50, 50], denser near 0, with special values."""
    rng = np.random.default_rng(np.random.SeedSequence(7))
    special = np.array([0.0, -0.0, 1e-300, -1e-300, 1e-9, -1e-9, 1.0, -1.0, math.sqrt(2),
                        -math.sqrt(2), 19.999, 20.0, 20.001, -20.0, 36.0, -36.0, 50.0, -50.0])
    body = np.concatenate([np.linspace(-50, 50, 401), rng.standard_normal(300) * 3,
                           np.tile(special, 2)])
    return np.ascontiguousarray(body[:736].reshape(32, 23))


def net_inputs(d2, bias, n2=None, activation="gelu"):
    def make():
        rng = np.random.default_rng(np.random.SeedSequence([d2, int(bias), n2 or 0]))
        d0, d1, n = 4, 9, 11
        net = ShallowNet(rng.standard_normal((d1, d0)) / 2, rng.standard_normal((d2, d1)) / 3,
                         activation, rng.standard_normal(d1) if bias else None,
                         rng.standard_normal(d2) if bias else None)
        X = rng.standard_normal((n, d0))
        X2 = None if n2 is None else rng.standard_normal((n2, d0))
        return net, X, X2
    return make


# --------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------
BUILTINS = [n for n in available_activations() if get_activation(n).code >= 0]


def _activation_entries(get_act, ref_funcs):
    f0, f1, f2 = ref_funcs

    def method(m):
        return lambda z, parallel: getattr(get_act(), m)(z, parallel=parallel)

    return {
        "phi": Comparison(method("phi"), f0, activation_inputs),
        "dphi": Comparison(method("dphi"), f1, activation_inputs),
        "ddphi": Comparison(method("ddphi"), f2, activation_inputs),
        "phi_dphi": Comparison(lambda Z, parallel: get_act().phi_dphi(Z, parallel=parallel),
                               lambda Z: (f0(Z), f1(Z)), activation_inputs),
    }


COMPARISONS = {}
for _name in BUILTINS:
    for _k, _c in _activation_entries(functools.partial(get_activation, _name),
                                      _reference.ACTIVATIONS[_name]).items():
        COMPARISONS[f"activation[{_name}].{_k}"] = _c

# A user activation (sin): its kernels are closures compiled at registration.
_USER_REF = (np.sin, np.cos, lambda z: -np.sin(z))


def _user_inputs():
    return np.ascontiguousarray(np.linspace(-6, 6, 7 * 13).reshape(7, 13))


for _k, _c in _activation_entries(user_sin_activation, _USER_REF).items():
    COMPARISONS[f"activation[user].{_k}"] = Comparison(_c.kernel, _c.reference, _user_inputs)


def _gram(**kw):
    return lambda inp, parallel: ntk_gram(inp[0], inp[1], inp[2], parallel=parallel, **kw)


def _gram_ref(**kw):
    return lambda inp: ntk_gram(inp[0], inp[1], inp[2], backend="numpy", **kw)


for _d2 in (1, 3):
    for _bias in (False, True):
        for _n2 in (None, 6):
            for _layers in (("W", "V"), ("W",), ("V",)):
                for _blocks in (False, True):
                    _kw = dict(layers=_layers, blocks=_blocks)
                    COMPARISONS[f"ntk_gram[d2={_d2},bias={_bias},X2={_n2},layers={_layers},"
                                f"blocks={_blocks}]"] = Comparison(
                        _gram(**_kw), _gram_ref(**_kw), net_inputs(_d2, _bias, _n2))
for _name in BUILTINS:
    COMPARISONS[f"ntk_gram[{_name}]"] = Comparison(_gram(), _gram_ref(),
                                                   net_inputs(2, True, activation=_name))


def _user_net_inputs():
    return net_inputs(2, True, activation=user_sin_activation())()


#: Entries failing because of a known bug: id -> reason.
KNOWN_BUGS = {}
COMPARISONS["ntk_gram[user]"] = Comparison(_gram(), _gram_ref(), _user_net_inputs)


def _infinite_inputs():
    rng = np.random.default_rng(np.random.SeedSequence(77))
    X = rng.standard_normal((7, 4))
    # Scales omega1 |x| of about 0.5, where 64 Gauss-Hermite nodes are exact to
    # rounding for smooth activations, so the series route can be compared too.
    X *= 0.5 / np.linalg.norm(X, axis=1, keepdims=True) * rng.uniform(0.7, 1.3, size=(7, 1))
    return X


def _infinite(method, name):
    def run(X, parallel):
        k = infinite_width_kernels(X, name, 1.0, 0.7, method=method, parallel=parallel)
        return k.conjugate, k.ntk
    return run


def _infinite_ref(name):
    def run(X):
        return _reference.infinite_width_kernels(X, get_activation(name), 1.0, 0.7)
    return run


for _name in ("gelu", "tanh", "softplus", "silu"):
    for _method in ("quadrature", "series"):
        COMPARISONS[f"infinite_width[{_name},{_method}]"] = Comparison(
            _infinite(_method, _name), _infinite_ref(_name), _infinite_inputs)


def _operator_dense(layers):
    def run(inp, parallel):
        net, X, _ = inp
        op = ntk_operator(net, X, layers=layers, parallel=parallel)
        return op @ np.eye(op.shape[0])
    return run


for _d2 in (1, 3):
    for _bias in (False, True):
        for _layers in (("W", "V"), ("W",), ("V",)):
            COMPARISONS[f"ntk_operator[d2={_d2},bias={_bias},layers={_layers}]"] = Comparison(
                _operator_dense(_layers), _gram_ref(layers=_layers), net_inputs(_d2, _bias))


# --------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------
def _as_tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


@pytest.fixture(autouse=True)
def _parallel_builds_run(always_parallel):
    # The registry inputs are small: make parallel=True really run the parallel build.
    return always_parallel


@pytest.mark.parametrize("kernel_id", [
    pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[k]))
    if k in KNOWN_BUGS else k for k in COMPARISONS])
def test_kernel_vs_reference(kernel_id):
    c = COMPARISONS[kernel_id]
    inputs = c.inputs()
    serial = _as_tuple(c.kernel(c.inputs(), False))
    parallel = _as_tuple(c.kernel(c.inputs(), True))
    expected = _as_tuple(c.reference(inputs))
    assert len(serial) == len(parallel) == len(expected)
    for s, p, e in zip(serial, parallel, expected):
        assert s.shape == p.shape == np.shape(e)
        if c.bitwise:
            np.testing.assert_array_equal(s, p, err_msg="serial and parallel differ")
        np.testing.assert_allclose(s, e, **tol("kernel_vs_reference"))
        np.testing.assert_allclose(p, e, **tol("kernel_vs_reference"))


def test_registry_covers_every_activation_and_kernel():
    for name in BUILTINS:
        for k in ("phi", "dphi", "ddphi", "phi_dphi"):
            assert f"activation[{name}].{k}" in COMPARISONS
        assert f"ntk_gram[{name}]" in COMPARISONS
    # Every built-in has a NumPy reference and vice versa.
    assert set(BUILTINS) == set(_reference.ACTIVATIONS)


def test_kernels_do_not_mutate_inputs():
    Z = activation_inputs()
    Z0 = Z.copy()
    get_activation("gelu").phi_dphi(Z)
    np.testing.assert_array_equal(Z, Z0)
    net, X, X2 = net_inputs(3, True, 5)()
    X0, X20 = X.copy(), X2.copy()
    ntk_gram(net, X, X2)
    ntk_gram(net, X)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(X2, X20)
