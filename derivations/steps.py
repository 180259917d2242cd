"""One step of a derivation: a relation, how it is justified, and its check.

A :class:`Step` is the unit every derivation in this package is made of.
Its ``how`` field says what kind of justification it has:

``"algebra"``
    SymPy proves it: an identity by a targeted ``expand``/``cancel`` of
    ``lhs - rhs``, an inequality by a proof function (typically rewriting
    ``rhs - lhs`` with a substitution that makes it manifestly
    non-negative).
``"assumption"``
    Not algebra (an analytic fact, a probabilistic estimate, a result of
    the paper taken as given).  It is stated, never "proved".
``"definition"``
    Introduces a name for an expression.

The ``tag`` repeats the provenance marker of ``paper.md``: ``[EXACT]``
(transcribed from the paper), ``[FOLLOW-UP]``, ``[DERIVED]`` (algebra not
in the paper) or ``[RECON]`` (standard background not stated in the
paper).

Examples
--------
>>> from sympy import Rational
>>> from derivations.symbols import mu_Phi, beta_Phi
>>> s = Step("radius", mu_Phi - beta_Phi * mu_Phi / (2 * beta_Phi), "==",
...          mu_Phi / 2, how="algebra", tag="[DERIVED]", source="Lemma 1")
>>> s.verify()
True
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

from sympy import Eq, Ge, Gt, Le, Lt, cancel, expand, sstr

__all__ = ["Step", "is_zero", "verify_all", "format_steps"]

_RELATIONS = {"==": Eq, "<=": Le, ">=": Ge, "<": Lt, ">": Gt}


def is_zero(expr):
    """Return True if ``expr`` vanishes identically after ``expand`` and ``cancel``.

    Parameters
    ----------
    expr : sympy.Expr
        The difference ``lhs - rhs`` of a claimed identity.

    Returns
    -------
    bool
        True when the targeted normal form is exactly 0.

    Examples
    --------
    >>> from derivations.symbols import x
    >>> is_zero((x + 1) ** 2 - x**2 - 2 * x - 1)
    True
    """
    e = expand(expr)
    if e == 0:
        return True
    return cancel(e) == 0


@dataclass(frozen=True)
class Step:
    """One relation of a derivation with its justification.

    Attributes
    ----------
    name : str
        Short identifier.
    lhs, rhs : sympy.Expr
        The two sides.
    rel : {'==', '<=', '>=', '<', '>'}
        The relation ``lhs rel rhs``.
    how : {'algebra', 'assumption', 'definition'}
        What justifies the step (see the module docstring).
    tag : str
        Provenance marker: '[EXACT]', '[FOLLOW-UP]', '[DERIVED]', '[RECON]'.
    source : str
        Paper location (equation, lemma).
    proof : callable or None
        For an algebra inequality, a function returning True when SymPy
        proves it.  Identities need none.
    given : str
        The hypotheses the step uses, in words.
    note : str
        Remarks.
    lhs_label : str
        How the left side was obtained, printed instead of its expression
        by :func:`format_steps` when the left side is a computed result.

    Examples
    --------
    >>> from derivations.symbols import x
    >>> Step("sq", (x + 1) ** 2, "==", x**2 + 2 * x + 1, how="algebra",
    ...      tag="[DERIVED]", source="-").verify()
    True
    """

    name: str
    lhs: object
    rel: str
    rhs: object
    how: str = "algebra"
    tag: str = "[DERIVED]"
    source: str = ""
    proof: Optional[Callable[[], bool]] = field(default=None, compare=False, repr=False)
    given: str = ""
    note: str = ""
    lhs_label: str = ""

    def __post_init__(self):
        if self.rel not in _RELATIONS:
            raise ValueError(f"rel must be one of {sorted(_RELATIONS)}, got {self.rel!r}")
        if self.how not in ("algebra", "assumption", "definition"):
            raise ValueError(f"how must be algebra/assumption/definition, got {self.how!r}")

    @property
    def relation(self):
        """The SymPy relational ``lhs rel rhs`` (unevaluated).

        Returns
        -------
        sympy.Rel
            ``Eq``, ``Le``, ``Ge``, ``Lt`` or ``Gt`` of the two sides.
        """
        return _RELATIONS[self.rel](self.lhs, self.rhs, evaluate=False)

    def verify(self):
        """Prove the step if it is algebra.

        Returns
        -------
        bool or None
            True if proved, False if the algebra fails, None for an
            assumption or definition (stated, not proved).
        """
        if self.how != "algebra":
            return None
        if self.proof is not None:
            return bool(self.proof())
        if self.rel == "==":
            return is_zero(self.lhs - self.rhs)
        raise ValueError(f"step {self.name!r}: an algebra inequality needs a proof function")

    def __str__(self):
        return (f"{self.tag:<11} {self.source:<14} {sstr(self.lhs)}  {self.rel}  "
                f"{sstr(self.rhs)}   [{self.how}]")


def verify_all(steps):
    """Verify every algebra step; return ``{name: True/False/None}``.

    Parameters
    ----------
    steps : sequence of Step
        The steps.

    Returns
    -------
    dict
        Step name to the result of :meth:`Step.verify`.

    Examples
    --------
    >>> from derivations.framework import lemma1_steps
    >>> all(v in (True, None) for v in verify_all(lemma1_steps()).values())
    True
    """
    return {s.name: s.verify() for s in steps}


def format_steps(steps, title=None):
    """Render steps as numbered plain-text lines, with their check result.

    Parameters
    ----------
    steps : sequence of Step
        The steps.
    title : str, optional
        A heading line.

    Returns
    -------
    str
        The rendered text.

    Examples
    --------
    >>> from derivations.framework import lemma1_steps
    >>> print(format_steps(lemma1_steps()[:1]).splitlines()[0][:24])
    (1) weyl_lower  [stated:
    """
    lines = [title] if title else []
    for i, s in enumerate(steps, 1):
        v = s.verify()
        mark = {True: "proved by SymPy", False: "FAILED", None: "stated: " + s.how}[v]
        lines.append(f"({i}) {s.name}  [{mark}] {s.tag} {s.source}")
        if s.lhs_label:
            lines.append(f"      {s.lhs_label}  {s.rel}  {sstr(s.rhs)}")
        else:
            lines.append(f"      {sstr(s.lhs)}  {s.rel}  {sstr(s.rhs)}")
        if s.given:
            lines.append(f"      given: {s.given}")
        if s.note:
            lines.append(f"      note: {s.note}")
    return "\n".join(lines)
