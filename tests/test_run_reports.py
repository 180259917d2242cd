"""The main job reports on any data: failed premises, narrow nets, divergence, user files.

Every case must write a complete report (``report.json`` with role and status
on every check, ``data.npz`` with the data actually used, ``trajectory.npz``
with the initial and final weights), and say what it did to the data.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from pl_toolkit import Trajectory, loss
from pl_toolkit.cli import main

FAST = ["--steps", "30", "--track-every", "10", "--lemma1-directions", "1", "--no-progress",
        "--quiet"]


def _run(tmp_path, *argv, name="out"):
    out = tmp_path / name
    code = main(["run", *argv, *FAST, "--out", str(out)])
    assert code == 0
    rep = json.loads((out / "report.json").read_text())
    checks = {c["name"]: c for c in rep["checks"]}
    for c in rep["checks"]:
        assert c["role"] and c["status"], c
    for f in ("report.md", "trajectory.npz", "data.npz"):
        assert (out / f).is_file(), f
    return out, rep, checks


def test_khatri_rao_limit_user_file_still_reports(tmp_path):
    """n = 40 > d0 (d0 + 1) / 2 = 21: s_2 = 0, so (20) is not applicable and says why."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "my.npz", X=rng.standard_normal((40, 6)), Y=rng.standard_normal((40, 1)))
    out, rep, checks = _run(tmp_path, "--data", str(tmp_path / "my.npz"))
    assert rep["data"]["s_t"] <= rep["data"]["s_t_floor"]
    assert checks["khatri_rao_positive"]["status"] == "violated"
    assert checks["eq20_width"]["status"] == "not-applicable"
    assert "s_t" in checks["eq20_width"]["premise"]
    assert rep["summary"]["premises"].startswith("premises violated by")
    assert "C(d0+t-1, t) = 21" in rep["summary"]["premises"]


def test_width_below_n_reports_not_applicable(tmp_path):
    out, rep, checks = _run(tmp_path, "--n", "20", "--d0", "8", "--d1", "10")
    assert rep["lemma3"]["mu_Phi"] == 0.0
    for nm in ("near_isometry_lower", "eq9_hypothesis", "locality"):
        assert checks[nm]["status"] == "not-applicable", nm
        assert "d1 >= n" in checks[nm]["premise"], nm
    assert rep["lemma1_empirical"]["radius"] is None


def test_divergence_at_the_first_step_reports(tmp_path):
    out, rep, checks = _run(tmp_path, "--n", "16", "--d0", "8", "--lr", "1e6")
    assert rep["trajectory"]["status"] == "diverged"
    assert rep["trajectory"]["diverged_at"] == 1
    assert checks["convergence"]["status"] == "violated"
    assert checks["eq14_rate"]["status_at_derived"] == "violated"
    traj = Trajectory.load(out / "trajectory.npz")
    assert traj.status == "diverged" and traj.final_step == 0


def test_preprocessing_is_recorded_and_optional(tmp_path):
    rng = np.random.default_rng(1)
    X = 3.0 * rng.standard_normal((30, 5))
    Y = 4.0 * rng.standard_normal((30, 2))
    np.savez(tmp_path / "d.npz", X=X, Y=Y)
    out, rep, _ = _run(tmp_path, "--data", str(tmp_path / "d.npz"), name="unit")
    assert len(rep["preprocessing"]) == 2
    assert rep["preprocessing"][0].startswith("rows of X scaled to unit norm")
    assert "Y divided by ||Y||_F" in rep["preprocessing"][1]
    with np.load(out / "data.npz") as f:
        np.testing.assert_allclose(np.linalg.norm(f["X"], axis=1), 1.0, rtol=1e-14)
    out, rep, checks = _run(tmp_path, "--data", str(tmp_path / "d.npz"), "--normalize", "none",
                            name="raw")
    assert rep["preprocessing"] == []
    assert rep["config"]["normalize"] == "none" and rep["config"]["label_scale"] == "none"
    with np.load(out / "data.npz") as f:
        np.testing.assert_array_equal(f["X"], X)
        np.testing.assert_array_equal(f["Y"], Y)
    # the data premises notice raw data
    assert checks["data_unit_rows"]["status"] == "violated"
    assert checks["data_label_norm"]["status"] == "violated"
    out, rep, _ = _run(tmp_path, "--data", str(tmp_path / "d.npz"), "--label-scale", "none",
                       name="labels-raw")
    assert len(rep["preprocessing"]) == 1
    with np.load(out / "data.npz") as f:
        np.testing.assert_array_equal(f["Y"], Y)


def test_csv_label_columns_and_header(tmp_path, capsys):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((25, 6))
    path = tmp_path / "d.csv"
    np.savetxt(path, A, delimiter=",", header="a,b,c,d,y1,y2", comments="")
    out = tmp_path / "o"
    assert main(["run", "--data", str(path), "--label-columns", "2", *FAST[:-1],
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "header line skipped: 'a,b,c,d,y1,y2'" in printed
    rep = json.loads((out / "report.json").read_text())
    assert rep["data"]["d0"] == 4 and rep["data"]["d2"] == 2 and rep["data"]["n"] == 25
    # the same file without its header: nothing is dropped
    np.savetxt(tmp_path / "nohead.csv", A, delimiter=",")
    out2 = tmp_path / "o2"
    assert main(["run", "--data", str(tmp_path / "nohead.csv"), "--label-columns", "2",
                 "--csv-header", "no", *FAST, "--out", str(out2)]) == 0
    rep2 = json.loads((out2 / "report.json").read_text())
    assert rep2["data"]["n"] == 25


def test_real_data_configuration_records_values_used(tmp_path):
    out, rep, _ = _run(tmp_path, "--data", "digits", "--n", "30")
    cfg = rep["config"]
    assert (cfg["d0"], cfg["d2"], cfg["n"]) == (64, 10, 30)
    assert cfg["d1"] == rep["network"]["d1"]
    assert cfg["lr"] == "1/beta" and cfg["lr_value"] == rep["eta"]
    assert rep["summary"]["premises"].startswith("premises violated by")


def test_one_radius_everywhere(tmp_path):
    out, rep, checks = _run(tmp_path, "--n", "16", "--d0", "8")
    rho = rep["radius"]["rho_Phi"]
    assert rep["radius"]["used"] == "paper" and rho == rep["lemma3"]["rho_Phi"]
    assert checks["locality"]["rhs"] == rho
    assert checks["lemma1_radius"]["rhs"] == rho
    assert rep["lemma1_empirical"]["rho_Phi"] == rho
    np.testing.assert_allclose(rep["lemma1_empirical"]["radius_ratio"],
                               rep["lemma1_empirical"]["radius"] / rho)


def test_report_data_reproduce_h0(tmp_path):
    out, rep, _ = _run(tmp_path, "--n", "16", "--d0", "8")
    traj = Trajectory.load(out / "trajectory.npz")
    with np.load(out / "data.npz") as f:
        h0 = loss(traj.initial_net, f["X"], f["Y"])
        hT = loss(traj.final_net, f["X"], f["Y"])
    assert h0 == rep["trajectory"]["h0"]
    np.testing.assert_allclose(hT, rep["trajectory"]["final_loss"], rtol=1e-12)


def test_internal_error_after_training_is_a_traceback_and_keeps_the_run(tmp_path):
    """A failure past validation is the toolkit's: exit 1 with a traceback, run kept."""
    out = tmp_path / "o"
    code = ("import sys, derivations.check as c\n"
            "def boom(*a, **k):\n"
            "    raise ValueError('simulated defect')\n"
            "c.check_theorems = boom\n"
            "from pl_toolkit.cli import main\n"
            f"sys.exit(main(['run', '--n', '12', '--d0', '6', '--steps', '5', "
            f"'--lemma1-directions', '0', '--no-progress', '--quiet', '--out', {str(out)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and "simulated defect" in proc.stderr
    assert (out / "trajectory.npz").is_file() and (out / "data.npz").is_file()


def test_run_never_overwrites_a_users_files(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    code = main(["run", "--n", "12", "--d0", "6", *FAST, "--out", str(out)])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "my notes"
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]
    # the toolkit's own folder can be written again; --overwrite takes over a foreign one
    own = tmp_path / "own"
    assert main(["run", "--n", "12", "--d0", "6", *FAST, "--out", str(own)]) == 0
    assert main(["run", "--n", "12", "--d0", "6", *FAST, "--out", str(own)]) == 0
    assert main(["run", "--n", "12", "--d0", "6", *FAST, "--out", str(out),
                 "--overwrite"]) == 0


def test_ntk_save_writes_the_path_it_prints(tmp_path, capsys):
    target = tmp_path / "gram"
    assert main(["ntk", "--data", "sphere", "--n", "10", "--d0", "4", "--d1", "20",
                 "--save", str(target), "--no-spectrum"]) == 0
    out = capsys.readouterr().out
    assert f"saved      {target}.npy" in out
    assert np.load(f"{target}.npy").shape == (10, 10)
    # an existing file is not replaced without --overwrite, a folder never
    assert main(["ntk", "--data", "sphere", "--n", "10", "--d0", "4", "--d1", "20",
                 "--save", f"{target}.npy", "--no-spectrum"]) == 2
    assert main(["ntk", "--data", "sphere", "--n", "10", "--d0", "4", "--d1", "20",
                 "--save", str(tmp_path), "--no-spectrum"]) == 2
    assert main(["ntk", "--data", "sphere", "--n", "10", "--d0", "4", "--d1", "20",
                 "--save", f"{target}.npy", "--no-spectrum", "--overwrite"]) == 0


def test_ledger_out_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "ledger.md").write_text("mine")
    assert main(["ledger", "--n", "20", "--d1", "30", "--steps", "5", "--quiet",
                 "--out", str(tmp_path)]) == 2
    assert (tmp_path / "ledger.md").read_text() == "mine"


def test_bad_settings_fail_before_any_work(tmp_path):
    from pl_toolkit.experiments import run_experiment

    out = tmp_path / "out"
    for bad, match in ((dict(lr="fast"), "^lr must be a positive number or one of"),
                       (dict(lr=-1.0), "^lr must lie in"), (dict(steps=0), "^steps")):
        with pytest.raises(ValueError, match=match):
            run_experiment(data="digits", out=str(out), progress=False, **bad)
        assert not out.exists()  # refused before the folder is claimed or data loaded


def test_run_records_the_step_rule_and_value(tmp_path):
    from pl_toolkit.experiments import run_experiment

    res = run_experiment(n=8, d0=4, d1=64, steps=5, lemma1_directions=0, out=str(tmp_path),
                         progress=False)
    cfg = res.report["config"]
    assert cfg["lr"] == "1/beta" and cfg["lr_rule"] == "1/beta"
    assert cfg["lr_value"] == res.trajectory.metadata["lr_value"] == res.report["eta"]
