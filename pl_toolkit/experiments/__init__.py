"""Experiments: the main job (``pl-toolkit run``), width sweeps and the init-scale study.

Each experiment writes a report directory; the command line in
:mod:`pl_toolkit.cli` calls these functions.
"""

# -- the main job (pl-toolkit run) --
from .run import RunConfig, RunResult, default_width, load_config, run_experiment

__all__ = ["RunConfig", "RunResult", "default_width", "load_config", "run_experiment"]

# -- the theory ledger on real data (pl-toolkit ledger) --
from .ledger import data_quantities, ledger_for

__all__ += ["data_quantities", "ledger_for"]
