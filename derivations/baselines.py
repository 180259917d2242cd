"""The width requirements of the paper's Table 1, as SymPy expressions.

Each :class:`Baseline` records one row of Table 1 of Song et al. (2021)
(plus Allen-Zhu et al., cited in its text): which layers the theorem
trains, its setting, the scaling Table 1 reports, and the width
requirement written in the data quantities it depends on.  Unknown
universal constants and logarithmic factors are omitted (i.e. set to 1);
every docstring says where the form comes from and how sure it is.

Notes
-----
``paper.md`` section 5 (Table 1 [EXACT]).  Where the exact form is not
in ``paper.md`` the ``form_source`` field says what was used.  The
forms for the other papers were written from memory of those papers, not
re-read for this module; treat the exponents of ``lambda0``, ``delta``
and ``p`` as approximate (the ``n`` and ``L`` exponents match Table 1).

Examples
--------
>>> from derivations.baselines import baselines
>>> [b.key for b in baselines()][:2]
['oymak_soltanolkotabi_2020', 'kawaguchi_huang_2019']
"""

from dataclasses import dataclass, field

from sympy import Rational, sqrt

from . import symbols as S
from .shallow import eq20_derivation

__all__ = ["Baseline", "baselines", "get_baseline"]


@dataclass(frozen=True)
class Baseline:
    """One Table-1 theorem as a symbolic width requirement.

    Attributes
    ----------
    key : str
        Identifier, e.g. ``'du_2019'``.
    reference : str
        Authors, year, title.
    depth : str
        ``'2'`` or ``'L'``.
    algorithm : str
        As in Table 1.
    trains : tuple of str
        Layers trained (``'W'`` first, ``'V'`` last, ``'all'``).
    setting : str
        Data/loss setting of Table 1.
    activation : str
        Activation the theorem covers.
    table_scaling : sympy.Expr
        The scaling Table 1 reports, in ``n`` (and ``L``).
    width : sympy.Expr
        Width requirement ``d1 >= width`` with unknown constants and logs
        set to 1.
    parameter_count : sympy.Expr
        ``d0 * width`` (first-layer parameters).
    depends_on : tuple of sympy.Symbol
        Data quantities the width depends on.
    form_source : str
        Where the exact form comes from and how sure it is.
    note : str
        Remarks, conflicts between sources.

    Examples
    --------
    >>> from derivations import symbols as S
    >>> from derivations.baselines import Baseline, get_baseline
    >>> b = Baseline(key="toy", reference="-", depth="2", algorithm="GD", trains=("W",),
    ...              setting="-", activation="smooth", table_scaling=S.n**2,
    ...              width=S.n**2 / S.d0, depends_on=(S.n, S.d0), form_source="-")
    >>> b.parameter_count                      # d0 * width, filled in
    n**2
    >>> get_baseline("song_2021_eq21").trains
    ('W', 'V')
    """

    key: str
    reference: str
    depth: str
    algorithm: str
    trains: tuple
    setting: str
    activation: str
    table_scaling: object
    width: object
    depends_on: tuple
    form_source: str
    note: str = ""
    parameter_count: object = field(default=None)

    def __post_init__(self):
        if self.parameter_count is None:
            object.__setattr__(self, "parameter_count", S.d0 * self.width)


def baselines(n=S.n, d0=S.d0, L=S.L_depth, lambda0=S.lambda0, delta=S.delta, p=S.delta_fail,
              sigma=S.sigma_max_X, st=S.s_t):
    """All Table-1 rows (and Allen-Zhu et al.), in the order of Table 1.

    Parameters
    ----------
    n, d0, L : sympy.Symbol
        Samples, input dimension, depth.
    lambda0 : sympy.Symbol
        Smallest eigenvalue of the infinite-width NTK the theorem uses.
    delta : sympy.Symbol
        Minimum separation ``min_{i != j} ||x_i - x_j||``.
    p : sympy.Symbol
        Failure probability (Du et al.'s ``delta``).
    sigma, st : sympy.Symbol
        ``sigma_max(X)`` and ``s_t = sigma_min(X^{*t})``.

    Returns
    -------
    list of Baseline
        One record per theorem, in Table-1 order.

    Notes
    -----
    Table 1 [EXACT] scalings: Oymak & Soltanolkotabi ``n^2``, Kawaguchi &
    Huang ``n``, Song & Yang ``n^2``, Du et al. ``n^6``, Zou & Gu
    ``n^8 L^12``, this paper ``n^{3/2}``; text: Allen-Zhu et al.
    ``n^24 L^12``.

    Examples
    --------
    >>> b = {x.key: x for x in baselines()}
    >>> b["du_2019"].width
    n**6/(delta_fail**3*lambda0**4)
    """
    d20 = eq20_derivation(n=n, sigma=sigma, st=st)
    this20 = d20["scaling"]
    return [
        Baseline(
            key="oymak_soltanolkotabi_2020",
            reference="Oymak & Soltanolkotabi 2020, Toward moderate overparameterization "
                      "(IEEE JSAIT)",
            depth="2", algorithm="GD on layer 1", trains=("W",), setting="quadratic loss",
            activation="smooth (and ReLU)", table_scaling=n**2, width=n**2 / d0,
            depends_on=(n, d0),
            form_source="scaling as reported in Table 1 of Song et al.; read as a parameter "
                        "count d0*d1 >~ n^2 (their abstract: the square root of the number of "
                        "parameters must exceed n); exact constants, data factors "
                        "(||X||, lambda(X)) and logs omitted",
            note="the follow-up's table lists SGD on layer 1, ReLU, Omega~(n^2)"),
        Baseline(
            key="kawaguchi_huang_2019",
            reference="Kawaguchi & Huang 2019, Gradient descent finds global minima for "
                      "generalizable deep neural networks of practical sizes",
            depth="L", algorithm="GD on layer L", trains=("V",),
            setting="convex & Lipschitz loss", activation="any (features of rank n)",
            table_scaling=n, width=n, depends_on=(n,),
            form_source="scaling as reported in Table 1 of Song et al.; the condition is that "
                        "the trained last layer's input features have rank n, hence width >= n",
            note="only the last layer is trained (a convex problem); for depth 2 that is V"),
        Baseline(
            key="song_yang_2019",
            reference="Song & Yang 2019, Quadratic suffices for over-parametrization via "
                      "matrix Chernoff bound",
            depth="2", algorithm="GD", trains=("W",), setting="separable data",
            activation="ReLU", table_scaling=n**2, width=n**2, depends_on=(n,),
            form_source="scaling as reported in Table 1 of Song et al.; exact constants, "
                        "lambda0 and failure-probability dependence and logs omitted",
            note="Table 1 says 'GD'; the follow-up's table says 'GD on layer 1' (Du et "
                 "al.'s setting, output layer fixed)"),
        Baseline(
            key="du_2019",
            reference="Du, Zhai, Poczos & Singh 2019, Gradient descent provably optimizes "
                      "over-parameterized neural networks (ICLR)",
            depth="2", algorithm="GD", trains=("W",),
            setting="separable data + quadratic loss", activation="ReLU",
            table_scaling=n**6, width=n**6 / (lambda0**4 * p**3),
            depends_on=(n, lambda0, p),
            form_source="Du et al. 2019, Theorem 3.2 as recalled: m = Omega(n^6 / (lambda0^4 "
                        "p^3)), lambda0 = lambda_min(H_inf) of the ReLU first-layer kernel "
                        "H_inf_ij = x_i.x_j (pi - arccos(x_i.x_j)) / (2 pi), p the failure "
                        "probability; constants omitted",
            note="output layer fixed at +-1; 'separable' = no two inputs parallel (lambda0 > 0)"),
        Baseline(
            key="zou_gu_2019",
            reference="Zou & Gu 2019, An improved analysis of training over-parameterized "
                      "deep neural networks (NeurIPS)",
            depth="L", algorithm="GD", trains=("all",),
            setting="separable data + quadratic loss", activation="ReLU",
            table_scaling=n**8 * L**12, width=n**8 * L**12 / delta**4,
            depends_on=(n, L, delta),
            form_source="n^8 L^12 as reported in Table 1 of Song et al.; the delta^-4 "
                        "(delta = min separation, phi in their notation) is recalled from "
                        "Zou & Gu's comparison table and is approximate; logs omitted"),
        Baseline(
            key="allen_zhu_2019",
            reference="Allen-Zhu, Li & Song 2019, A convergence theory for deep learning via "
                      "over-parameterization (ICML)",
            depth="L", algorithm="GD", trains=("all",),
            setting="separable data + quadratic loss", activation="ReLU",
            table_scaling=n**24 * L**12, width=n**24 * L**12 / delta**8,
            depends_on=(n, L, delta),
            form_source="n^24 L^12 as stated in the text of Song et al.; the delta^-8 "
                        "(delta = min separation) is recalled from Allen-Zhu et al.'s Theorem 1 "
                        "and is approximate; polylogs omitted",
            note="cited in the text, not a row of Table 1"),
        Baseline(
            key="song_2021_eq20",
            reference="Song, Ramezani-Kebrya, Pethick, Eftekhari & Cevher 2021 (this paper), "
                      "eq. (20)",
            depth="2", algorithm="GD", trains=("W", "V"), setting="quadratic loss",
            activation="smooth (Assumption 2)", table_scaling=n ** Rational(3, 2),
            width=this20, depends_on=(n, sigma, st),
            form_source="derived by derivations.shallow.eq20_derivation from (9); the "
                        "paper's xi(C_delta, t, phi, {c_i}) and logs set to 1",
            note="parameter count d0*d1 ~ n^{3/2} under sigma_max(X)^2 = n/d0, s_t = 1"),
        Baseline(
            key="song_2021_eq21",
            reference="Song et al. 2021 (this paper), eq. (21) (heuristic data)",
            depth="2", algorithm="GD", trains=("W", "V"), setting="quadratic loss",
            activation="smooth (Assumption 2)", table_scaling=n ** Rational(3, 2),
            width=this20.subs({sigma: sqrt(n / d0), st: 1}), depends_on=(n, d0),
            form_source="derived by derivations.shallow.eq21_derivation; xi and logs set to 1",
            note="Table 1's Omega(n^{3/2}) is this parameter count d0*d1"),
    ]


def get_baseline(key, **kwargs):
    """Return the :class:`Baseline` with ``key``.

    Parameters
    ----------
    key : str
        Identifier of the row.
    **kwargs
        Passed to :func:`baselines`.

    Returns
    -------
    Baseline
        The matching record.

    Raises
    ------
    KeyError
        If no baseline has that key.

    Examples
    --------
    >>> get_baseline("song_2021_eq21").width
    n**(3/2)/d0
    """
    for b in baselines(**kwargs):
        if b.key == key:
            return b
    raise KeyError(f"no baseline {key!r}")
