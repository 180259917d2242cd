"""Write ``sweep_<mode>.json`` (beside this file) from the output folders of the stored sweeps.

Usage::

    python docs/data/make_sweep_data.py N_DIR D0_DIR LOCALITY_DIR

Each argument is the ``--out`` folder of one invocation listed in ``RUNS``;
a folder given as ``-`` is skipped (its file is left as it is).  The file
keeps the sweep's own report (``sweep.json``: thresholds per seed, fits,
budget sensitivity, monotonicity, premises, reference curves) and the
command that made it.  The width-sweep tutorial and the findings page read
these files; a test checks that their tables show the stored numbers.
"""

import json
import os
import sys

from pl_toolkit._json import strict_json

HERE = os.path.dirname(os.path.abspath(__file__))

#: The invocations, run one after another with 2 workers on 2 cores shared
#: with other jobs (``nice -n 10``); the wall time is in each report.
RUNS = {
    "n": "pl-toolkit sweep --mode n --seeds 3 --workers 2 --out N_DIR",
    # d0 = 32 dropped: at n = 512 it sits at the Khatri-Rao limit (C(33, 2) = 528),
    # where s_2 -> 0 and the search ran to widths of 1024+ at 400+ s a cell;
    # the 69 cells of d0 = 64..256 run before that change were reused (--resume)
    "d0": "pl-toolkit sweep --mode d0 --d0-grid 64,128,256,512 --seeds 3 --workers 2 "
          "--out D0_DIR --resume",
    "locality": "pl-toolkit sweep --mode locality --n-grid 16,32 --seeds 3 --workers 2 "
                "--out LOCALITY_DIR",
}


def main(*dirs):
    for (mode, command), outdir in zip(RUNS.items(), dirs):
        if outdir == "-":
            continue
        with open(os.path.join(outdir, "sweep.json")) as fh:
            report = json.load(fh)
        if report["mode"] != mode:
            raise SystemExit(f"{outdir}: mode {report['mode']!r}, expected {mode!r}")
        out = os.path.join(HERE, f"sweep_{mode}.json")
        with open(out, "w") as fh:
            json.dump(strict_json(dict(command=command, report=report)), fh, indent=1,
                      sort_keys=True)
            fh.write("\n")
        print(out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
