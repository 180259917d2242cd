"""Activation functions with their first two derivatives, compiled by numba.

Each activation is an :class:`Activation` record holding

* numba-compiled scalar kernels ``phi_scalar``, ``dphi_scalar``,
  ``ddphi_scalar`` (callable from a user's own ``@numba.njit`` code);
* NumPy-facing array methods :meth:`Activation.phi`, :meth:`Activation.dphi`,
  :meth:`Activation.ddphi` and the fused :meth:`Activation.phi_dphi` used by
  the NTK kernels;
* the constants of the paper's Assumption 2: ``phi_dot_max = sup|phi'|``,
  ``phi_ddot_max = sup|phi''|``, and whether the activation meets the
  assumption (and if not, why).

Built-in activations are dispatched inside the kernels by an integer code so
that their compiled code is cached; activations registered by users are
compiled on first use in each process (closures cannot be cached).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ._jit import jit, prange, scalar_kernel, serial_and_parallel, use_parallel
from ._validation import as_float_array

__all__ = ["Activation", "get_activation", "register_activation", "available_activations"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_LOG2 = math.log(2.0)
#: Slope of ``leaky_relu`` for negative arguments.
LEAKY_SLOPE = 0.01
_LEAKY_SLOPE = LEAKY_SLOPE


# --------------------------------------------------------------------------
# Scalar kernels of the built-in activations
# --------------------------------------------------------------------------
@scalar_kernel
def gelu(x):
    return 0.5 * x * math.erfc(-x / _SQRT2)


@scalar_kernel
def gelu_d(x):
    return 0.5 * math.erfc(-x / _SQRT2) + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


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


# Built-in codes, in the order of the dispatch chains below.
_CODES = {"gelu": 0, "tanh": 1, "sigmoid": 2, "softplus": 3, "shifted_softplus": 4, "silu": 5,
          "erf": 6, "quadratic": 7, "identity": 8, "relu": 9, "leaky_relu": 10}


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
        cdf = 0.5 * math.erfc(-x / _SQRT2)
        return x * cdf, cdf + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)
    return _phi(code, x), _dphi(code, x)


# --------------------------------------------------------------------------
# Array kernels (rows independent; serial and parallel builds agree bitwise)
# --------------------------------------------------------------------------
def _builtin_phi_dphi(code, Z, scale, H, G):
    # G is phi'(Z) times scale[j] (the NTK needs phi'(Z) o v; scale = 1 otherwise).
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


_REGISTRY = {}


def _builtin(name, phi, dphi, ddphi, dot_max, ddot_max, reason="", parity=None, notes=""):
    _REGISTRY[name] = Activation(name=name, phi_scalar=phi, dphi_scalar=dphi, ddphi_scalar=ddphi,
                                 phi_dot_max=float(dot_max), phi_ddot_max=float(ddot_max),
                                 assumption2=not reason, assumption2_reason=reason,
                                 parity=parity, notes=notes, code=_CODES[name])


_builtin("gelu", gelu, gelu_d, gelu_dd,
         # phi'' = pdf(x)(2 - x^2) vanishes at +-sqrt(2); phi'(sqrt 2) is the max.
         0.5 * (1.0 + math.erf(1.0)) + math.exp(-1.0) / math.sqrt(math.pi),
         math.sqrt(2.0 / math.pi),
         notes="Exact GELU x*Phi(x) (erf form). Odd Hermite coefficients c_k, k >= 3, vanish.")
_builtin("tanh", tanh, tanh_d, tanh_dd, 1.0, 4.0 / (3.0 * math.sqrt(3.0)), parity="odd",
         notes="Odd, so even Hermite coefficients vanish; the paper's Section 6 asks for a "
               "non-odd activation, which conflicts with its own tanh example.")
_builtin("sigmoid", sigmoid, sigmoid_d, sigmoid_dd, 0.25, 1.0 / (6.0 * math.sqrt(3.0)),
         reason="phi(0) = 1/2 != 0")
_builtin("softplus", softplus, softplus_d, softplus_dd, 1.0, 0.25,
         reason="phi(0) = log 2 != 0 (use shifted_softplus)",
         notes="sup phi' = 1 is approached as x -> inf, not attained.")
_builtin("shifted_softplus", shifted_softplus, softplus_d, softplus_dd, 1.0, 0.25,
         notes="softplus(x) - log 2, so that phi(0) = 0.")
_builtin("silu", silu, silu_d, silu_dd, 1.0998393201288669, 0.5,
         notes="sup|phi'| attained at x = 2.3993572805154677 (root of phi''), computed with "
               "mpmath at 30 digits; sup|phi''| = phi''(0) = 1/2.")
_builtin("erf", erf, erf_d, erf_dd, 2.0 / math.sqrt(math.pi), math.sqrt(8.0 / (math.pi * math.e)),
         parity="odd")
_builtin("quadratic", quadratic, quadratic_d, quadratic_dd, math.inf, 2.0,
         reason="phi'(x) = 2x is unbounded", parity="even")
_builtin("identity", identity, identity_d, identity_dd, 1.0, 0.0, parity="odd",
         notes="Linear network; Hermite coefficients c_k vanish for k >= 2.")
_builtin("relu", relu, relu_d, relu_dd, 1.0, math.inf,
         reason="not C^2: phi' jumps at 0",
         notes="phi'(0) := 0; phi'' := 0 away from the kink.")
_builtin("leaky_relu", leaky_relu, leaky_relu_d, relu_dd, 1.0, math.inf,
         reason="not C^2: phi' jumps at 0",
         notes=f"Negative slope {_LEAKY_SLOPE}; phi'(0) := {_LEAKY_SLOPE}; phi'' := 0 away from 0.")


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
