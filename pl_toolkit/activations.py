"""Activation functions with their first two derivatives: the one table of built-ins.

Each activation is an :class:`Activation` record holding

* numba-compiled scalar kernels ``phi_scalar``, ``dphi_scalar``,
  ``ddphi_scalar`` (callable from a user's own ``@numba.njit`` code);
* NumPy-facing array methods :meth:`Activation.phi`, :meth:`Activation.dphi`,
  :meth:`Activation.ddphi` and the fused :meth:`Activation.phi_dphi` used by
  the NTK kernels;
* the constants of the paper's Assumption 2: ``phi_dot_max = sup|phi'|``,
  ``phi_ddot_max = sup|phi''|``, and whether the activation meets the
  assumption (and if not, why).

Every built-in activation is one row of ``BUILTIN_FORMS``
(an :class:`ActivationForms` record), which holds all of its forms:

* the numba scalar kernels (dispatched inside the array kernels by the
  row's integer ``code``, so that their compiled code is cached);
* the plain NumPy form, written independently of the kernels (the
  reference of the tests and of ``backend="numpy"``);
* the definition of ``phi`` as a SymPy-parsable string, which
  ``derivations.hermite.activation_expr`` parses (the core never imports
  SymPy);
* ``phi`` and ``phi'`` as ball-arithmetic expressions over a small
  vocabulary (``BALL_FUNCTIONS``), which the certified NTK route evaluates
  with python-flint (:func:`ball_function`), or a :class:`NoForm` saying
  why there is none;
* the Assumption-2 constants, the parity and the notes.

The registry is built from the table only after :func:`form_problems`
finds every form present, so a row without one stops the import.
Activations registered by users have the kernels and constants only; they
are compiled on first use in each process (closures cannot be cached).
"""

import ast
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ._jit import jit, prange, scalar_kernel, serial_and_parallel, use_parallel
from ._validation import as_float_array

__all__ = ["Activation", "ActivationForms", "BALL_FUNCTIONS", "BUILTIN_FORMS", "LEAKY_SLOPE",
           "NoForm", "available_activations", "ball_function", "form_problems", "forms_of",
           "get_activation", "register_activation"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG2 = math.log(2.0)
#: Slope of ``leaky_relu`` for negative arguments.
LEAKY_SLOPE = 0.01
_LEAKY_SLOPE = LEAKY_SLOPE


# --------------------------------------------------------------------------
# GELU on its central interval: two Taylor series, no library call
# --------------------------------------------------------------------------
def _central_series():
    """Coefficients of the central GELU series, each rounded once from its exact value.

    ``Phi(x) = 1/2 + x sum_k a_k x^(2k)`` with ``a_k = (-1)^k / (2^k k! (2k + 1)
    sqrt(2 pi))`` (19 terms) and ``exp(s) = sum_k s^k / k!`` (17 terms), and the
    pdf's factor ``exp(-3/8) / sqrt(2 pi)`` as a sum ``hi + lo`` of two floats.
    Exact rationals times a 60-digit ``1/sqrt(2 pi)`` (:mod:`decimal`), so every
    coefficient is the float nearest its true value.
    """
    from decimal import Decimal, localcontext
    from fractions import Fraction

    with localcontext() as ctx:
        ctx.prec = 60
        pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494")
        inv_sqrt_2pi = 1 / (2 * pi).sqrt()
        factor = (Decimal(-3) / 8).exp() * inv_sqrt_2pi
        hi = float(factor)
        lo = float(factor - Decimal(hi))
    cdf = tuple(float(Fraction((-1) ** k, 2 ** k * math.factorial(k) * (2 * k + 1))
                      * Fraction(inv_sqrt_2pi)) for k in range(19))
    exp = tuple(float(Fraction(1, math.factorial(k))) for k in range(17))
    return cdf, exp, hi, lo


_CDF_SERIES, _EXP_SERIES, _PDF_FACTOR_HI, _PDF_FACTOR_LO = _central_series()
#: GELU's kernels use the series on ``[GELU_CENTRAL_LO, GELU_CENTRAL_HI]``, libm's
#: ``erfc`` and ``exp`` outside.  On it the series are as accurate as libm's
#: route (at most 2 ulp from mpmath for ``Phi`` and the pdf, tested), and they
#: vectorize.  Left of ``-5/8`` the sum ``1/2 + x sum_k ...`` cancels enough to
#: lose a further ulp (3 ulp measured near ``-0.74``, where libm's route has 2).
GELU_CENTRAL_LO, GELU_CENTRAL_HI = -0.625, 1.25


@scalar_kernel
def _gelu_cdf_central(x):
    # Phi(x) for x in [-5/8, 5/4]: 1/2 + x P(x^2), P the Taylor series of
    # (Phi(x) - 1/2) / x truncated after x^36 (the next term is below 1e-21 there).
    w = x * x
    p = _CDF_SERIES[18]
    p = p * w + _CDF_SERIES[17]
    p = p * w + _CDF_SERIES[16]
    p = p * w + _CDF_SERIES[15]
    p = p * w + _CDF_SERIES[14]
    p = p * w + _CDF_SERIES[13]
    p = p * w + _CDF_SERIES[12]
    p = p * w + _CDF_SERIES[11]
    p = p * w + _CDF_SERIES[10]
    p = p * w + _CDF_SERIES[9]
    p = p * w + _CDF_SERIES[8]
    p = p * w + _CDF_SERIES[7]
    p = p * w + _CDF_SERIES[6]
    p = p * w + _CDF_SERIES[5]
    p = p * w + _CDF_SERIES[4]
    p = p * w + _CDF_SERIES[3]
    p = p * w + _CDF_SERIES[2]
    p = p * w + _CDF_SERIES[1]
    p = p * w + _CDF_SERIES[0]
    return 0.5 + x * p


@scalar_kernel
def _gelu_pdf_central(x):
    # The standard normal pdf for |x| <= 5/4: exp(-3/8) / sqrt(2 pi) * exp(s),
    # s = 3/8 - x^2/2 in [-0.41, 0.375], exp(s) by its Taylor series to s^16
    # (the next term is below 1e-21); the factor is applied as hi + lo.
    s = 0.375 - 0.5 * (x * x)
    q = _EXP_SERIES[16]
    q = q * s + _EXP_SERIES[15]
    q = q * s + _EXP_SERIES[14]
    q = q * s + _EXP_SERIES[13]
    q = q * s + _EXP_SERIES[12]
    q = q * s + _EXP_SERIES[11]
    q = q * s + _EXP_SERIES[10]
    q = q * s + _EXP_SERIES[9]
    q = q * s + _EXP_SERIES[8]
    q = q * s + _EXP_SERIES[7]
    q = q * s + _EXP_SERIES[6]
    q = q * s + _EXP_SERIES[5]
    q = q * s + _EXP_SERIES[4]
    q = q * s + _EXP_SERIES[3]
    q = q * s + _EXP_SERIES[2]
    q = q * s + _EXP_SERIES[1]
    q = q * s + _EXP_SERIES[0]
    return _PDF_FACTOR_HI * q + _PDF_FACTOR_LO * q


@scalar_kernel
def _gelu_cdf_outside(x):
    # Phi(x) by libm, for x off the central interval.
    return 0.5 * math.erfc(-x / _SQRT2)


@scalar_kernel
def _gelu_pair_outside(x):
    # GELU and its derivative by libm, for x off the central interval.
    cdf = _gelu_cdf_outside(x)
    return x * cdf, cdf + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


# --------------------------------------------------------------------------
# Scalar kernels of the built-in activations
# --------------------------------------------------------------------------
@scalar_kernel
def gelu(x):
    if GELU_CENTRAL_LO <= x <= GELU_CENTRAL_HI:
        return x * _gelu_cdf_central(x)
    return x * _gelu_cdf_outside(x)


@scalar_kernel
def gelu_d(x):
    if GELU_CENTRAL_LO <= x <= GELU_CENTRAL_HI:
        return _gelu_cdf_central(x) + x * _gelu_pdf_central(x)
    return _gelu_pair_outside(x)[1]


@scalar_kernel
def gelu_dd(x):
    if abs(x) > 40.0:  # pdf underflows; avoid 0 * inf from x * x overflowing
        return 0.0
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x) * (2.0 - x * x)


@scalar_kernel
def tanh(x):
    return math.tanh(x)


@scalar_kernel
def tanh_d(x):
    # sech^2 x = 4 e / (1 + e)^2 with e = exp(-2|x|): relative accuracy a few
    # ulp everywhere (1 - tanh^2 x is 0 from |x| ~ 19 on; e.g. 4e-35 at 40).
    e = math.exp(-2.0 * abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


@scalar_kernel
def tanh_dd(x):
    return -2.0 * math.tanh(x) * tanh_d(x)


@scalar_kernel
def sigmoid(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@scalar_kernel
def sigmoid_d(x):
    # s(x) s(-x) = e / (1 + e)^2 with e = exp(-|x|): 1 - s(x) cancels to 0
    # for x >~ 37 (true value 4e-18 at 40).
    e = math.exp(-abs(x))
    return e / ((1.0 + e) * (1.0 + e))


@scalar_kernel
def sigmoid_dd(x):
    # 1 - 2 s(x) = -tanh(x / 2), without the cancellation near 0.
    return -sigmoid_d(x) * math.tanh(0.5 * x)


@scalar_kernel
def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@scalar_kernel
def softplus_d(x):
    return sigmoid(x)


@scalar_kernel
def softplus_dd(x):
    return sigmoid_d(x)


@scalar_kernel
def shifted_softplus(x):
    # log((1 + e^x) / 2) without cancellation near 0.
    if x < 20.0:
        return math.log1p(0.5 * math.expm1(x))
    return x + math.log1p(math.exp(-x)) - _LOG2


@scalar_kernel
def silu(x):
    return x * sigmoid(x)


@scalar_kernel
def silu_d(x):
    return sigmoid(x) + x * sigmoid_d(x)


@scalar_kernel
def silu_dd(x):
    return sigmoid_d(x) * (2.0 - x * math.tanh(0.5 * x))


@scalar_kernel
def erf(x):
    return math.erf(x)


@scalar_kernel
def erf_d(x):
    return 2.0 / math.sqrt(math.pi) * math.exp(-x * x)


@scalar_kernel
def erf_dd(x):
    if abs(x) > 30.0:  # exp(-x^2) underflows; avoid inf * 0 from -4 x overflowing
        return 0.0
    return -4.0 * x / math.sqrt(math.pi) * math.exp(-x * x)


@scalar_kernel
def quadratic(x):
    return x * x


@scalar_kernel
def quadratic_d(x):
    return 2.0 * x


@scalar_kernel
def quadratic_dd(x):
    return 2.0


@scalar_kernel
def identity(x):
    return x


@scalar_kernel
def identity_d(x):
    return 1.0


@scalar_kernel
def identity_dd(x):
    return 0.0


@scalar_kernel
def relu(x):
    return x if x > 0.0 else 0.0


@scalar_kernel
def relu_d(x):
    return 1.0 if x > 0.0 else 0.0


@scalar_kernel
def relu_dd(x):
    return 0.0


@scalar_kernel
def leaky_relu(x):
    return x if x > 0.0 else _LEAKY_SLOPE * x


@scalar_kernel
def leaky_relu_d(x):
    return 1.0 if x > 0.0 else _LEAKY_SLOPE


# The branches below follow the ``code`` of each row of BUILTIN_FORMS
# (gelu 0, tanh 1, sigmoid 2, softplus 3, shifted_softplus 4, silu 5, erf 6,
# quadratic 7, identity 8, relu 9, leaky_relu 10); the registry test checks
# every row's kernels against the dispatch of its code.
@scalar_kernel
def _phi(code, x):
    if code == 0:
        return gelu(x)
    elif code == 1:
        return tanh(x)
    elif code == 2:
        return sigmoid(x)
    elif code == 3:
        return softplus(x)
    elif code == 4:
        return shifted_softplus(x)
    elif code == 5:
        return silu(x)
    elif code == 6:
        return erf(x)
    elif code == 7:
        return quadratic(x)
    elif code == 8:
        return identity(x)
    elif code == 9:
        return relu(x)
    return leaky_relu(x)


@scalar_kernel
def _dphi(code, x):
    if code == 0:
        return gelu_d(x)
    elif code == 1:
        return tanh_d(x)
    elif code == 2:
        return sigmoid_d(x)
    elif code == 3 or code == 4:
        return softplus_d(x)
    elif code == 5:
        return silu_d(x)
    elif code == 6:
        return erf_d(x)
    elif code == 7:
        return quadratic_d(x)
    elif code == 8:
        return identity_d(x)
    elif code == 9:
        return relu_d(x)
    return leaky_relu_d(x)


@scalar_kernel
def _ddphi(code, x):
    if code == 0:
        return gelu_dd(x)
    elif code == 1:
        return tanh_dd(x)
    elif code == 2:
        return sigmoid_dd(x)
    elif code == 3 or code == 4:
        return softplus_dd(x)
    elif code == 5:
        return silu_dd(x)
    elif code == 6:
        return erf_dd(x)
    elif code == 7:
        return quadratic_dd(x)
    elif code == 8:
        return identity_dd(x)
    return relu_dd(x)  # relu and leaky_relu: zero almost everywhere


@scalar_kernel
def _phi_dphi(code, x):
    """phi(x) and phi'(x) together, sharing the expensive part for GELU."""
    if code == 0:
        if GELU_CENTRAL_LO <= x <= GELU_CENTRAL_HI:
            cdf = _gelu_cdf_central(x)
            return x * cdf, cdf + x * _gelu_pdf_central(x)
        return _gelu_pair_outside(x)
    return _phi(code, x), _dphi(code, x)


# --------------------------------------------------------------------------
# Array kernels (rows independent; serial and parallel builds agree bitwise)
# --------------------------------------------------------------------------
def _builtin_phi_dphi(code, Z, scale, H, G):
    # G is phi'(Z) times scale[j] (the NTK needs phi'(Z) o v; scale = 1 otherwise).
    if code == 0:
        # GELU: a branch-free pass over each row (it vectorizes) evaluates the
        # central series everywhere and keeps their values where x is central;
        # a second pass, only for rows that have any, evaluates the other
        # entries by libm.  Each entry gets the bits of _phi_dphi(0, x).  The
        # row is read from a copy: H may be Z, and the compiler vectorizes
        # only loops whose input and outputs are apart.
        for i in prange(Z.shape[0]):
            z = Z[i].copy()
            outside = 0
            for j in range(z.size):
                x = np.float64(z[j])
                central = GELU_CENTRAL_LO <= x <= GELU_CENTRAL_HI
                cdf = _gelu_cdf_central(x)
                g = cdf + x * _gelu_pdf_central(x)
                H[i, j] = x * cdf
                G[i, j] = g * scale[j]
                outside += 0 if central else 1
            if outside:
                for j in range(z.size):
                    x = np.float64(z[j])
                    if not (GELU_CENTRAL_LO <= x <= GELU_CENTRAL_HI):
                        h, g = _gelu_pair_outside(x)
                        H[i, j] = h
                        G[i, j] = g * scale[j]
        return
    for i in prange(Z.shape[0]):
        for j in range(Z.shape[1]):
            h, g = _phi_dphi(code, Z[i, j])
            H[i, j] = h
            G[i, j] = g * scale[j]


def _builtin_apply(code, order, z, out):
    for i in prange(z.shape[0]):
        if order == 0:
            out[i] = _phi(code, z[i])
        elif order == 1:
            out[i] = _dphi(code, z[i])
        else:
            out[i] = _ddphi(code, z[i])


_BUILTIN_PHI_DPHI = serial_and_parallel(_builtin_phi_dphi)
_BUILTIN_APPLY = serial_and_parallel(_builtin_apply)


def _make_custom_kernels(phi, dphi, ddphi):
    """Array kernels over user-supplied scalar kernels (not cacheable)."""

    def phi_dphi_kernel(code, Z, scale, H, G):
        for i in prange(Z.shape[0]):
            for j in range(Z.shape[1]):
                z = Z[i, j]  # read once: H may alias Z
                H[i, j] = phi(z)
                G[i, j] = dphi(z) * scale[j]

    def apply_kernel(code, order, z, out):
        for i in prange(z.shape[0]):
            if order == 0:
                out[i] = phi(z[i])
            elif order == 1:
                out[i] = dphi(z[i])
            else:
                out[i] = ddphi(z[i])

    return (serial_and_parallel(phi_dphi_kernel, cache=False),
            serial_and_parallel(apply_kernel, cache=False))


# --------------------------------------------------------------------------
# NumPy forms of the built-in activations (the independent references)
# --------------------------------------------------------------------------
# Written for clarity with NumPy and SciPy, independently of the scalar
# kernels above: the tests compare the two, and backend="numpy" runs these.
def _np_sigmoid(x):
    return special.expit(x)


def _np_sigmoid_d(x):
    # s(x) s(-x) = e / (1 + e)^2, e = exp(-|x|): no cancellation in 1 - s(x).
    e = np.exp(-np.abs(x))
    return e / ((1.0 + e) * (1.0 + e))


def _np_sech2(x):
    # 4 e / (1 + e)^2 with e = exp(-2|x|): 1 - tanh(x)^2 cancels for |x| >~ 19.
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / ((1.0 + e) * (1.0 + e))


def _np_shifted_softplus(x):
    # log((1 + e^x) / 2) = log1p(expm1(x) / 2); x + log1p(e^-x) - log 2 where
    # expm1 would overflow.  logaddexp(0, x) - log 2 loses x's digits near 0.
    x = np.asarray(x, dtype=float)
    small = x < 20.0
    out = np.empty_like(x)
    out[small] = np.log1p(0.5 * np.expm1(x[small]))
    big = x[~small]
    out[~small] = big + np.log1p(np.exp(-big)) - _LOG2
    return out


def _np_gaussian_tail(x, f):
    # f(x) exp(-x^2 / 2)-type terms are 0 once exp underflows; computing them
    # would give 0 * inf = nan for huge |x|.
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    ok = np.abs(x) <= 40.0
    out[ok] = f(x[ok])
    return out


# --------------------------------------------------------------------------
# The table's record and its checks
# --------------------------------------------------------------------------
#: Functions a ball form may call; each is the python-flint ``arb`` method
#: of the same name.
BALL_FUNCTIONS = ("erf", "erfc", "exp", "log", "sqrt", "tanh")


@dataclass(frozen=True)
class NoForm:
    """A form that a built-in activation does not have, and why.

    Attributes
    ----------
    reason : str
        Why the form is absent; a route that needs the form says it.

    Examples
    --------
    >>> from pl_toolkit.activations import BUILTIN_FORMS
    >>> BUILTIN_FORMS["relu"].ball.reason
    "phi' jumps at 0"
    """

    reason: str


@dataclass(frozen=True)
class ActivationForms:
    """Every form of one built-in activation: one row of ``BUILTIN_FORMS``.

    Attributes
    ----------
    name : str
        Registry name.
    code : int
        Branch of the compiled dispatch chains (``_phi``, ``_dphi``,
        ``_ddphi``) that evaluates this activation.
    kernels : tuple of 3 numba dispatchers
        Scalar kernels ``(phi, phi', phi'')``.
    numpy : tuple of 3 callables
        ``(phi, phi', phi'')`` on float64 arrays, written with NumPy and
        SciPy independently of the kernels.
    sympy : str
        The definition ``phi(x)``, parsable by SymPy (``Piecewise`` for the
        kinked ones; the Assumption-2 derivatives are taken from it).
    ball : tuple of 2 str, or NoForm
        ``(phi(x), phi'(x))`` in the ball vocabulary: ``x``, ``pi``,
        integer literals, ``+ - * /``, ``**`` with an integer literal
        exponent, and calls of :data:`BALL_FUNCTIONS`.
    phi_dot_max, phi_ddot_max : float
        ``sup |phi'|`` and ``sup |phi''|`` (``inf`` if unbounded).
    assumption2_reason : str, default ""
        Why the activation fails Assumption 2; empty if it meets it.
    parity : {'odd', 'even', None}
        Symmetry of ``phi``.
    notes : str, default ""
        Further remarks.

    Examples
    --------
    >>> from pl_toolkit.activations import BUILTIN_FORMS
    >>> row = BUILTIN_FORMS["tanh"]
    >>> row.sympy, row.ball
    ('tanh(x)', ('tanh(x)', '1 - tanh(x)**2'))
    """

    name: str
    code: int
    kernels: tuple = field(repr=False)
    numpy: tuple = field(repr=False)
    sympy: str
    ball: object
    phi_dot_max: float
    phi_ddot_max: float
    assumption2_reason: str = ""
    parity: object = None
    notes: str = ""


def _is_ball_call(node):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "_ball")


class _BallCompiler(ast.NodeTransformer):
    """Check a ball form against the vocabulary and rewrite it for python-flint.

    ``f(a)`` becomes ``_ball(a).f()``, an integer literal ``k`` the exact ball
    ``_ball(k)`` (so ``1/3`` is a ball, never the float 0.333...), ``pi`` the
    ball ``_pi()`` at the working precision; exponents of ``**`` stay
    integers (an exact power, defined for negative bases).
    """

    def __init__(self, text):
        self.text = text

    def _refuse(self, what):
        raise ValueError(f"ball form {self.text!r}: {what} is outside the ball vocabulary "
                         f"(x, pi, integer literals, + - * /, ** with an integer exponent, "
                         f"{', '.join(BALL_FUNCTIONS)})")

    def generic_visit(self, node):
        self._refuse(type(node).__name__)

    def visit_Expression(self, node):
        return ast.Expression(self.visit(node.body))

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.Pow):
            exp_ = node.right
            if not (isinstance(exp_, ast.Constant) and type(exp_.value) is int):
                self._refuse("a non-integer exponent")
            return ast.BinOp(self.visit(node.left), node.op, exp_)
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            self._refuse(type(node.op).__name__)
        return ast.BinOp(self.visit(node.left), node.op, self.visit(node.right))

    def visit_UnaryOp(self, node):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            self._refuse(type(node.op).__name__)
        return ast.UnaryOp(node.op, self.visit(node.operand))

    def visit_Call(self, node):
        if not (isinstance(node.func, ast.Name) and node.func.id in BALL_FUNCTIONS
                and len(node.args) == 1 and not node.keywords):
            self._refuse(f"the call {ast.unparse(node)}")
        arg = self.visit(node.args[0])
        if not _is_ball_call(arg):
            arg = ast.Call(ast.Name("_ball", ast.Load()), [arg], [])
        return ast.Call(ast.Attribute(arg, node.func.id, ast.Load()), [], [])

    def visit_Name(self, node):
        if node.id == "x":
            return node
        if node.id == "pi":
            return ast.Call(ast.Name("_pi", ast.Load()), [], [])
        self._refuse(f"the name {node.id!r}")

    def visit_Constant(self, node):
        if type(node.value) is not int:
            self._refuse(f"the literal {node.value!r}")
        return ast.Call(ast.Name("_ball", ast.Load()), [node], [])


def _ball_source(text):
    """Python source of the ball form ``text`` (a ValueError if it leaves the vocabulary)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"ball form {text!r} is not a non-empty string")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"ball form {text!r} is not an expression: {exc.msg}") from None
    return ast.unparse(ast.fix_missing_locations(_BallCompiler(text).visit(tree)))


def ball_function(text, arb):
    """Compile a ball form into a function on balls.

    Parameters
    ----------
    text : str
        An expression in ``x`` in the ball vocabulary (see
        :class:`ActivationForms`).
    arb : type
        The ball type, python-flint's ``flint.arb``; the calls of
        :data:`BALL_FUNCTIONS` are its methods of the same name.

    Returns
    -------
    callable
        ``z -> value``, a ball enclosing the expression at every point of
        the ball ``z`` (at the working precision of ``flint.ctx``, read at
        each call).

    Raises
    ------
    ValueError
        If ``text`` leaves the ball vocabulary.

    Examples
    --------
    >>> import flint
    >>> from pl_toolkit.activations import ball_function
    >>> f = ball_function("x/3 + exp(-x**2)", flint.arb)
    >>> f(flint.arb(0)).contains(flint.arb(1))
    True
    """
    env = {"__builtins__": {}, "_ball": arb, "_pi": arb.pi}
    # the source is built from a checked tree: names, calls and literals of the vocabulary only
    return eval(f"lambda x: {_ball_source(text)}", env)


def _callables(value, count):
    return (isinstance(value, tuple) and len(value) == count
            and all(callable(f) for f in value))


def form_problems(table):
    """What is missing or malformed in a table of built-in activations.

    Parameters
    ----------
    table : dict of str to ActivationForms
        Rows keyed by name, like ``BUILTIN_FORMS``.

    Returns
    -------
    list of str
        One line per problem (``"<name>: <problem>"``); empty when every
        row has every form: three kernels, three NumPy functions, a SymPy
        string, two ball forms in the vocabulary or a :class:`NoForm` with
        its reason, and dispatch codes ``0, 1, ...`` each used once.

    Examples
    --------
    >>> import dataclasses
    >>> from pl_toolkit.activations import BUILTIN_FORMS, form_problems
    >>> form_problems(BUILTIN_FORMS)
    []
    >>> fake = dataclasses.replace(BUILTIN_FORMS["tanh"], name="fake", code=len(BUILTIN_FORMS),
    ...                            ball=None)
    >>> form_problems({**BUILTIN_FORMS, "fake": fake})
    ['fake: no ball form (two expressions, or NoForm with its reason)']
    """
    problems = []
    for name, row in table.items():
        if not isinstance(row, ActivationForms):
            problems.append(f"{name}: not an ActivationForms record")
            continue
        if row.name != name:
            problems.append(f"{name}: the row is named {row.name!r}")
        if not _callables(row.kernels, 3):
            problems.append(f"{name}: no scalar kernels (phi, phi', phi'')")
        if not _callables(row.numpy, 3):
            problems.append(f"{name}: no NumPy form (phi, phi', phi'')")
        if not (isinstance(row.sympy, str) and row.sympy.strip()):
            problems.append(f"{name}: no SymPy form (the definition of phi as a string)")
        if isinstance(row.ball, NoForm):
            if not (isinstance(row.ball.reason, str) and row.ball.reason.strip()):
                problems.append(f"{name}: NoForm for the ball form without a reason")
        elif isinstance(row.ball, tuple) and len(row.ball) == 2:
            for text in row.ball:
                try:
                    _ball_source(text)
                except ValueError as exc:
                    problems.append(f"{name}: {exc}")
        else:
            problems.append(f"{name}: no ball form (two expressions, or NoForm with its reason)")
        if row.parity not in ("odd", "even", None):
            problems.append(f"{name}: parity {row.parity!r} is not 'odd', 'even' or None")
    codes = sorted(row.code for row in table.values() if isinstance(row, ActivationForms))
    if codes != list(range(len(codes))):
        problems.append(f"dispatch codes {codes} are not 0..{len(codes) - 1}, each once")
    return problems


# --------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Activation:
    """An activation function phi with phi', phi'' and Assumption-2 data.

    Use :func:`get_activation` to obtain one by name and
    :func:`register_activation` to add one.

    Attributes
    ----------
    name : str
        Registry name.
    phi_scalar, dphi_scalar, ddphi_scalar : numba dispatcher
        Scalar kernels, callable from numba code.
    phi_dot_max : float
        ``sup |phi'(x)|`` over the real line (``inf`` if unbounded).
    phi_ddot_max : float
        ``sup |phi''(x)|`` (``inf`` if unbounded or phi is not C^2).
    assumption2 : bool
        Whether phi meets the paper's Assumption 2: phi in C^2, phi(0) = 0,
        bounded phi' and phi''.
    assumption2_reason : str
        Empty when ``assumption2`` is true, otherwise why it fails.
    parity : {'odd', 'even', None}
        Symmetry of phi; odd activations have vanishing even Hermite
        coefficients and vice versa.
    notes : str
        Further remarks (conventions at kinks, the paper's caveats).
    code : int
        Internal dispatch code of a built-in activation inside the compiled
        kernels; ``-1`` for activations registered by users.

    Notes
    -----
    Assumption 2 of the paper (Section 5) requires phi in C^2 with
    phi(0) = 0, ``phi_dot_max < inf``, ``phi_ddot_max < inf`` and a finite
    Hermite norm; the constants enter beta_Phi of Lemma 3 (eq. 18).

    Examples
    --------
    >>> from pl_toolkit import get_activation
    >>> act = get_activation("tanh")
    >>> round(act.phi_ddot_max, 6)  # 4 / (3 sqrt 3)
    0.7698
    >>> act.assumption2
    True
    >>> get_activation("sigmoid").assumption2_reason
    'phi(0) = 1/2 != 0'
    """

    name: str
    phi_scalar: object = field(repr=False)
    dphi_scalar: object = field(repr=False)
    ddphi_scalar: object = field(repr=False)
    phi_dot_max: float
    phi_ddot_max: float
    assumption2: bool
    assumption2_reason: str = ""
    parity: object = None
    notes: str = ""
    code: int = field(default=-1, repr=False)
    _kernels: tuple = field(default=None, repr=False, compare=False)

    # -- kernels ------------------------------------------------------------
    def _kernel_pair(self):
        if self.code >= 0:
            return _BUILTIN_PHI_DPHI, _BUILTIN_APPLY
        return self._kernels

    def _apply(self, x, order, parallel):
        arr = as_float_array(x, "x", allow_empty=True)
        flat = arr.reshape(-1)
        out = np.empty_like(flat)
        _, apply_k = self._kernel_pair()
        apply_k[use_parallel(parallel, flat.size)](self.code, order, flat, out)
        return out.reshape(arr.shape)

    def phi(self, x, *, parallel=True):
        """Evaluate phi elementwise on an array of any shape.

        Parameters
        ----------
        x : array_like
            Finite real input.
        parallel : bool, default True
            Use the row-parallel kernel.

        Returns
        -------
        ndarray of float64
            ``phi(x)`` with the shape of ``x``.
        """
        return self._apply(x, 0, parallel)

    def dphi(self, x, *, parallel=True):
        """Evaluate phi' elementwise; see :meth:`phi`."""
        return self._apply(x, 1, parallel)

    def ddphi(self, x, *, parallel=True):
        """Evaluate phi'' elementwise; see :meth:`phi`."""
        return self._apply(x, 2, parallel)

    def phi_dphi(self, Z, *, parallel=True):
        """Evaluate ``phi(Z)`` and ``phi'(Z)`` together in one pass.

        Parameters
        ----------
        Z : array_like of shape (n, m)
            Finite real matrix (e.g. preactivations ``X W^T``).
        parallel : bool, default True
            Use the row-parallel kernel (bitwise equal to the serial one).

        Returns
        -------
        H, G : ndarray of shape (n, m)
            ``phi(Z)`` and ``phi'(Z)``.
        """
        Z = as_float_array(Z, "Z", ndim=2, allow_empty=True)
        return self._fill_phi_dphi(Z, np.empty_like(Z), np.empty_like(Z), parallel)

    def _fill_phi_dphi(self, Z, H, G, parallel=True, scale=None):
        # Hot path of the NTK kernels: Z is a checked C-contiguous float64
        # matrix; H may alias Z (each entry is read before it is written).
        # G receives phi'(Z) * scale[j] (multiplying by 1.0 is exact).
        if scale is None:
            scale = np.ones(Z.shape[1])
        pair, _ = self._kernel_pair()
        pair[use_parallel(parallel, Z.size)](self.code, Z, scale, H, G)
        return H, G

    def __reduce__(self):
        # Pickle by name so that activations cross process boundaries.
        return (get_activation, (self.name,))


#: The built-in activations, one :class:`ActivationForms` row each: every form
#: of every built-in is written here and nowhere else.
BUILTIN_FORMS = {row.name: row for row in (
    ActivationForms(
        "gelu", 0, (gelu, gelu_d, gelu_dd),
        numpy=(lambda x: x * special.ndtr(x),
               lambda x: special.ndtr(x) + _np_gaussian_tail(x, lambda t: t * np.exp(-0.5 * t * t))
               / np.sqrt(2 * np.pi),
               lambda x: _np_gaussian_tail(x, lambda t: np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)
                                           * (2 - t * t))),
        sympy="x*(1 + erf(x/sqrt(2)))/2",
        ball=("x*erfc(-x/sqrt(2))/2", "erfc(-x/sqrt(2))/2 + x*exp(-x**2/2)/sqrt(2*pi)"),
        # phi'' = pdf(x)(2 - x^2) vanishes at +-sqrt(2); phi'(sqrt 2) is the max.
        phi_dot_max=0.5 * (1.0 + math.erf(1.0)) + math.exp(-1.0) / math.sqrt(math.pi),
        phi_ddot_max=math.sqrt(2.0 / math.pi),
        notes="Exact GELU x*Phi(x) (erf form). Odd Hermite coefficients c_k, k >= 3, vanish."),
    ActivationForms(
        "tanh", 1, (tanh, tanh_d, tanh_dd),
        numpy=(np.tanh, _np_sech2, lambda x: -2 * np.tanh(x) * _np_sech2(x)),
        sympy="tanh(x)",
        ball=("tanh(x)", "1 - tanh(x)**2"),
        phi_dot_max=1.0, phi_ddot_max=4.0 / (3.0 * math.sqrt(3.0)), parity="odd",
        notes="Odd, so even Hermite coefficients vanish; the paper's Section 6 asks for a "
              "non-odd activation, which conflicts with its own tanh example."),
    ActivationForms(
        "sigmoid", 2, (sigmoid, sigmoid_d, sigmoid_dd),
        numpy=(_np_sigmoid, _np_sigmoid_d, lambda x: -_np_sigmoid_d(x) * np.tanh(0.5 * x)),
        sympy="1/(1 + exp(-x))",
        ball=("1/(1 + exp(-x))", "1/(1 + exp(-x))*(1 - 1/(1 + exp(-x)))"),
        phi_dot_max=0.25, phi_ddot_max=1.0 / (6.0 * math.sqrt(3.0)),
        assumption2_reason="phi(0) = 1/2 != 0"),
    ActivationForms(
        "softplus", 3, (softplus, softplus_d, softplus_dd),
        numpy=(lambda x: np.logaddexp(0.0, x), _np_sigmoid, _np_sigmoid_d),
        sympy="log(1 + exp(x))",
        ball=("log(1 + exp(x))", "1/(1 + exp(-x))"),
        phi_dot_max=1.0, phi_ddot_max=0.25,
        assumption2_reason="phi(0) = log 2 != 0 (use shifted_softplus)",
        notes="sup phi' = 1 is approached as x -> inf, not attained."),
    ActivationForms(
        "shifted_softplus", 4, (shifted_softplus, softplus_d, softplus_dd),
        numpy=(_np_shifted_softplus, _np_sigmoid, _np_sigmoid_d),
        sympy="log(1 + exp(x)) - log(2)",
        ball=("log((1 + exp(x))/2)", "1/(1 + exp(-x))"),
        phi_dot_max=1.0, phi_ddot_max=0.25,
        notes="softplus(x) - log 2, so that phi(0) = 0."),
    ActivationForms(
        "silu", 5, (silu, silu_d, silu_dd),
        numpy=(lambda x: x * _np_sigmoid(x), lambda x: _np_sigmoid(x) + x * _np_sigmoid_d(x),
               lambda x: _np_sigmoid_d(x) * (2 - x * np.tanh(0.5 * x))),
        sympy="x/(1 + exp(-x))",
        ball=("x*(1/(1 + exp(-x)))",
              "1/(1 + exp(-x)) + x*(1/(1 + exp(-x)))*(1 - 1/(1 + exp(-x)))"),
        phi_dot_max=1.0998393201288669, phi_ddot_max=0.5,
        notes="sup|phi'| attained at x = 2.3993572805154677 (root of phi''), computed with "
              "mpmath at 30 digits; sup|phi''| = phi''(0) = 1/2."),
    ActivationForms(
        "erf", 6, (erf, erf_d, erf_dd),
        numpy=(special.erf,
               lambda x: _np_gaussian_tail(x, lambda t: 2 / np.sqrt(np.pi) * np.exp(-t * t)),
               lambda x: _np_gaussian_tail(x, lambda t: -4 * t / np.sqrt(np.pi)
                                           * np.exp(-t * t))),
        sympy="erf(x)",
        ball=("erf(x)", "2/sqrt(pi)*exp(-x**2)"),
        phi_dot_max=2.0 / math.sqrt(math.pi), phi_ddot_max=math.sqrt(8.0 / (math.pi * math.e)),
        parity="odd"),
    ActivationForms(
        "quadratic", 7, (quadratic, quadratic_d, quadratic_dd),
        numpy=(lambda x: x * x, lambda x: 2 * x, lambda x: np.full_like(x, 2.0)),
        sympy="x**2",
        ball=("x**2", "2*x"),
        phi_dot_max=math.inf, phi_ddot_max=2.0,
        assumption2_reason="phi'(x) = 2x is unbounded", parity="even"),
    ActivationForms(
        "identity", 8, (identity, identity_d, identity_dd),
        numpy=(lambda x: x.copy(), np.ones_like, np.zeros_like),
        sympy="x",
        ball=("x", "1"),
        phi_dot_max=1.0, phi_ddot_max=0.0, parity="odd",
        notes="Linear network; Hermite coefficients c_k vanish for k >= 2."),
    ActivationForms(
        "relu", 9, (relu, relu_d, relu_dd),
        numpy=(lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float), np.zeros_like),
        sympy="Piecewise((x, x > 0), (0, True))",
        ball=NoForm("phi' jumps at 0"),
        phi_dot_max=1.0, phi_ddot_max=math.inf,
        assumption2_reason="not C^2: phi' jumps at 0",
        notes="phi'(0) := 0; phi'' := 0 away from the kink."),
    ActivationForms(
        "leaky_relu", 10, (leaky_relu, leaky_relu_d, relu_dd),
        numpy=(lambda x: np.where(x > 0, x, LEAKY_SLOPE * x),
               lambda x: np.where(x > 0, 1.0, LEAKY_SLOPE), np.zeros_like),
        sympy=f"Piecewise((x, x > 0), ({LEAKY_SLOPE!r}*x, True))",
        ball=NoForm("phi' jumps at 0"),
        phi_dot_max=1.0, phi_ddot_max=math.inf,
        assumption2_reason="not C^2: phi' jumps at 0",
        notes=f"Negative slope {LEAKY_SLOPE}; phi'(0) := {LEAKY_SLOPE}; phi'' := 0 away from 0."),
)}


def _registry(table):
    """Registry records of the rows of ``table``; a ValueError names every missing form."""
    problems = form_problems(table)
    if problems:
        raise ValueError("activation table: " + "; ".join(problems))
    return {name: Activation(name=name, phi_scalar=row.kernels[0], dphi_scalar=row.kernels[1],
                             ddphi_scalar=row.kernels[2], phi_dot_max=float(row.phi_dot_max),
                             phi_ddot_max=float(row.phi_ddot_max),
                             assumption2=not row.assumption2_reason,
                             assumption2_reason=row.assumption2_reason, parity=row.parity,
                             notes=row.notes, code=row.code)
            for name, row in table.items()}


_REGISTRY = _registry(BUILTIN_FORMS)


def forms_of(activation):
    """The table row of a built-in activation; None for a user-registered one.

    Parameters
    ----------
    activation : str or Activation
        Registered activation.

    Returns
    -------
    ActivationForms or None
        The row of ``BUILTIN_FORMS``, or None for an activation registered
        by :func:`register_activation` (it has no NumPy, SymPy or ball form).

    Raises
    ------
    ValueError
        If no activation of that name is registered.

    Examples
    --------
    >>> from pl_toolkit.activations import forms_of
    >>> forms_of("erf").sympy
    'erf(x)'
    """
    act = get_activation(activation)
    return BUILTIN_FORMS[act.name] if act.code >= 0 else None


def available_activations():
    """Return the sorted names of all registered activations.

    Returns
    -------
    list of str
        Registry names.

    Examples
    --------
    >>> from pl_toolkit import available_activations
    >>> "gelu" in available_activations()
    True
    """
    return sorted(_REGISTRY)


def get_activation(name):
    """Look up an activation by name (or return an :class:`Activation` as is).

    Parameters
    ----------
    name : str or Activation
        Registry name, case-insensitive; ``-`` and ``_`` are equivalent.

    Returns
    -------
    Activation
        The registered record.

    Raises
    ------
    ValueError
        If no activation of that name is registered.

    Examples
    --------
    >>> from pl_toolkit import get_activation
    >>> get_activation("GELU").phi([0.0, 1.0]).round(6).tolist()
    [0.0, 0.841345]
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise ValueError(f"activation must be a name or an Activation, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key not in _REGISTRY:
        raise ValueError(f"activation {name!r} is unknown; "
                         f"available: {', '.join(available_activations())}")
    return _REGISTRY[key]


def _grid_sup(f, lo=-60.0, hi=60.0, num=240001):
    x = np.linspace(lo, hi, num)
    return float(np.max(np.abs(f(x))))


def register_activation(name, phi, dphi, ddphi, *, phi_dot_max=None, phi_ddot_max=None,
                        c2=True, parity=None, notes="", overwrite=False):
    """Register a user activation from scalar phi, phi', phi''.

    Parameters
    ----------
    name : str
        New registry name (lower case).
    phi, dphi, ddphi : callable
        Scalar functions ``float -> float`` that numba can compile (plain
        Python functions are compiled with the house options; numba
        dispatchers are used as they are).
    phi_dot_max, phi_ddot_max : float, optional
        ``sup|phi'|`` and ``sup|phi''|``.  When omitted they are estimated
        by the maximum over a dense grid on [-60, 60] (the ``notes`` say
        so); pass exact values when you know them.
    c2 : bool, default True
        Whether phi is twice continuously differentiable (cannot be checked
        numerically; part of Assumption 2).
    parity : {'odd', 'even', None}, optional
        Symmetry of phi.
    notes : str, optional
        Free text kept with the record.
    overwrite : bool, default False
        Replace an existing registration of the same name.

    Returns
    -------
    Activation
        The new record; also available through :func:`get_activation`.

    Raises
    ------
    ValueError
        If the name is taken, a function is not numba-compilable or its
        values are not finite at 0, or ``phi_dot_max``/``phi_ddot_max`` is
        not a non-negative number.

    Examples
    --------
    >>> import math
    >>> from pl_toolkit import register_activation
    >>> act = register_activation("scaled_tanh", lambda x: 2.0 * math.tanh(x),
    ...                           lambda x: 2.0 * (1.0 - math.tanh(x) ** 2),
    ...                           lambda x: -4.0 * math.tanh(x) * (1.0 - math.tanh(x) ** 2),
    ...                           phi_dot_max=2.0, overwrite=True)
    >>> act.assumption2, act.phi_dot_max
    (True, 2.0)
    """
    import numba

    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    key = name.strip().lower().replace("-", "_")
    if key in _REGISTRY and (not overwrite or _REGISTRY[key].code >= 0):
        what = "a built-in" if _REGISTRY[key].code >= 0 else "already registered"
        raise ValueError(f"name {name!r} is {what} activation; choose another name"
                         + ("" if _REGISTRY[key].code >= 0 else " or pass overwrite=True"))
    for arg, v in (("phi_dot_max", phi_dot_max), ("phi_ddot_max", phi_ddot_max)):
        if v is None:
            continue
        try:
            ok = float(v) >= 0.0          # False for nan; inf (unbounded) is allowed
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{arg} must be a non-negative number (inf if unbounded), got {v!r}")
    funcs = []
    for arg, f in (("phi", phi), ("dphi", dphi), ("ddphi", ddphi)):
        if not callable(f):
            raise ValueError(f"{arg} must be callable")
        disp = f if isinstance(f, numba.core.registry.CPUDispatcher) else jit(cache=False)(f)
        try:
            v = disp(0.0)
            float(v)
        except Exception as exc:  # numba typing errors are reported as one line
            raise ValueError(f"{arg} cannot be compiled by numba for a float64 argument: "
                             f"{str(exc).splitlines()[0]}") from None
        if not math.isfinite(v):
            raise ValueError(f"{arg}(0) is not finite")
        funcs.append(disp)
    kernels = _make_custom_kernels(*funcs)
    probe = Activation(name=key, phi_scalar=funcs[0], dphi_scalar=funcs[1], ddphi_scalar=funcs[2],
                       phi_dot_max=0.0, phi_ddot_max=0.0, assumption2=False, _kernels=kernels)
    est = []
    if phi_dot_max is None:
        phi_dot_max = _grid_sup(probe.dphi)
        est.append("phi_dot_max")
    if phi_ddot_max is None:
        phi_ddot_max = _grid_sup(probe.ddphi)
        est.append("phi_ddot_max")
    reasons = []
    if not c2:
        reasons.append("not C^2 (declared)")
    phi0 = funcs[0](0.0)
    if phi0 != 0.0:
        reasons.append(f"phi(0) = {phi0:.6g} != 0")
    # Growth check far out: a derivative that keeps growing is unbounded.
    far = np.array([1e3, -1e3, 1e4, -1e4])
    if (not math.isfinite(phi_dot_max)
            or np.max(np.abs(probe.dphi(far))) > 10 * max(phi_dot_max, 1.0)):
        reasons.append("phi' appears unbounded")
    if not math.isfinite(phi_ddot_max):
        reasons.append("phi'' unbounded")
    if est:
        notes = (notes + " " if notes else "") + \
            f"{' and '.join(est)} estimated on a dense grid over [-60, 60]."
    act = Activation(name=key, phi_scalar=funcs[0], dphi_scalar=funcs[1], ddphi_scalar=funcs[2],
                     phi_dot_max=float(phi_dot_max), phi_ddot_max=float(phi_ddot_max),
                     assumption2=not reasons, assumption2_reason="; ".join(reasons),
                     parity=parity, notes=notes, _kernels=kernels)
    _REGISTRY[key] = act
    return act
