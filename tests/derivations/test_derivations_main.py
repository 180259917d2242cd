"""``python -m derivations`` prints the derivation and the ledger."""

import json

from derivations.__main__ import main


def test_main_prints_derivation_only(capsys):
    assert main(["--no-run"]) == 0
    out = capsys.readouterr().out
    assert "eq. (20)" in out and "eq. (21)" in out
    assert "parameter-count exponent of n: 3/2" in out
    assert "FAILED" not in out


def test_main_prints_ledger_and_checks(capsys):
    assert main(["--steps", "200", "--n", "20", "--d1", "60"]) == 0
    out = capsys.readouterr().out
    assert "Theory ledger" in out and "du_2019" in out and "song_2021_eq21" in out
    assert "song_2021_eq21_lecun" in out
    assert "eq14_rate" in out and "hypotheses (Lemma 1, Theorems 1-3)" in out


def test_main_json(capsys):
    assert main(["--json", "--steps", "100", "--n", "16", "--d1", "40"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["derivation_failed_steps"] == []
    assert len(data["ledger"]["rows"]) == 9               # Table 1 and the corrected (21)
    assert data["criterion"] == {"rule": "h <= eps ||Y||_F^2", "eps": 1e-6}
    assert {r["role"] for r in data["checks"]} == {"hypothesis", "conclusion", "identity"}
    for r in data["checks"]:
        if r["status"] == "implied-constant":
            assert r["implied_constant"] is not None
        if r["status"] in ("not-applicable", "unchecked-premise"):
            assert r["premise"]
    assert data["width_conditions"]["lecun"]["d0"] == "1"
