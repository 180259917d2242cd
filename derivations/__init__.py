"""Symbolic statements of the paper's lemmas and theorems (SymPy).

The paper (Song et al., "Subquadratic Overparameterization for Shallow
Neural Networks", NeurIPS 2021) proves convergence of gradient descent
from a PL framework.  This package states its chain of results in SymPy,
checks every algebraic step, and evaluates each inequality at constants
measured by :mod:`pl_toolkit`.

Modules
-------
symbols
    Every symbol once, with assumptions.
steps
    :class:`Step`, one relation of a derivation with its justification
    ("algebra" proved by SymPy, or a stated "assumption") and its
    provenance tag ([EXACT], [FOLLOW-UP], [DERIVED], [RECON]).
framework
    Definitions 1-3, Lemmas 1-2, Theorems 1-2 (eqs. 9, 13, 14), the
    PL-ball argument.
shallow
    Lemma 3, the follow-up's constants, (9) -> (20) -> (21) and the
    exponent 3/2.
hermite
    Hermite coefficients: exact for polynomials, closed forms (GELU),
    parity, dual kernel, Stein's lemma, mpmath references.
baselines
    Table 1 as symbolic width requirements.
check
    Hypotheses and conclusions evaluated on measured constants.
ledger
    The width every Table-1 theorem demands beside the measured width.
numeric
    The one lambdify bridge (numpy and mpmath backends).

Run ``python -m derivations`` for the derivation of (20) and (21) and a
ledger on a small digits subset.

Dependency rule: this package may import :mod:`pl_toolkit`.  The numeric
core (every module of :mod:`pl_toolkit` outside :mod:`pl_toolkit.experiments`)
never imports SymPy or this package; the application layer
:mod:`pl_toolkit.experiments` (the main job's verdicts, the ledger) imports
it inside the functions that evaluate the theorems, never at module level,
so ``import pl_toolkit`` loads no SymPy.  ``tests/test_structure.py``
checks both halves.
"""

from .baselines import Baseline, baselines, get_baseline
from .check import (CheckRecord, MeasuredConstants, check_theorems, from_measurements,
                    records_to_json, records_to_markdown)
from .ledger import Ledger, LedgerRow, theory_ledger
from .shallow import (eq20_derivation, eq21_derivation, parameter_count_exponent,
                      width_exponents)
from .steps import Step, format_steps, verify_all

__all__ = [
    "Baseline", "baselines", "get_baseline",
    "CheckRecord", "MeasuredConstants", "check_theorems", "from_measurements",
    "records_to_json", "records_to_markdown",
    "Ledger", "LedgerRow", "theory_ledger",
    "eq20_derivation", "eq21_derivation", "parameter_count_exponent", "width_exponents",
    "Step", "format_steps", "verify_all",
]
