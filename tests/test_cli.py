"""End-to-end tests of the command line: run, ntk, ledger, and bad input.

Every bad input must give exit code 2 and exactly one line on stderr that
names the problem, never a traceback.
"""

import json
import os
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

from pl_toolkit import ShallowNet, lemma3_constants, loss, ntk_gram
from pl_toolkit.cli import main
from pl_toolkit.data import digits, unit_sphere

from _tolerances import tol

TINY_RUN = ["--n", "24", "--d1", "40", "--steps", "12", "--track-every", "4",
            "--lemma1-directions", "1", "--no-progress"]


@pytest.fixture(scope="module")
def run_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = main(["run", *TINY_RUN, "--out", str(out), "--quiet"])
    assert code == 0
    with open(out / "report.json") as fh:
        return out, json.load(fh)


def test_run_writes_report_files(run_report):
    out, rep = run_report
    for name in ("report.md", "report.json", "trajectory.npz", "data.npz"):
        assert (out / name).is_file(), name
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["distance.png", "laziness.png", "lemma1.png", "loss.png", "pl.png",
                    "smoothness.png"]
    for p in pngs:
        img = mpimg.imread(out / p)  # decodes
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    md = (out / "report.md").read_text()
    for heading in ("## Summary", "## Lemma 3 constants", "## Empirical Lemma 1 radius",
                    "## Theorem checks", "## Theory ledger"):
        assert heading in md
    # the verdict lines open the report, before the tables
    top = md.split("## Summary")[0]
    assert "hypotheses (Lemma 1, Theorems 1-3)" in top and "identities" in top


def test_run_report_schema(run_report):
    _, rep = run_report
    assert rep["format"] == "pl_toolkit.report/2"
    for key in ("summary", "config", "data", "network", "hermite", "lemma3", "radius",
                "jacobian0", "lemma1_empirical", "trajectory", "measured", "checks",
                "check_summary", "ledger", "files", "seconds", "eta", "preprocessing"):
        assert key in rep, key
    assert rep["network"]["d1"] == 40 and rep["data"]["n"] == 24
    assert rep["trajectory"]["steps"] <= 12
    assert {"radius", "radius_ratio", "directions"} <= set(rep["lemma1_empirical"])
    for c in rep["checks"]:
        assert c["role"] in ("hypothesis", "conclusion", "identity"), c
        assert c["status"] in ("holds", "violated", "not-applicable", "unchecked-premise",
                               "implied-constant"), c
        # O(.) statements are never reported as holding; they carry an implied constant
        if c["form"] == "O":
            assert c["status"] in ("implied-constant", "not-applicable"), c
        if c["status"] == "implied-constant":
            assert c["implied_constant"] is not None and np.isfinite(c["implied_constant"]), c
    eq9 = {c["name"]: c for c in rep["checks"]}["eq9_hypothesis"]
    assert eq9["derived_constant"] == 1 / 32 and eq9["shortfall"] >= 1
    names = {c["name"] for c in rep["checks"]}
    assert {"near_isometry_lower", "near_isometry_upper", "pl_ratio_ge_4_lambda_min",
            "lemma1_radius", "pl_ball_premise"} <= names
    # the configuration records the values used
    assert rep["config"]["d0"] == 64 and rep["config"]["d1"] == 40 and rep["config"]["d2"] == 1


def test_run_report_values_match_independent_computation(run_report):
    """The report's constants and h0 equal a direct recomputation from the same seeds."""
    out, rep = run_report
    ds = unit_sphere(24, 64, 1, seed=rep["config"]["data_seed"])
    with np.load(out / "data.npz") as f:
        np.testing.assert_array_equal(f["X"], ds.X)
        np.testing.assert_array_equal(f["Y"], ds.Y)
    net = ShallowNet.init(64, 40, 1, activation="gelu", init="lecun", seed=rep["config"]["seed"])
    np.testing.assert_allclose(rep["trajectory"]["h0"], loss(net, ds.X, ds.Y), **tol("same_math"))
    c = lemma3_constants(net, ds.X)
    for k in ("mu_Phi", "nu_Phi", "beta_Phi", "rho_Phi"):
        np.testing.assert_allclose(rep["lemma3"][k], getattr(c, k), **tol("same_math"))
    assert rep["radius"]["rho_Phi"] == rep["lemma3"]["rho_Phi"]
    # sigma_max(X)^2 premise against a dense SVD.
    np.testing.assert_allclose(rep["data"]["sigma_max_X_sq"],
                               np.linalg.svd(ds.X, compute_uv=False)[0] ** 2,
                               **tol("same_math"))
    lam0 = np.linalg.eigvalsh(ntk_gram(net, ds.X))[0]
    np.testing.assert_allclose(rep["measured"]["lambda_min0"], lam0, rtol=1e-7)


def test_run_config_file_and_flag_override(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"n": 20, "d1": 30, "steps": 5, "activation": "tanh",
                               "lemma1_directions": 0}))
    out = tmp_path / "rep"
    assert main(["run", "--config", str(cfg), "--steps", "3", "--out", str(out), "--quiet",
                 "--no-progress"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["config"]["activation"] == "tanh" and rep["config"]["steps"] == 3
    assert rep["network"]["d1"] == 30


def test_run_json_output(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", *TINY_RUN, "--out", str(out), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert "summary" in js and "lemma3" in js and js["out"] == str(out)


def test_ntk_command_json(capsys):
    assert main(["ntk", "--n", "30", "--d1", "50", "--json", "--constants"]) == 0
    js = json.loads(capsys.readouterr().out)
    net = ShallowNet.init(64, 50, 10, seed=0)
    K = ntk_gram(net, digits(30).X)
    np.testing.assert_allclose(js["trace"], np.trace(K), **tol("same_math"))
    np.testing.assert_allclose(js["lambda_min"], np.linalg.eigvalsh(K)[0], rtol=1e-9)
    assert js["shape"] == [300, 300]


def test_ntk_command_above_dense_size_never_forms_K(capsys, monkeypatch):
    import pl_toolkit.ntk as ntk_module
    import pl_toolkit.ntk_spectrum as ntk_spectrum

    monkeypatch.setattr(ntk_spectrum, "JACOBIAN_DENSE_MAX", 100)
    net = ShallowNet.init(64, 50, 10, seed=0)
    X = digits(30).X
    K = ntk_gram(net, X)                     # the reference, formed before ntk_gram is disabled
    monkeypatch.setattr(ntk_module, "ntk_gram", lambda *a, **k: pytest.fail("K was formed"))
    assert main(["ntk", "--n", "30", "--d1", "50", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    w = np.linalg.eigvalsh(K)
    assert js["shape"] == [300, 300] and js["seconds"] is None
    assert js["lambda_min_method"] == "shift-invert"
    np.testing.assert_allclose(js["trace"], np.trace(K), **tol("same_math"))
    np.testing.assert_allclose(js["lambda_min"], w[0], **tol("iterative_eigen"))
    np.testing.assert_allclose(js["lambda_max"], w[-1], **tol("iterative_eigen"))


def test_ntk_command_certified_and_saved_net(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((12, 5))
    np.savez(tmp_path / "d.npz", X=X, Y=rng.standard_normal((12, 1)))
    net = ShallowNet.init(5, 30, 1, activation="tanh", seed=2)
    net.save(tmp_path / "net.npz")
    assert main(["ntk", "--data", str(tmp_path / "d.npz"), "--net", str(tmp_path / "net.npz"),
                 "--certified", "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(ntk_gram(net, Xn))[0]
    assert js["certified_lower_bound"] <= lam
    assert js["certified_lower_bound"] >= lam * (1 - 1e-6)


def test_ledger_command(tmp_path, capsys):
    assert main(["ledger", "--n", "20", "--d1", "30", "--steps", "20", "--json",
                 "--out", str(tmp_path)]) == 0
    js = json.loads(capsys.readouterr().out)
    rows = {r["key"]: r for r in js["ledger"]["rows"]}
    assert "song_2021_eq21" in rows and "du_2019" in rows
    # eq. (21) with constants 1: d1 = n^{3/2} / d0.
    np.testing.assert_allclose(rows["song_2021_eq21"]["width_required"], 20 ** 1.5 / 64,
                               **tol("same_math"))
    assert (tmp_path / "ledger.md").is_file() and (tmp_path / "ledger.json").is_file()


def test_ledger_from_run_report(run_report, capsys):
    out, rep = run_report
    assert main(["ledger", "--report", str(out / "report.json"), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["inputs"]["d1"] == rep["network"]["d1"]


# --------------------------------------------------------------------------
# Bad input: exit 2 and one line naming the problem.
# --------------------------------------------------------------------------
def _bad_files(tmp_path):
    nan = np.ones((5, 3))
    nan[2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=nan)
    np.savez(tmp_path / "noX.npz", Z=np.ones((3, 3)))
    np.save(tmp_path / "vec.npy", np.ones(4))
    (tmp_path / "bad.csv").write_text("1,2,3\n4,5\n")
    (tmp_path / "cfg.json").write_text(json.dumps({"bogus": 1}))
    (tmp_path / "badval.json").write_text(json.dumps({"steps": "many"}))
    (tmp_path / "badout.json").write_text(json.dumps({"out": 5}))
    return tmp_path


BAD = [
    (["ntk", "--data", "{d}/missing.npz"], "does not exist"),
    (["ntk", "--data", "{d}/nan.npz"], "X contains NaN at index (2, 1)"),
    (["ntk", "--data", "{d}/noX.npz"], "no array 'X'"),
    (["ntk", "--data", "{d}/vec.npy"], "X must have 2 dimension"),
    (["ntk", "--data", "{d}/bad.csv"], "could not be read"),
    (["ntk", "--data", "nonsense"], "neither a built-in"),
    (["ntk", "--activation", "nope"], "activation 'nope' is unknown"),
    (["ntk", "--n", "5000"], "exceeds the 1797 digits"),
    (["ntk", "--n", "0"], "argument --n: must be an integer in [1, "),
    (["ntk", "--init", "1,x"], "--init"),
    (["ntk", "--layers", "W,Q"], "layers must be"),
    (["run", "--lr", "fast"], "--lr must be a number"),
    (["run", "--config", "{d}/cfg.json"], "unknown key"),
    (["run", "--config", "{d}/none.toml"], "does not exist"),
    (["run", "--n", "30", "--steps", "0"], "steps"),
    (["run", "--track-every", "0"], "argument --track-every: must be an integer in [1, "),
    (["run", "--lemma1-directions", "-1"], "--lemma1-directions"),
    (["run", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["run", "--width-factor", "-1"], "--width-factor: width_factor"),
    (["run", "--eps", "2"], "--eps: eps must lie in (0, 1)"),
    (["run", "--data", "digits", "--d0", "99"], "--d0: d0 applies only to synthetic data"),
    (["run", "--data", "digits", "--d2", "7"], "--d2: d2 applies only to synthetic data"),
    (["run", "--normalize", "none"], "normalize does not apply to synthetic data"),
    (["run", "--data", "digits", "--label-columns", "2"], "label_columns applies only to .csv"),
    (["run", "--optimizer", "gd", "--batch-size", "8"], "batch_size applies only"),
    (["run", "--d1", "2000000000"], "GiB"),
    (["run", "--d1", "1000000000000"], "argument --d1: must be an integer in [1, "),
    (["run", "--config", "{d}/badval.json"], "steps must be an integer"),
    (["run", "--config", "{d}/badout.json"], "out must be a folder path"),
    (["run", "--stop-fraction", "2"], "unrecognized arguments"),
    (["ntk", "--data", "digits", "--d0", "8"], "--d0 applies only to synthetic data"),
    (["ntk", "--data", "sphere", "--normalize", "none"], "do not apply to synthetic data"),
    (["ledger", "--report", "{d}/none.json"], "--report"),
    (["run", "--bogus-flag"], "unrecognized arguments"),
    (["run", "--n", "1e400"], "argument --n: must be an integer"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exit_2_one_line(tmp_path, capsys, argv, message):
    d = _bad_files(tmp_path)
    argv = [a.format(d=d) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert "Traceback" not in err


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    """The installed entry point (python -m pl_toolkit) exits 2 with one stderr line."""
    proc = subprocess.run([sys.executable, "-m", "pl_toolkit", "ntk", "--data",
                           str(tmp_path / "missing.csv")], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0]


def test_internal_error_is_not_reported_as_bad_input(monkeypatch, capsys):
    """A ValueError escaping from a library (not raised by the toolkit) keeps its traceback."""
    import pl_toolkit.spectrum as spectrum

    def broken(*args, **kwargs):
        np.linalg.cholesky(np.ones((2, 3)))      # raises inside NumPy: an internal error

    monkeypatch.setattr(spectrum, "lambda_min", broken)
    with pytest.raises(np.linalg.LinAlgError):
        main(["ntk", "--n", "20", "--d1", "10"])

    def broken_value(*args, **kwargs):
        np.zeros(3).reshape(2, 2)                 # ValueError raised by NumPy itself

    monkeypatch.setattr(spectrum, "lambda_min", broken_value)
    with pytest.raises(ValueError, match="reshape"):
        main(["ntk", "--n", "20", "--d1", "10"])
    assert "error:" not in capsys.readouterr().err


def test_subprocess_internal_error_exits_1_with_traceback(tmp_path):
    """The entry point turns an internal error into exit 1 and shows where it happened."""
    code = ("import sys, numpy as np, pl_toolkit.spectrum as s\n"
            "from pl_toolkit.cli import main\n"
            "s.lambda_min = lambda *a, **k: np.zeros(3).reshape(2, 2)\n"
            "sys.exit(main(['ntk', '--n', '20', '--d1', '10']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "reshape" in proc.stderr


def test_help_lists_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for cmd in ("run", "ntk", "ledger"):
        assert cmd in out
