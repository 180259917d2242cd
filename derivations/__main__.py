"""``python -m derivations``: the derivation (9) -> (20) -> (21) and a ledger.

Prints, in order,

1. the derivation of the width requirement (20) from Theorem 1's
   condition (9), then (21) and the parameter-count exponent 3/2, every
   step with its provenance tag and whether SymPy proved it;
2. the theory ledger for a small default data set (a seeded subset of
   scikit-learn's digits, unit rows, GELU, LeCun initialization): the
   width each Table-1 theorem demands beside the width at which plain
   GD was run, and whether it converged by the toolkit's one criterion
   ``h <= eps ||Y||_F^2`` (:class:`pl_toolkit.ConvergenceCriterion`);
3. the check of every hypothesis and conclusion on that run, with the
   summary lines of the verdict model.

The run is :func:`pl_toolkit.experiments.run_experiment` (the main job of
``pl-toolkit run``) writing into a temporary folder that is removed.

After the derivation it prints the width condition with its true ``d0``
dependence at LeCun and He initialization
(:func:`derivations.width.width_conditions`).

Options: ``--n``, ``--d1``, ``--steps``, ``--eps``, ``--seed``, ``--json`` (emit the
ledger and the checks as JSON instead of Markdown; the JSON always has a
top-level ``width_conditions``), ``--no-run`` (the derivation only),
``--width`` (the width conditions only).
"""

import argparse
import json
import sys

from .check import check_theorems, records_to_json, records_to_markdown
from .ledger import theory_ledger
from .shallow import eq21_derivation, parameter_count_exponent, width_exponents
from .steps import format_steps
from .width import format_width_conditions, width_conditions


def main(argv=None):
    """Entry point; see the module docstring.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (1 if an algebra step failed).
    """
    ap = argparse.ArgumentParser(prog="python -m derivations", description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--d1", type=int, default=200)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--eps", type=float, default=1e-6,
                    help="converged when h <= eps ||Y||_F^2 (default: 1e-6)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--width", action="store_true",
                    help="print only the width conditions (with --json: as JSON)")
    args = ap.parse_args(argv)

    widths = width_conditions()
    width_failed = sorted({name for e in widths.values() for name in e["derivation_failed_steps"]})
    if args.width:
        if args.json:
            print(json.dumps({"width_conditions": widths}, indent=2))
        else:
            print(format_width_conditions(widths))
        return 1 if width_failed else 0

    out = eq21_derivation()
    steps = out["steps"]
    failed = [s.name for s in steps if s.verify() is False] + width_failed
    if not args.json:
        print("Derivation of (20) and (21) from Theorem 1's condition (9)")
        print("=" * 60)
        print(format_steps(steps))
        print()
        print(f"threshold (20): d1 >= {out['xi']} * sigma_max(X)**2 * sqrt(n) / s_t**3")
        print(f"threshold (21): d1 >= {out['d1_min']}")
        print(f"width exponents: {width_exponents()}; parameter-count exponent of n: "
              f"{parameter_count_exponent()}")
        print()
        print(format_width_conditions(widths))
        print()
    if args.no_run:
        if args.json:
            print(json.dumps({"derivation_failed_steps": failed, "width_conditions": widths},
                             indent=2))
        return 1 if failed else 0

    import tempfile

    from pl_toolkit.experiments import run_experiment

    from .check import from_measurements, summarize_checks

    with tempfile.TemporaryDirectory() as tmp:
        rep = run_experiment(data="digits", n=args.n, d1=args.d1, steps=args.steps,
                             eps=args.eps, seed=args.seed, data_seed=args.seed,
                             out=tmp, progress=False, lemma1_directions=2).report
    measured = from_measurements(rep["measured"])
    records = check_theorems(measured)
    summary = summarize_checks(records)
    d = rep["data"]
    context = (f"digits subset n={d['n']} (seed {args.seed}), unit rows, d0={d['d0']}, GELU, "
               f"LeCun init, GD on both layers with eta = 1/beta, stop reason "
               f"{rep['trajectory']['status']} after {rep['trajectory']['steps']} steps "
               f"({measured.criterion})")
    lam0 = rep["infinite_width"]["lambda_min_ntk_per_width"]
    ledger = theory_ledger(n=d["n"], d0=d["d0"], lambda0=lam0, delta=d["min_separation"],
                           sigma_max_X=d["sigma_max_X"],
                           s_t=d["s_t"] if d["s_t"] > d["s_t_floor"] else 0.0,
                           measured_width=rep["network"]["d1"], converged=measured.converged,
                           context=context, activation="gelu", init="lecun")
    if args.json:
        print(json.dumps({"derivation_failed_steps": failed,
                          "criterion": rep["summary"]["criterion"],
                          "status": rep["trajectory"]["status"],
                          "summary": summary["lines"],
                          "ledger": json.loads(ledger.to_json()),
                          "checks": json.loads(records_to_json(records)),
                          "width_conditions": widths}, indent=2))
    else:
        print("Theory ledger")
        print("=" * 60)
        print(ledger.to_markdown())
        print()
        print("lambda0 is Du et al.'s ReLU kernel H_inf (their theorem's quantity); "
              "delta = min ||x_i - x_j||.")
        print()
        print("Hypotheses and conclusions on this run")
        print("=" * 60)
        for line in summary["lines"]:
            print(line)
        print()
        print(records_to_markdown(records))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
