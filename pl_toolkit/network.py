"""The paper's shallow network ``x -> V phi(W x)`` (eqs. 15-16).

Data are stored as rows: ``X`` has shape ``(n, d0)`` and the network maps it
to ``phi(X W^T) V^T`` of shape ``(n, d2)``.  The paper stores samples as
columns, ``X_paper = X.T``, so ``Phi(Theta) = V phi(W X_paper)`` is the
transpose of :meth:`ShallowNet.forward`.
"""

import json
import os

import numpy as np

from ._validation import (FLOAT64_MAX, as_float_array, check_positive_float, check_positive_int,
                          check_seed, check_result_finite, max_abs, quiet_overflow)
from .activations import get_activation

__all__ = ["ShallowNet", "INITS"]

#: Variance rules ``(omega1^2, omega2^2)`` of the named initializations, eq. (17).
INITS = {
    "lecun": lambda d0, d1, d2: (1.0 / d0, 1.0 / d1),
    "he": lambda d0, d1, d2: (2.0 / d0, 2.0 / d1),
    "xavier": lambda d0, d1, d2: (2.0 / (d0 + d1), 2.0 / (d1 + d2)),
}

_LAYERS = ("W", "V")



def check_layers(layers):
    """Normalize a ``layers`` argument to a tuple in canonical order ('W' before 'V')."""
    if isinstance(layers, str):
        layers = (layers,)
    try:
        given = tuple(layers)
    except TypeError:
        raise ValueError(f"layers must be a tuple of 'W' and/or 'V', got {layers!r}") from None
    bad = [x for x in given if x not in _LAYERS]
    if bad or not given:
        raise ValueError(f"layers must be a non-empty subset of ('W', 'V'), got {layers!r}")
    return tuple(x for x in _LAYERS if x in given)


def check_net(net, name="net"):
    """Return ``net`` if it is a :class:`ShallowNet`, else raise ValueError naming ``name``."""
    if not isinstance(net, ShallowNet):
        raise ValueError(f"{name} must be a ShallowNet, got {type(net).__name__}")
    return net


def _check_omega(value, name, init):
    """A standard deviation of ``init=(omega1, omega2)``: a positive finite number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"init=(omega1, omega2): {name} must be a positive finite number, "
                         f"got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"init=(omega1, omega2): {name} must be a positive finite number, "
                         f"got {value!r}")
    return v


def _read_npz_entry(zf, key, path):
    """Read entry ``key`` of an open ``.npz`` zip, refusing damage before allocating.

    The ``.npy`` header's shape and dtype must account for exactly the
    member's stored size, so a header claiming a huge shape is refused
    instead of attempting the allocation.
    """
    import zipfile

    fmt = np.lib.format
    info = zf.getinfo(key + ".npy")
    where = f"path {path!r}: entry {key!r}"
    try:
        with zf.open(info) as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            if dtype.hasobject or dtype.kind not in "biuf" + ("U" if key == "meta" else ""):
                raise ValueError(f"has dtype {dtype}; a numeric array is required")
            count = 1
            for k in shape:
                count *= int(k)
            need = count * dtype.itemsize
            have = info.file_size - fh.tell()
            if need != have:
                raise ValueError(f"claims shape {tuple(shape)} of {dtype} ({need} bytes) but holds "
                                 f"{have} bytes: the file is truncated or corrupt")
        with zf.open(info) as fh:
            return fmt.read_array(fh, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, MemoryError) as exc:
        msg = (str(exc) if isinstance(exc, ValueError)
               else f"cannot be read ({type(exc).__name__}: {exc})")
        raise ValueError(f"{where}: {msg}") from None


def _readonly(a):
    if a is not None:
        a.setflags(write=False)
    return a


class ShallowNet:
    """The two-layer network ``x -> V phi(W x) (+ biases)`` of the paper.

    Parameters
    ----------
    W : array_like of shape (d1, d0)
        First-layer weights.
    V : array_like of shape (d2, d1) or (d1,)
        Second-layer weights (a vector means ``d2 = 1``).
    activation : str or Activation, default "gelu"
        Name in the activation registry, or a record.
    b1 : array_like of shape (d1,), optional
        First-layer bias (absent in the paper; present in PyTorch nets).
    b2 : array_like of shape (d2,), optional
        Second-layer bias.
    omega1, omega2 : float, optional
        Standard deviations the weights were drawn with (set by
        :meth:`init`; ``None`` for explicit weights).

    Attributes
    ----------
    d0, d1, d2 : int
        Input dimension, width and output dimension.
    activation : Activation
        The activation record.

    Notes
    -----
    The parameters are ``Theta = (W, V)``; the bias of the first layer
    belongs to layer ``"W"`` and that of the second layer to layer ``"V"``
    wherever a ``layers`` argument selects what is trained.  Weight arrays
    are read-only: every update makes a new net (:meth:`with_parameters`).

    Examples
    --------
    >>> from pl_toolkit import ShallowNet
    >>> net = ShallowNet.init(d0=4, d1=16, d2=2, activation="tanh", init="he", seed=1)
    >>> net.W.shape, net.V.shape, round(net.omega1 ** 2, 3)
    ((16, 4), (2, 16), 0.5)
    >>> net.forward([[1.0, 0.0, 0.0, 0.0]]).shape
    (1, 2)
    """

    def __init__(self, W, V, activation="gelu", b1=None, b2=None, *, omega1=None, omega2=None):
        W = as_float_array(W, "W", ndim=2, copy=True)
        V = as_float_array(V, "V", ndim=(1, 2), copy=True)
        if V.ndim == 1:
            V = V.reshape(1, -1)
        if V.shape[1] != W.shape[0]:
            raise ValueError(f"V has shape {V.shape} but W has d1 = {W.shape[0]} rows; "
                             f"V must have shape (d2, {W.shape[0]})")
        if b1 is not None:
            b1 = as_float_array(b1, "b1", ndim=1, copy=True)
            if b1.shape[0] != W.shape[0]:
                raise ValueError(f"b1 has length {b1.shape[0]}, expected d1 = {W.shape[0]}")
        if b2 is not None:
            b2 = as_float_array(b2, "b2", ndim=1, copy=True)
            if b2.shape[0] != V.shape[0]:
                raise ValueError(f"b2 has length {b2.shape[0]}, expected d2 = {V.shape[0]}")
        self.W = _readonly(W)
        self.V = _readonly(V)
        self.b1 = _readonly(b1)
        self.b2 = _readonly(b2)
        # max |W|, max |b1|: the a-priori bound on the preactivations (_z_bounded).
        self._w_max = max_abs(W)
        self._b1_max = max_abs(b1)
        self.activation = get_activation(activation)
        self.omega1 = (None if omega1 is None
                       else check_positive_float(omega1, "omega1", allow_zero=True))
        self.omega2 = (None if omega2 is None
                       else check_positive_float(omega2, "omega2", allow_zero=True))

    # -- construction -------------------------------------------------------
    @classmethod
    def init(cls, d0, d1, d2=1, activation="gelu", init="lecun", seed=0, bias=False):
        """Draw ``W ~ N(0, omega1^2)`` and ``V ~ N(0, omega2^2)`` i.i.d. (eq. 17).

        Parameters
        ----------
        d0, d1, d2 : int
            Input dimension, width, output dimension.
        activation : str or Activation, default "gelu"
            Activation.
        init : {"lecun", "he", "xavier"} or tuple of float, default "lecun"
            Named variance rule (lecun: ``1/d0, 1/d1``; he: ``2/d0, 2/d1``;
            xavier: ``2/(d0+d1), 2/(d1+d2)``) or an explicit
            ``(omega1, omega2)`` pair of standard deviations.
        seed : int, sequence of int or numpy.random.SeedSequence, default 0
            Root of the random stream (through ``SeedSequence``);
            non-negative.
        bias : bool, default False
            Add zero-initialized biases ``b1``, ``b2``.

        Returns
        -------
        ShallowNet
            The initialized network.

        Raises
        ------
        ValueError
            On a non-positive dimension, an unknown init, an ``omega1`` or
            ``omega2`` that is not positive and finite, a negative or
            non-integer ``seed`` (``None`` too: draws must be reproducible),
            or a non-boolean ``bias``.

        Notes
        -----
        The paper's condition (19), ``omega1 omega2 <~ 1/sqrt(d0 d1)``, holds
        with equality up to a constant for LeCun and He.

        Examples
        --------
        >>> net = ShallowNet.init(784, 1000, 10, init="he")
        >>> round(net.omega1 * net.omega2 * (784 * 1000) ** 0.5, 6)
        2.0
        """
        d0 = check_positive_int(d0, "d0")
        d1 = check_positive_int(d1, "d1")
        d2 = check_positive_int(d2, "d2")
        if isinstance(init, str):
            key = init.lower()
            if key not in INITS:
                raise ValueError(f"init {init!r} is unknown; use one of {sorted(INITS)} "
                                 "or (omega1, omega2)")
            var1, var2 = INITS[key](d0, d1, d2)
            omega1, omega2 = float(np.sqrt(var1)), float(np.sqrt(var2))
        else:
            try:
                pair = tuple(init)
            except TypeError:
                pair = ()
            if len(pair) != 2:
                raise ValueError(f"init must be a name or an (omega1, omega2) pair, got {init!r}")
            omega1, omega2 = (_check_omega(v, f"omega{i + 1}", init) for i, v in enumerate(pair))
        if not isinstance(bias, (bool, np.bool_)):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        rng = np.random.default_rng(check_seed(seed))
        W = rng.standard_normal((d1, d0)) * omega1
        V = rng.standard_normal((d2, d1)) * omega2
        b1 = np.zeros(d1) if bias else None
        b2 = np.zeros(d2) if bias else None
        return cls(W, V, activation, b1, b2, omega1=omega1, omega2=omega2)

    @classmethod
    def from_state_dict(cls, state_dict, activation="gelu"):
        """Build a net from a PyTorch ``Linear -> activation -> Linear`` state dict.

        Parameters
        ----------
        state_dict : mapping
            Two ``*.weight`` entries (first layer ``(d1, d0)``, then second
            layer ``(d2, d1)``, in insertion order, as ``nn.Sequential`` and
            the paper's code store them) and optionally two ``*.bias``
            entries.  Values may be torch tensors or arrays.
        activation : str or Activation, default "gelu"
            The activation between the layers (not stored in a state dict).

        Returns
        -------
        ShallowNet
            The net, in float64, with biases when the state dict has them.

        Raises
        ------
        ValueError
            If the entries are not two weight matrices of chained shapes.

        Examples
        --------
        >>> import numpy as np
        >>> sd = {"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3),
        ...       "2.weight": np.ones((1, 3)), "2.bias": np.zeros(1)}
        >>> ShallowNet.from_state_dict(sd, "tanh")
        ShallowNet(d0=2, d1=3, d2=1, activation='tanh', bias)
        """
        def as_array(v):
            if hasattr(v, "detach"):  # a torch tensor
                v = v.detach().cpu().double().numpy()
            return np.asarray(v, dtype=np.float64)

        try:
            items = list(state_dict.items())
        except AttributeError:
            raise ValueError("state_dict must be a mapping of parameter names to arrays") from None
        weights = [(k, as_array(v)) for k, v in items if str(k).endswith("weight")]
        biases = [(k, as_array(v)) for k, v in items if str(k).endswith("bias")]
        if len(weights) != 2:
            raise ValueError("state_dict must hold two Linear layers, "
                             f"found weights {[k for k, _ in weights]}")
        (k1, W), (k2, V) = weights
        if W.ndim != 2 or V.ndim != 2 or V.shape[1] != W.shape[0]:
            raise ValueError(f"state_dict weights {k1} {W.shape} and {k2} {V.shape} do not chain "
                             "as Linear(d0, d1) -> Linear(d1, d2)")
        if len(biases) not in (0, 2):
            raise ValueError("state_dict must hold zero or two biases, "
                             f"found {[k for k, _ in biases]}")
        b1, b2 = (biases[0][1], biases[1][1]) if biases else (None, None)
        return cls(W, V, activation, b1, b2)

    # -- shape --------------------------------------------------------------
    @property
    def d0(self):
        """Input dimension."""
        return self.W.shape[1]

    @property
    def d1(self):
        """Width (the paper's m)."""
        return self.W.shape[0]

    @property
    def d2(self):
        """Output dimension."""
        return self.V.shape[0]

    @property
    def has_bias(self):
        """Whether either bias is present."""
        return self.b1 is not None or self.b2 is not None

    def __repr__(self):
        bias = ", bias" if self.has_bias else ""
        return (f"ShallowNet(d0={self.d0}, d1={self.d1}, d2={self.d2}, "
                f"activation={self.activation.name!r}{bias})")

    # -- evaluation -----------------------------------------------------------
    def check_data(self, X, name="X"):
        """Validate data rows for this net: finite float64 of shape (n, d0)."""
        X = as_float_array(X, name, ndim=2)
        if X.shape[1] != self.d0:
            raise ValueError(f"{name} has {X.shape[1]} columns but the net expects d0 = {self.d0}")
        return X

    def check_targets(self, Y, n, name="Y"):
        """Validate targets: shape (n, d2), or (n,) when d2 = 1."""
        Y = as_float_array(Y, name, ndim=(1, 2))
        if Y.ndim == 1:
            if self.d2 != 1:
                raise ValueError(f"{name} is 1-D but the net has d2 = {self.d2} outputs")
            Y = Y.reshape(-1, 1)
        if Y.shape != (n, self.d2):
            raise ValueError(f"{name} has shape {Y.shape}, expected ({n}, {self.d2})")
        return Y

    def _inputs(self, X, name="X", *extra):
        """``(name, array)`` pairs of everything an output on ``X`` depends on.

        For the messages of overflow errors.
        """
        return [(name, X), ("net.W", self.W), ("net.V", self.V), ("net.b1", self.b1),
                ("net.b2", self.b2), *extra]

    @quiet_overflow
    def preactivations(self, X):
        """Return ``Z = X W^T (+ b1)``, shape (n, d1)."""
        X = self.check_data(X)
        return self._preactivations(X)

    def _z_bounded(self, X):
        """Whether ``|X W^T + b1| <= d0 max|X| max|W| + max|b1|`` proves no overflow in ``Z``.

        Every partial sum of ``x_a . w_r`` is bounded by that, so when the
        bound is below half the float64 maximum no product or sum can
        overflow; it costs one pass over ``X``.
        """
        return self.d0 * max_abs(X) * self._w_max + self._b1_max <= 0.5 * FLOAT64_MAX

    def _preactivations(self, X, name="X"):
        Z = X @ self.W.T
        if self.b1 is not None:
            Z += self.b1
        # Overflow in Z must be caught here: phi(+-inf) is finite for the
        # saturating activations, so it would not show in the outputs.  Once
        # a partial sum overflows the dot product stays +-inf or nan, so a
        # finite Z had no overflow.
        if not self._z_bounded(X):
            check_result_finite(Z, f"the preactivations {name} W^T + b1",
                                [(name, X), ("net.W", self.W), ("net.b1", self.b1)])
        return Z

    @quiet_overflow
    def features(self, X):
        """Return ``phi(X W^T (+ b1))``, shape (n, d1): the paper's ``phi(W X)^T``."""
        X = self.check_data(X)
        H = self.activation.phi(self._preactivations(X))
        return check_result_finite(H, "phi(X W^T + b1)",
                                   [("X", X), ("net.W", self.W), ("net.b1", self.b1)])

    @quiet_overflow
    def forward(self, X):
        """Evaluate the network on rows of ``X``.

        Parameters
        ----------
        X : array_like of shape (n, d0)
            Inputs as rows.

        Returns
        -------
        ndarray of shape (n, d2)
            ``phi(X W^T + b1) V^T + b2``.

        Raises
        ------
        ValueError
            On bad ``X`` (see :meth:`check_data`), or when finite inputs
            overflow float64 (the message names the input with the largest
            entries; nothing is rescaled).

        Examples
        --------
        >>> import numpy as np
        >>> net = ShallowNet(np.eye(2), [[1.0, -1.0]], activation="identity")
        >>> net.forward([[3.0, 1.0]]).tolist()
        [[2.0]]
        """
        return self._forward(self.check_data(X))

    def _forward(self, X, name="X"):
        out = self.activation.phi(self._preactivations(X, name)) @ self.V.T
        if self.b2 is not None:
            out += self.b2
        # Any overflow after Z (phi, the product, the bias) reaches the output.
        return check_result_finite(out, "the network output", self._inputs(X, name))

    __call__ = forward

    # -- parameters -----------------------------------------------------------
    def _blocks(self, layers):
        out = []
        for layer in check_layers(layers):
            if layer == "W":
                out.append(("W", self.W))
                if self.b1 is not None:
                    out.append(("b1", self.b1))
            else:
                out.append(("V", self.V))
                if self.b2 is not None:
                    out.append(("b2", self.b2))
        return out

    def parameter_names(self, layers=("W", "V")):
        """Names and shapes of the flat parameter vector's blocks, in order."""
        return [(name, a.shape) for name, a in self._blocks(layers)]

    def num_parameters(self, layers=("W", "V")):
        """Number of trained parameters in ``layers``."""
        return int(sum(a.size for _, a in self._blocks(layers)))

    def parameters(self, layers=("W", "V")):
        """Return the trained parameters as one flat vector.

        The order is ``W`` (row-major), ``b1``, ``V`` (row-major), ``b2``,
        restricted to ``layers`` and to the biases present.

        Parameters
        ----------
        layers : tuple of {"W", "V"}, default ("W", "V")
            Which layers.

        Returns
        -------
        ndarray of float64
            Flat copy.
        """
        return np.concatenate([a.ravel() for _, a in self._blocks(layers)])

    def unflatten(self, theta, layers=("W", "V"), name="theta"):
        """Split a flat vector into a dict of arrays shaped like the parameters."""
        theta = as_float_array(theta, name, ndim=1)
        expect = self.num_parameters(layers)
        if theta.shape[0] != expect:
            raise ValueError(f"{name} has length {theta.shape[0]}, expected {expect} "
                             f"for layers {check_layers(layers)}")
        out, i = {}, 0
        for key, a in self._blocks(layers):
            out[key] = theta[i:i + a.size].reshape(a.shape)
            i += a.size
        return out

    def with_parameters(self, theta, layers=("W", "V")):
        """Return a new net whose ``layers`` take the values in flat ``theta``."""
        parts = self.unflatten(theta, layers)
        return self.replace(**parts)

    def replace(self, **arrays):
        """Return a copy with some of ``W, V, b1, b2, activation`` replaced."""
        kw = dict(W=self.W, V=self.V, activation=self.activation, b1=self.b1, b2=self.b2)
        unknown = set(arrays) - set(kw)
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}; use W, V, b1, b2 or activation")
        kw.update(arrays)
        return ShallowNet(kw["W"], kw["V"], kw["activation"], kw["b1"], kw["b2"],
                          omega1=self.omega1, omega2=self.omega2)

    def copy(self):
        """Return an independent copy."""
        return self.replace()

    # -- persistence ------------------------------------------------------------
    def save(self, path):
        """Save weights, biases, activation name and init scales to ``.npz``.

        Parameters
        ----------
        path : str or os.PathLike
            Destination file; ``.npz`` is appended when the name lacks it
            (as :func:`numpy.savez` does).  An existing file of that name is
            replaced; a directory is refused.

        Returns
        -------
        str
            The path actually written (with the ``.npz`` suffix).

        Raises
        ------
        ValueError
            If ``path`` (or ``path + ".npz"``) is a directory, its folder
            does not exist, or the file cannot be written.

        Notes
        -----
        The file is written to a temporary name in the same folder and
        renamed into place, so an interrupted save leaves no truncated
        file under ``path``.

        Examples
        --------
        >>> import os, tempfile
        >>> net = ShallowNet.init(3, 5, seed=0)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     written = net.save(os.path.join(tmp, "net"))
        ...     os.path.basename(written), ShallowNet.load(written) == net
        ('net.npz', True)
        """
        try:
            path = os.fspath(path)
        except TypeError:
            raise ValueError("path must be a str or os.PathLike, "
                             f"got {type(path).__name__}") from None
        if os.path.isdir(path):
            raise ValueError(f"path {path!r} is a directory; give a file name such as "
                             f"{os.path.join(path, 'net.npz')!r}")
        real = path if path.endswith(".npz") else path + ".npz"
        if os.path.isdir(real):
            raise ValueError(f"path {path!r} would be saved as {real!r}, which is a directory")
        folder = os.path.dirname(os.path.abspath(real))
        if not os.path.isdir(folder):
            raise ValueError(f"path {path!r}: folder {folder!r} does not exist")
        meta = dict(activation=self.activation.name, omega1=self.omega1, omega2=self.omega2,
                    format="pl_toolkit.ShallowNet/1")
        arrays = dict(W=self.W, V=self.V, meta=np.array(json.dumps(meta)))
        if self.b1 is not None:
            arrays["b1"] = self.b1
        if self.b2 is not None:
            arrays["b2"] = self.b2
        import tempfile

        try:
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
        except OSError as exc:
            raise ValueError(f"path {path!r} cannot be written: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, real)
        except OSError as exc:
            raise ValueError(f"path {path!r} cannot be written: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return real

    @classmethod
    def load(cls, path):
        """Load a net written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            An ``.npz`` file with arrays ``W``, ``V`` and optionally ``b1``,
            ``b2`` and ``meta`` (``.npz`` is appended when the name given
            does not exist but the suffixed one does).

        Returns
        -------
        ShallowNet
            The stored network.

        Raises
        ------
        ValueError
            Naming the file and the problem: it is missing or a directory;
            it is not a zip archive (empty, truncated, corrupt); an entry
            is damaged or its header claims more data than it holds; ``W``
            or ``V`` is missing; an entry has a non-numeric dtype; ``meta``
            is not valid; or the arrays do not form a net.  Nothing is
            unpickled and no array larger than its stored bytes is
            allocated.

        Examples
        --------
        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     p = os.path.join(tmp, "empty.npz")
        ...     open(p, "wb").close()
        ...     try:
        ...         ShallowNet.load(p)
        ...     except ValueError as exc:
        ...         print(str(exc).replace(p, "empty.npz"))
        path 'empty.npz' is not an .npz archive (File is not a zip file)
        """
        import zipfile

        try:
            path = os.fspath(path)
        except TypeError:
            raise ValueError("path must be a str or os.PathLike, "
                             f"got {type(path).__name__}") from None
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path = path + ".npz"  # np.savez appends the suffix; accept the name given to save
        if not os.path.exists(path):
            raise ValueError(f"path {path!r} does not exist")
        if os.path.isdir(path):
            raise ValueError(f"path {path!r} is a directory, not an .npz file")
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"path {path!r} is not an .npz archive ({exc})") from None
        with zf:
            names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
            missing = [k for k in ("W", "V") if k not in names]
            if missing:
                raise ValueError(f"path {path!r} has no array{'s' if len(missing) > 1 else ''} "
                                 f"{' and '.join(map(repr, missing))} (found {sorted(names)})")
            arrays = {k: _read_npz_entry(zf, k, path)
                      for k in ("W", "V", "b1", "b2", "meta") if k in names}
        meta = {}
        if "meta" in arrays:
            try:
                meta = json.loads(str(arrays["meta"]))
            except (ValueError, TypeError):
                meta = None
            if not isinstance(meta, dict):
                raise ValueError(f"path {path!r}: entry 'meta' is not the JSON object "
                                 "save() writes")
        try:
            return cls(arrays["W"], arrays["V"], meta.get("activation", "gelu"),
                       arrays.get("b1"), arrays.get("b2"),
                       omega1=meta.get("omega1"), omega2=meta.get("omega2"))
        except ValueError as exc:
            raise ValueError(f"path {path!r}: {exc}") from None

    def __eq__(self, other):
        if not isinstance(other, ShallowNet):
            return NotImplemented

        def same(a, b):
            return ((a is None and b is None)
                    or (a is not None and b is not None and np.array_equal(a, b)))

        return (self.activation.name == other.activation.name and same(self.W, other.W)
                and same(self.V, other.V) and same(self.b1, other.b1) and same(self.b2, other.b2))

    __hash__ = None
