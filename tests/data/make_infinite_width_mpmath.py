"""Regenerate ``infinite_width_mpmath.json``: bivariate Gaussian expectations by mpmath.

The stored values are the two-dimensional integrals

    E[f(u) f(v)],   u = sa z1,   v = sb (rho z1 + sqrt(1 - rho^2) z2),

with ``z1, z2`` independent standard normal, computed by ``mpmath.quad`` on
the definition (no Hermite series, no closed form) for ``f = phi`` and
``f = phi'`` of the activations in ``ACTIVATIONS`` at the points in
``POINTS``.  For ``X`` with rows ``x_a, x_b`` and first-layer scale
``omega1`` they are the infinite-width kernel entries (paper, Section 2)

    Sigma_ab = E[phi(u) phi(v)],   dSigma_ab = E[phi'(u) phi'(v)],

with ``sa = omega1 |x_a|``, ``sb = omega1 |x_b|``, ``rho = cos(x_a, x_b)``.
``tests/test_infinite_width.py`` compares the kernels against the file and,
in a slow test, recomputes some entries with :func:`bivariate` below.

Run from the repository root::

    python tests/data/make_infinite_width_mpmath.py

It takes a few minutes (each integral is a 2-D tanh-sinh quadrature at
``DPS`` digits).
"""

import json
import pathlib

import mpmath

#: Working digits of the quadrature; the tests compare at 1e-12.
DPS = 20
#: ``(sa, sb, rho)``: the first is the pair of ``test_series_against_mpmath``
#: (norms 1.3 and 0.7, cosine 0.6); the second has a negative cosine.
POINTS = ((1.3, 0.7, 0.6), (0.9, 1.1, -0.35))
#: Activation name -> (phi, phi'), in mpmath.
ACTIVATIONS = {
    "tanh": (mpmath.tanh, lambda x: 1 / mpmath.cosh(x) ** 2),
    "gelu": (lambda x: x * mpmath.ncdf(x), lambda x: mpmath.ncdf(x) + x * mpmath.npdf(x)),
}
#: The stored file, beside this script.
OUT = pathlib.Path(__file__).with_name("infinite_width_mpmath.json")


def bivariate(f, sa, sb, rho, dps=DPS):
    """``(value, error estimate)`` of ``E[f(u) f(v)]`` by 2-D mpmath quadrature.

    Parameters
    ----------
    f : callable
        Function of one mpmath number.
    sa, sb : float
        Standard deviations of ``u`` and ``v``.
    rho : float
        Correlation of ``u`` and ``v``, in ``(-1, 1)``.
    dps : int, default DPS
        Working decimal digits.

    Returns
    -------
    value, error : mpmath.mpf
        The integral and mpmath's estimate of its quadrature error.
    """
    with mpmath.workdps(dps):
        sa, sb, rho = mpmath.mpf(sa), mpmath.mpf(sb), mpmath.mpf(rho)
        tau = mpmath.sqrt(1 - rho ** 2)

        def g(z1, z2):
            return f(sa * z1) * f(sb * (rho * z1 + tau * z2)) * mpmath.npdf(z1) * mpmath.npdf(z2)

        pts = [-mpmath.inf, -4, 0, 4, mpmath.inf]
        return mpmath.quad(g, pts, pts, error=True)


def entries():
    """The stored records: one per activation, function (phi, dphi) and point."""
    out = []
    for name, fs in ACTIVATIONS.items():
        for which, f in zip(("phi", "dphi"), fs):
            for sa, sb, rho in POINTS:
                value, err = bivariate(f, sa, sb, rho)
                out.append(dict(activation=name, function=which, sa=sa, sb=sb, rho=rho,
                                value=mpmath.nstr(value, DPS), quad_error=mpmath.nstr(err, 3)))
    return out


def main():
    """Compute every entry and write ``OUT``."""
    doc = dict(
        what="E[f(u) f(v)], u = sa z1, v = sb (rho z1 + sqrt(1 - rho^2) z2), z standard "
             "normal, f = phi or phi' (function 'phi' / 'dphi'), by 2-D mpmath.quad of the "
             "definition",
        command="python tests/data/make_infinite_width_mpmath.py",
        mpmath_version=mpmath.__version__, dps=DPS, entries=entries())
    OUT.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
