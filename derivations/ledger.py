"""Theory ledger: the width each Table-1 theorem demands on given data.

For a data set (through its quantities ``n``, ``d0``, ``lambda0``,
``delta``, ``sigma_max(X)``, ``s_t``) the ledger evaluates every
:class:`~derivations.baselines.Baseline` with unknown constants and logs
set to 1 (and says so in each row), and places beside it the width at
which gradient descent was measured to converge.

Notes
-----
The ratio column is ``required / measured``: how many times wider than
what sufficed in practice each theorem asks the network to be.  With
constants set to 1 these numbers are orders of magnitude, not bounds.

Examples
--------
>>> led = theory_ledger(n=40, d0=64, lambda0=0.05, delta=0.2,
...                     sigma_max_X=5.0, s_t=0.3, measured_width=200)
>>> row = led.row("song_2021_eq21")
>>> round(row.width_required, 2)
3.95
"""

import json
import math
from dataclasses import asdict, dataclass

from sympy import Rational

from . import symbols as S
from .baselines import baselines
from .numeric import evaluate

__all__ = ["LedgerRow", "Ledger", "theory_ledger"]


@dataclass(frozen=True)
class LedgerRow:
    """One row of the ledger.

    Attributes
    ----------
    key, reference, trains, setting, activation : str
        From the baseline.
    formula : str
        Width requirement ``d1 >= formula`` (SymPy string).
    table_scaling : str
        The scaling Table 1 reports.
    width_required, params_required : float
        The formula evaluated on the data (constants and logs = 1) and
        ``d0`` times it.
    measured_width : float
        Width at which GD was run.
    ratio : float
        ``width_required / measured_width``.
    constants : str
        Which unknowns were set to what.
    form_source, note : str
        Where the form comes from; remarks.

    Examples
    --------
    >>> import math
    >>> led = theory_ledger(n=40, d0=64, lambda0=0.05, delta=0.2,
    ...                     sigma_max_X=5.0, s_t=0.3, measured_width=200)
    >>> row = led.row("song_2021_eq21")                  # d1 >= n^{3/2} / d0
    >>> row.formula, math.isclose(row.width_required, 40 ** 1.5 / 64)
    ('n**(3/2)/d0', True)
    >>> math.isclose(row.params_required, 64 * row.width_required)
    True
    >>> math.isclose(row.ratio, row.width_required / 200)
    True
    """

    key: str
    reference: str
    trains: str
    setting: str
    activation: str
    formula: str
    table_scaling: str
    width_required: float
    params_required: float
    measured_width: float
    ratio: float
    constants: str
    form_source: str
    note: str


@dataclass(frozen=True)
class Ledger:
    """The ledger: rows plus the inputs they were computed from.

    Attributes
    ----------
    rows : tuple of LedgerRow
        One row per baseline.
    inputs : dict
        Data quantities, measured width, whether GD converged, context.

    Examples
    --------
    >>> import json
    >>> from derivations.baselines import baselines
    >>> led = theory_ledger(n=40, d0=64, lambda0=0.05, delta=0.2,
    ...                     sigma_max_X=5.0, s_t=0.3, measured_width=200)
    >>> len(led) == len(baselines()), led[0].key == [b.key for b in baselines()][0]
    (True, True)
    >>> json.loads(led.to_json())["inputs"]["n"]
    40
    >>> led.to_markdown().splitlines()[0].startswith("Inputs: n = 40")
    True
    """

    rows: tuple
    inputs: dict

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    def row(self, key):
        """Return the row with ``key``.

        Parameters
        ----------
        key : str
            Identifier of the row.

        Returns
        -------
        LedgerRow
            The matching row.

        Raises
        ------
        KeyError
            If there is no such row.
        """
        for r in self.rows:
            if r.key == key:
                return r
        raise KeyError(key)

    def to_json(self, indent=2):
        """Serialize to JSON (rows and inputs).

        Parameters
        ----------
        indent : int, default 2
            JSON indentation.

        Returns
        -------
        str
            The rendered text.
        """
        def clean(d):
            return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in d.items()}
        return json.dumps({"inputs": clean(self.inputs),
                           "rows": [clean(asdict(r)) for r in self.rows]},
                          indent=indent, default=float)

    def to_markdown(self):
        """Render as a Markdown table with a header listing the inputs.

        Returns
        -------
        str
            The rendered text.
        """
        inp = self.inputs
        head = ", ".join(f"{k} = {_fmt(v)}" for k, v in inp.items() if k != "context")
        lines = []
        if inp.get("context"):
            lines.append(f"Data: {inp['context']}")
        lines += [f"Inputs: {head}", "",
                  "| theorem | trains | width requirement (constants = 1) | Table 1 "
                  "| required d1 | required d0*d1 | measured d1 | required / measured |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for r in self.rows:
            lines.append(f"| {r.key} | {r.trains} | `{r.formula}` | {r.table_scaling} | "
                         f"{_fmt(r.width_required)} | {_fmt(r.params_required)} | "
                         f"{_fmt(r.measured_width)} | {_fmt(r.ratio)} |")
        lines += ["", "Unknown universal constants, xi and logarithmic factors are set to 1 "
                  "in every row; see each row's form_source (JSON) for where the form comes "
                  "from."]
        return "\n".join(lines)


def _corrected_row(n, d0, measured_width, activation, init):
    from .width import ACTIVATIONS, width_conditions

    if activation not in ACTIVATIONS or init not in ("lecun", "he"):
        return None
    e = width_conditions(activation=activation, settings=(init,))[init]
    w = (float(e["constant"]) * float(n) ** float(Rational(e["n"]))
         * float(d0) ** float(Rational(e["d0"])))
    return LedgerRow(
        key=f"song_2021_eq21_{init}", reference="Song et al. 2021, (21) with c_k(omega1)",
        trains="W+V", setting=f"quadratic loss, {init} initialization", activation=activation,
        formula=e["d1_min"], table_scaling=f"n^({e['n']}) d0^({e['d0']})", width_required=w,
        params_required=float(d0) * w, measured_width=float(measured_width),
        ratio=w / float(measured_width),
        constants="C_9 = 1/32 (derived), leading order in 1/d0, delta_1 = delta_2 = 0",
        form_source="derivations.width.width_conditions",
        note="the paper's (21) holds the Hermite coefficients of x -> phi(omega1 x) fixed; "
             "they shrink with omega1 = d0^(-1/2)")


def _fmt(v):
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "n/a"
    if isinstance(v, (int, float)):
        if v == 0 or (1e-3 <= abs(v) < 1e6):
            return f"{v:.4g}"
        return f"{v:.3e}"
    return str(v)


def theory_ledger(n, d0, lambda0, delta, sigma_max_X, s_t, measured_width, *, activation=None,
                  init=None, L=1,
                  failure_probability=0.1, converged=None, context=""):
    """The width every Table-1 theorem demands, beside the measured width.

    Parameters
    ----------
    n, d0 : int
        Samples and input dimension.
    lambda0 : float
        Smallest eigenvalue of the infinite-width NTK the baselines use
        (Du et al.'s ``H_inf`` for ReLU; pass what pl_toolkit measured).
    delta : float
        Minimum separation ``min_{i != j} ||x_i - x_j||``.
    sigma_max_X : float
        ``sigma_max(X)``.
    s_t : float
        ``sigma_min(X^{*t})``.
    measured_width : float
        Width at which GD was measured to converge.
    activation, init : str, optional
        With an activation and initialization that
        :func:`derivations.width.width_conditions` covers, a row with the
        d0-corrected (21) (leading-order constant at ``C_9 = 1/32``) is
        added beside the paper's.
    L : int, default 1
        Depth used in the deep baselines (1 hidden layer here).
    failure_probability : float, default 0.1
        Du et al.'s failure probability.
    converged : bool, optional
        Whether GD converged at ``measured_width`` (recorded in inputs).
    context : str, optional
        Data set / activation / initialization description.

    Returns
    -------
    Ledger
        One :class:`LedgerRow` per baseline.

    Raises
    ------
    ValueError
        If ``n``, ``d0``, ``sigma_max_X`` or the width is not positive and
        finite, or ``lambda0``, ``delta``, ``s_t`` is negative or not
        finite.  These three may be 0 or ``None``: the rows that need them
        get an infinite width and a note saying which is missing.

    Notes
    -----
    ``paper.md`` section 5.  Unknown constants are 1, logs are dropped.

    Examples
    --------
    >>> led = theory_ledger(40, 64, 0.05, 0.2, 5.0, 0.3, 200)
    >>> f"{led.row('du_2019').width_required:.2e}"
    '6.55e+17'
    """
    vals = dict(n=n, d0=d0, sigma_max_X=sigma_max_X, measured_width=measured_width, L=L,
                delta_fail=failure_probability)
    for name, v in vals.items():
        v = float(v)
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive and finite, got {v}")
    # data quantities that can legitimately vanish (s_t = 0 beyond the Khatri-Rao
    # limit, a repeated input): the rows that need them say so instead of dividing
    optional = dict(lambda0=lambda0, delta=delta, s_t=s_t)
    missing = {}
    for name, v in optional.items():
        v = None if v is None else float(v)
        if v is not None and (not math.isfinite(v) or v < 0):
            raise ValueError(f"{name} must be non-negative and finite, got {v}")
        if v is None or v == 0:
            missing[getattr(S, name)] = f"{name} = {'unmeasured' if v is None else 0}"
    values = {S.n.name: float(n), S.d0.name: float(d0), S.sigma_max_X.name: float(sigma_max_X),
              S.L_depth.name: float(L), S.delta_fail.name: float(failure_probability)}
    for name, v in optional.items():
        if getattr(S, name) not in missing:
            values[getattr(S, name).name] = float(v)
    rows = []
    for b in baselines():
        gone = [why for sym, why in missing.items() if sym in b.width.free_symbols]
        w = math.inf if gone else evaluate(b.width, **values)
        rows.append(LedgerRow(
            key=b.key, reference=b.reference, trains="+".join(b.trains), setting=b.setting,
            activation=b.activation, formula=str(b.width), table_scaling=str(b.table_scaling),
            width_required=w, params_required=float(d0) * w,
            measured_width=float(measured_width), ratio=w / float(measured_width),
            constants="universal constants = 1, logs = 1"
                      + (f", failure probability = {failure_probability}"
                         if S.delta_fail in b.width.free_symbols else "")
                      + (f", L = {L}" if S.L_depth in b.width.free_symbols else ""),
            form_source=b.form_source,
            note=(f"not applicable: {', '.join(gone)}; " if gone else "") + b.note))
    corrected = _corrected_row(n, d0, measured_width, activation, init)
    if corrected is not None:
        rows.append(corrected)
    inputs = {"n": int(n), "d0": int(d0),
              "lambda0": None if lambda0 is None else float(lambda0),
              "delta": None if delta is None else float(delta),
              "sigma_max_X": float(sigma_max_X), "s_t": None if s_t is None else float(s_t),
              "measured_width": float(measured_width), "converged": converged,
              "L": int(L), "failure_probability": float(failure_probability),
              "context": context}
    return Ledger(rows=tuple(rows), inputs=inputs)
