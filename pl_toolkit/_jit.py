"""The one place where numba is configured.

Every compiled kernel of pl_toolkit is decorated with :func:`jit` from this
module; no other module writes a numba decorator by hand.  The options are
fixed here so that they are visible in one place:

* ``cache=True``: compiled code is written next to the source (or to
  ``NUMBA_CACHE_DIR``) so a second process starts warm.
* ``fastmath=False``: smallest eigenvalues of nearly singular Gram matrices
  are sensitive to re-association, so no fast-math flag is ever set.
* ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead
  of raising inside a kernel.
* ``parallel`` is only switched on for kernels whose ``prange`` runs over
  independent rows, so serial and parallel results are bitwise equal.
"""

import numba

__all__ = ["jit", "scalar_kernel", "prange", "parallel_kernels_enabled", "serial_and_parallel",
           "use_parallel", "PARALLEL_MIN_ELEMENTS"]

prange = numba.prange

_BASE_OPTIONS = dict(fastmath=False, error_model="numpy", nogil=True)


def jit(signature=None, *, parallel=False, cache=True):
    """Return a numba ``njit`` decorator with the house options.

    Parameters
    ----------
    signature : str or numba signature, optional
        Eager signature for hot kernels; lazily compiled when omitted.
    parallel : bool, default False
        Compile with ``parallel=True`` (only for row-independent loops).
    cache : bool, default True
        Write the compiled code to the numba cache.  Closures over
        user-supplied functions must pass ``cache=False``.

    Returns
    -------
    callable
        The decorator.
    """
    opts = dict(_BASE_OPTIONS, parallel=parallel, cache=cache)
    if signature is None:
        return numba.njit(**opts)
    return numba.njit(signature, **opts)


def parallel_kernels_enabled():
    """Tell whether numba compiles at all (False under ``NUMBA_DISABLE_JIT``)."""
    return not numba.config.DISABLE_JIT


def serial_and_parallel(py_func, *, cache=True):
    """Compile ``py_func`` twice: serially and with ``parallel=True``.

    ``prange`` is a plain ``range`` in the serial build, so both builds run
    the same arithmetic per row and agree bitwise when ``prange`` runs over
    independent rows.  Each build gets its own ``__qualname__`` so that the
    two never share a numba cache entry (the cache index is keyed by
    qualified name, not by the ``parallel`` flag).

    Parameters
    ----------
    py_func : function
        Kernel written with ``prange`` over independent rows.
    cache : bool, default True
        Passed to :func:`jit`.

    Returns
    -------
    dict
        ``{False: serial_dispatcher, True: parallel_dispatcher}``.
    """
    import types

    out = {}
    for parallel in (False, True):
        f = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__,
                               py_func.__defaults__, py_func.__closure__)
        f.__qualname__ = py_func.__qualname__ + ("_parallel" if parallel else "_serial")
        f.__module__ = py_func.__module__
        f.__doc__ = py_func.__doc__
        out[parallel] = jit(parallel=parallel, cache=cache)(f)
    return out


#: Below this many elements a parallel launch costs more than it saves:
#: after a parallel region numba's OpenMP workers spin and collide with the
#: BLAS threads of the next product, a fixed penalty per call that exceeds
#: the whole serial call on small arrays.  The measurements that set the
#: cut-off (and show the serial build still ahead just above it on 2 cores,
#: so 2**20 is conservative for machines with more cores) are in
#: docs/threads.rst; benchmarks/bench_serial_cutoff.py repeats them.  Serial
#: and parallel builds agree bitwise, so the switch never changes a result.
PARALLEL_MIN_ELEMENTS = 1 << 20


def use_parallel(parallel, size):
    """Pick the parallel build only when asked for and worth it for ``size`` elements."""
    return bool(parallel) and size >= PARALLEL_MIN_ELEMENTS


def scalar_kernel(py_func):
    """Compile a scalar ``float -> float`` kernel with the house options (cached).

    ``@scalar_kernel`` is ``jit()`` applied to ``py_func``; a named decorator
    keeps modules free of hand-written numba decorators.

    Parameters
    ----------
    py_func : function
        Scalar kernel written in the numba subset of Python.

    Returns
    -------
    numba dispatcher
        The compiled kernel.
    """
    return jit()(py_func)
