"""The typed record of measured constants refuses, field by field, what it cannot use."""

import json
import math
from dataclasses import asdict, fields

import numpy as np
import pytest

from derivations.check import MeasuredConstants, from_measurements

SIZES = dict(n=4, d0=3, d1=50, d2=1)
TEXT = ("assumption2_reason", "status", "criterion", "activation", "init")
FLAGS = ("assumption2", "lemma1_radius_censored")
NUMERIC = tuple(f.name for f in fields(MeasuredConstants)
                if f.name not in TEXT + FLAGS and not f.name.startswith("_"))


def test_the_field_groups_cover_the_record():
    assert len(NUMERIC) + len(TEXT) + len(FLAGS) == len(fields(MeasuredConstants))
    assert set(SIZES) <= set(NUMERIC)


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64(np.nan)])
def test_non_finite_value_is_refused_naming_its_field(name, bad):
    with pytest.raises(ValueError, match=rf"^{name} must be finite or None, got (nan|inf|-inf)$"):
        from_measurements(dict(SIZES, **{name: bad}))


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("bad", [True, False, np.True_, "1.5", b"2"])
def test_flag_or_text_in_a_numeric_field_is_refused(name, bad):
    with pytest.raises(ValueError, match=rf"^{name} must be a number, got "):
        from_measurements(dict(SIZES, **{name: bad}))


@pytest.mark.parametrize("name", FLAGS)
def test_flags_take_only_booleans(name):
    assert getattr(from_measurements(dict(SIZES, **{name: False})), name) is False
    for bad in (1, 0.0, "yes", math.nan):
        with pytest.raises(ValueError, match=rf"^{name} must be True or False"):
            from_measurements(dict(SIZES, **{name: bad}))


@pytest.mark.parametrize("name", TEXT)
def test_text_fields_take_only_strings(name):
    for bad in (math.nan, 1, b"converged"):
        with pytest.raises(ValueError, match=rf"^{name} must be a string"):
            from_measurements(dict(SIZES, **{name: bad}))


def test_numpy_numbers_are_used_and_become_python_numbers():
    m = from_measurements(dict(n=np.int64(4), d0=3, d1=50, d2=1, mu_Phi=np.float64(0.5),
                               beta_Phi=np.float32(2.0), steps=np.int32(7)))
    assert (type(m.n), type(m.mu_Phi), type(m.beta_Phi), type(m.steps)) == (int, float, float,
                                                                            int)
    assert (m.n, m.mu_Phi, m.beta_Phi, m.steps, m.rho_Phi) == (4, 0.5, 2.0, 7, 0.125)
    # what the record holds goes to strict JSON unchanged
    assert json.loads(json.dumps(asdict(m), allow_nan=False))["rho_Phi"] == 0.125


def test_none_is_not_measured_and_zero_is_a_measurement():
    m = from_measurements(dict(SIZES, mu_Phi=0.0, h0=None))
    assert m.mu_Phi == 0.0 and m.h0 is None and m.rho_Phi is None
