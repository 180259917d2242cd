"""The matrix-free NTK trace against the trace of the dense Gram."""

import numpy as np
import pytest

from pl_toolkit import ShallowNet, ntk_gram
from pl_toolkit.ntk_stats import ntk_trace

from _tolerances import tol


@pytest.mark.parametrize("layers", [("W", "V"), ("W",), ("V",)])
@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("activation", ["gelu", "tanh", "relu"])
def test_trace_matches_dense_gram(layers, biases, activation):
    rng = np.random.default_rng(3)
    d0, d1, d2, n = 5, 24, 3, 9
    W = rng.standard_normal((d1, d0)) / np.sqrt(d0)
    V = rng.standard_normal((d2, d1)) / np.sqrt(d1)
    kw = dict(b1=rng.standard_normal(d1), b2=rng.standard_normal(d2)) if biases else {}
    net = ShallowNet(W, V, activation, **kw)
    X = rng.standard_normal((n, d0))
    dense = float(np.trace(ntk_gram(net, X, layers=layers)))
    np.testing.assert_allclose(ntk_trace(net, X, layers=layers), dense, **tol("same_math"))


def test_trace_is_sum_of_layer_traces():
    net = ShallowNet.init(4, 16, 2, seed=1)
    X = np.random.default_rng(1).standard_normal((7, 4))
    np.testing.assert_allclose(ntk_trace(net, X),
                               ntk_trace(net, X, ("W",)) + ntk_trace(net, X, ("V",)),
                               **tol("same_math"))


@pytest.mark.parametrize("layers", [(), ("U",), ("W", "b")])
def test_bad_layers_refused(layers):
    net = ShallowNet.init(3, 4, 1, seed=0)
    with pytest.raises(ValueError, match="^layers must be"):
        ntk_trace(net, np.ones((2, 3)), layers)
