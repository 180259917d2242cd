"""Table-1 baselines and the theory ledger."""

import json
import math

import numpy as np
import pytest
from sympy import Rational

from _tolerances import tol
from derivations import symbols as S
from derivations.baselines import baselines, get_baseline
from derivations.ledger import theory_ledger
from derivations.shallow import exponent

# Table 1 of the paper (paper.md section 5), typed from the table.
TABLE1 = {
    "oymak_soltanolkotabi_2020": (S.n**2, "GD on layer 1"),
    "kawaguchi_huang_2019": (S.n, "GD on layer L"),
    "song_yang_2019": (S.n**2, "GD"),
    "du_2019": (S.n**6, "GD"),
    "zou_gu_2019": (S.n**8 * S.L_depth**12, "GD"),
    "song_2021_eq21": (S.n ** Rational(3, 2), "GD"),
}


def test_table1_rows_and_scalings():
    rows = {b.key: b for b in baselines()}
    for key, (scaling, algo) in TABLE1.items():
        assert rows[key].table_scaling == scaling, key
        assert rows[key].algorithm == algo, key
    assert rows["allen_zhu_2019"].table_scaling == S.n**24 * S.L_depth**12
    for b in rows.values():
        assert b.form_source and b.trains and b.reference
        assert b.parameter_count == S.d0 * b.width


def test_width_forms_reproduce_the_table_exponents():
    """The n-exponent of each width (or of d0*width for parameter-count rows) is Table 1's."""
    rows = {b.key: b for b in baselines()}
    width_rows = ["kawaguchi_huang_2019", "song_yang_2019", "du_2019", "zou_gu_2019",
                  "allen_zhu_2019"]
    for key in width_rows:
        b = rows[key]
        assert exponent(b.width, S.n) == exponent(b.table_scaling, S.n), key
    for key in ["oymak_soltanolkotabi_2020", "song_2021_eq21"]:
        b = rows[key]
        assert exponent(b.parameter_count, S.n) == exponent(b.table_scaling, S.n), key
    assert exponent(rows["zou_gu_2019"].width, S.L_depth) == 12
    assert exponent(rows["song_2021_eq21"].parameter_count, S.n) == Rational(3, 2)
    assert exponent(rows["song_2021_eq20"].width, S.n) == Rational(1, 2)


def test_this_paper_trains_both_layers_and_du_trains_the_first():
    assert get_baseline("song_2021_eq20").trains == ("W", "V")
    assert get_baseline("du_2019").trains == ("W",)
    assert get_baseline("kawaguchi_huang_2019").trains == ("V",)
    with pytest.raises(KeyError):
        get_baseline("nope")


def test_ledger_numbers_against_direct_evaluation():
    q = dict(n=40, d0=64, lambda0=0.05, delta=0.2, sigma_max_X=5.0, s_t=0.3)
    led = theory_ledger(**q, measured_width=200, failure_probability=0.1, converged=True)
    n, d0 = q["n"], q["d0"]
    direct = {
        "oymak_soltanolkotabi_2020": n**2 / d0,
        "kawaguchi_huang_2019": n,
        "song_yang_2019": n**2,
        "du_2019": n**6 / (q["lambda0"] ** 4 * 0.1**3),
        "zou_gu_2019": n**8 / q["delta"] ** 4,
        "allen_zhu_2019": n**24 / q["delta"] ** 8,
        "song_2021_eq20": q["sigma_max_X"] ** 2 * math.sqrt(n) / q["s_t"] ** 3,
        "song_2021_eq21": n**1.5 / d0,
    }
    assert {r.key for r in led} == set(direct)
    for r in led:
        np.testing.assert_allclose(r.width_required, direct[r.key], **tol("same_math"))
        np.testing.assert_allclose(r.params_required, d0 * direct[r.key], **tol("same_math"))
        np.testing.assert_allclose(r.ratio, direct[r.key] / 200, **tol("same_math"))
        assert "constants = 1" in r.constants
    assert "failure probability = 0.1" in led.row("du_2019").constants


def test_ledger_markdown_and_json():
    led = theory_ledger(40, 64, 0.05, 0.2, 5.0, 0.3, 200, context="digits")
    md = led.to_markdown()
    assert md.count("\n| ") == len(led) + 1  # header + one line per row
    assert "set to 1" in md and "Data: digits" in md
    data = json.loads(led.to_json())
    assert len(data["rows"]) == len(led)
    assert data["inputs"]["measured_width"] == 200
    assert led[0].key == data["rows"][0]["key"]


@pytest.mark.parametrize("bad", [dict(n=0), dict(lambda0=-1.0), dict(delta=float("nan"))])
def test_ledger_rejects_bad_quantities(bad):
    q = dict(n=40, d0=64, lambda0=0.05, delta=0.2, sigma_max_X=5.0, s_t=0.3,
             measured_width=200)
    q.update(bad)
    name = next(iter(bad))
    with pytest.raises(ValueError, match=f"^{name}"):
        theory_ledger(**q)
