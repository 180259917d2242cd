"""GELU's central series: accuracy against mpmath, and the kernels that use them.

On ``[GELU_CENTRAL_LO, GELU_CENTRAL_HI]`` GELU and its derivative come from
two Taylor series (``Phi`` and the normal pdf) instead of libm's ``erfc`` and
``exp``, so that the array kernel vectorizes.  These tests check the series
point by point against mpmath at 40 digits, compare them with libm's route on
the same points, and check that every kernel (scalar, serial and parallel
array builds, aliased output, float32 input) gives the same bits per entry.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from _tolerances import TOL

from pl_toolkit import activations as act
from pl_toolkit import get_activation

LO, HI = act.GELU_CENTRAL_LO, act.GELU_CENTRAL_HI
MAX_ULP = TOL[(np.float64, "series_ulp")][0]


def _points():
    rng = np.random.default_rng(20261203)
    grid = np.linspace(LO, HI, 20001)
    edges = np.concatenate([np.nextafter(LO, np.inf) + np.arange(50) * 1e-15,
                            np.nextafter(HI, -np.inf) - np.arange(50) * 1e-15,
                            [0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300, 1e-8, -1e-8]])
    return np.concatenate([grid, rng.uniform(LO, HI, 20000), edges])


POINTS = _points()


@pytest.fixture(scope="module")
def exact():
    with mp.workdps(40):
        cdf = [mp.ncdf(mp.mpf(float(x))) for x in POINTS]
        pdf = [mp.npdf(mp.mpf(float(x))) for x in POINTS]
        gelu = [mp.mpf(float(x)) * c for x, c in zip(POINTS, cdf)]
        dgelu = [c + mp.mpf(float(x)) * p for x, c, p in zip(POINTS, cdf, pdf)]
    return {k: np.array([float(v) for v in vals]) for k, vals in
            (("cdf", cdf), ("pdf", pdf), ("gelu", gelu), ("dgelu", dgelu))}


def _ulps(values, ref, scale=None):
    scale = np.abs(ref) if scale is None else scale
    return np.abs(values - ref) / np.spacing(np.maximum(scale, np.finfo(float).tiny))


def _vec(f):
    return np.array([f(float(x)) for x in POINTS])


def test_series_within_two_ulp_of_mpmath(exact):
    assert np.max(_ulps(_vec(act._gelu_cdf_central), exact["cdf"])) <= MAX_ULP
    assert np.max(_ulps(_vec(act._gelu_pdf_central), exact["pdf"])) <= MAX_ULP


def test_series_as_accurate_as_libm_on_the_same_points(exact):
    # libm's route (what the kernels use outside the interval) on the same points
    libm_cdf = _vec(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)))
    libm_pdf = _vec(lambda x: math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi))
    for ours, theirs, key in ((_vec(act._gelu_cdf_central), libm_cdf, "cdf"),
                              (_vec(act._gelu_pdf_central), libm_pdf, "pdf")):
        assert np.max(_ulps(ours, exact[key])) <= max(MAX_ULP, np.max(_ulps(theirs, exact[key])))


def test_gelu_and_derivative_against_mpmath(exact):
    # phi = x Phi adds one rounding; phi' = Phi + x pdf adds two, measured on
    # the scale |Phi| + |x pdf| (phi' has a zero near x = -0.75).
    x = POINTS
    assert np.max(_ulps(_vec(act.gelu), exact["gelu"])) <= MAX_ULP + 1
    scale = np.abs(exact["cdf"]) + np.abs(x * exact["pdf"])
    assert np.max(_ulps(_vec(act.gelu_d), exact["dgelu"], scale)) <= MAX_ULP + 2


def test_interval_ends_are_continuous():
    # Stepping across either end changes phi and phi' by rounding only.
    for end, step in ((LO, -1), (HI, 1)):
        inside = end
        outside = np.nextafter(end, step * np.inf)
        for f, scale in ((act.gelu, abs(act.gelu(inside))),
                         (act.gelu_d, act._gelu_cdf_central(inside)
                          + abs(inside * act._gelu_pdf_central(inside)))):
            a, b = f(inside), f(outside)
            assert abs(a - b) <= 8 * np.spacing(scale), (f, end, a, b)


def _rows():
    # Rows that are all central, all outside, and mixed, with the ends themselves.
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((6, 333))
    Z[0] *= 0.1
    Z[1] = 3.0 + rng.random(333)
    Z[2, ::3] = LO
    Z[2, 1::3] = HI
    Z[3, :10] = [np.nextafter(LO, -np.inf), np.nextafter(HI, np.inf), -40.0, 40.0, -1e3,
                 1e3, 0.0, -0.0, 1e-310, -1e-310]
    return Z


@pytest.mark.parametrize("parallel", [False, True])
def test_array_kernel_is_the_scalar_kernel_entrywise(parallel):
    Z = _rows()
    scale = np.linspace(-2.0, 2.0, Z.shape[1])
    H, G = np.empty_like(Z), np.empty_like(Z)
    get_activation("gelu")._fill_phi_dphi(Z, H, G, parallel, scale)
    pairs = np.array([[act._phi_dphi(0, float(x)) for x in row] for row in Z])
    np.testing.assert_array_equal(H, pairs[..., 0])
    np.testing.assert_array_equal(G, pairs[..., 1] * scale)
    np.testing.assert_array_equal(H, _vec_rows(act.gelu, Z))
    np.testing.assert_array_equal(G, _vec_rows(act.gelu_d, Z) * scale)


def _vec_rows(f, Z):
    return np.array([[f(float(x)) for x in row] for row in Z])


def test_output_written_over_its_input_gives_the_same_bits():
    Z = _rows()
    scale = np.ones(Z.shape[1])
    H, G = np.empty_like(Z), np.empty_like(Z)
    gelu = get_activation("gelu")
    gelu._fill_phi_dphi(Z, H, G, False, scale)
    Z2, G2 = Z.copy(), np.empty_like(Z)
    gelu._fill_phi_dphi(Z2, Z2, G2, False, scale)
    np.testing.assert_array_equal(Z2, H)
    np.testing.assert_array_equal(G2, G)


def test_float32_input_is_evaluated_in_float64_then_rounded():
    Z = _rows().astype(np.float32)
    scale = np.ones(Z.shape[1], dtype=np.float32)
    H, G = np.empty_like(Z), np.empty_like(Z)
    get_activation("gelu")._fill_phi_dphi(Z, H, G, False, scale)
    pairs = np.array([[act._phi_dphi(0, float(x)) for x in row] for row in Z.astype(np.float64)])
    np.testing.assert_array_equal(H, pairs[..., 0].astype(np.float32))
    np.testing.assert_array_equal(G, pairs[..., 1].astype(np.float32))


def test_nan_propagates_through_the_kernel():
    Z = np.array([[0.1, np.nan, 2.0]])
    H, G = np.empty_like(Z), np.empty_like(Z)
    get_activation("gelu")._fill_phi_dphi(Z, H, G, False, np.ones(3))
    assert np.isnan(H[0, 1]) and np.isnan(G[0, 1])
    assert np.isfinite(H[0, [0, 2]]).all() and np.isfinite(G[0, [0, 2]]).all()
