"""Experiments of the paper, runnable from Python and from ``pl-toolkit``.

* :mod:`pl_toolkit.experiments.run` -- the main job: train on real data,
  measure every constant, check every inequality (``pl-toolkit run``).
* :mod:`pl_toolkit.experiments.ledger` -- Table 1's widths beside the
  measured width (``pl-toolkit ledger``).
* :mod:`pl_toolkit.experiments.sweep` -- width threshold of GD on random
  labels against ``n`` and ``d0``, and the locality width (``pl-toolkit sweep``).
* :mod:`pl_toolkit.experiments.init_scale` -- Figure 1: accuracy and laziness
  against ``omega2`` at fixed ``omega1 omega2`` (``pl-toolkit init-scale``).
"""

# -- width sweep and init scale --
from .sweep import (SWEEP_DEFAULTS, bootstrap_exponent, check_premises, fit_power_law,
                    geometric_grid, run_width_sweep, sweep_cell, threshold_width)

from .init_scale import (INIT_SCALE_DEFAULTS, PAPER_OMEGA2, PAPER_OMEGA2_FACTORS,
                         init_scale_cell, prepare_teacher_data, run_init_scale,
                         sgd_lr_from_paper)

__all__ = ["SWEEP_DEFAULTS", "bootstrap_exponent", "check_premises", "fit_power_law",
           "geometric_grid", "run_width_sweep", "sweep_cell", "threshold_width",
           "INIT_SCALE_DEFAULTS", "PAPER_OMEGA2", "PAPER_OMEGA2_FACTORS", "init_scale_cell",
           "prepare_teacher_data", "run_init_scale", "sgd_lr_from_paper"]

# -- the main job (pl-toolkit run) and the theory ledger (pl-toolkit ledger) --
from .ledger import data_quantities, ledger_for
from .run import RunConfig, RunResult, default_width, load_config, run_experiment

__all__ += ["RunConfig", "RunResult", "default_width", "load_config", "run_experiment",
            "data_quantities", "ledger_for"]
