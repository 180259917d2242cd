"""The empirical Lemma 1 radius against an independent route (explicit Jacobians)."""

import numpy as np
import pytest

from pl_toolkit import ShallowNet, lemma3_constants
from pl_toolkit._reference import jacobian
from pl_toolkit.locality import lemma1_radius


def _data(seed=0, n=6, d0=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d0))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.standard_normal((n, 1)) / n


def _ok_explicit(net, X, theta, mu, nu):
    s = np.linalg.svd(np.asarray(jacobian(net.with_parameters(theta), X)), compute_uv=False)
    return bool(s[X.shape[0] - 1] >= mu / 2 and s[0] <= 1.5 * nu)


@pytest.fixture(scope="module")
def setup():
    X, Y = _data()
    net = ShallowNet.init(3, 40, seed=0)
    c = lemma3_constants(net, X)
    return net, X, Y, c


def test_direction_boundary_matches_explicit_jacobians(setup):
    net, X, _, c = setup
    res = lemma1_radius(net, X, mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi, directions=3, seed=7)
    rng = np.random.default_rng(np.random.SeedSequence(7))
    theta0 = net.parameters()
    for d in res.directions:
        u = rng.standard_normal(theta0.size)
        u /= np.linalg.norm(u)
        assert not d["censored"]
        r = d["radius"]
        assert _ok_explicit(net, X, theta0 + r * u, c.mu_Phi, c.nu_Phi)
        fails = [e[0] for e in d["evaluations"] if not e[3]]
        r_fail = min(f for f in fails if f > r)
        assert r_fail <= r / (1 - 0.02) * (1 + 1e-12)         # bisected to rtol = 0.02
        assert not _ok_explicit(net, X, theta0 + r_fail * u, c.mu_Phi, c.nu_Phi)
        for rr, smin, smax, ok in d["evaluations"]:
            assert ok == (smin >= c.mu_Phi / 2 and smax <= 1.5 * c.nu_Phi)
    hits = [d["radius"] for d in res.directions]
    assert res.radius == min(hits) and not res.censored
    assert res.radius_ratio == res.radius / c.rho_Phi


def test_path_first_failure_matches_a_step_by_step_walk(setup):
    """Any iteration map works as the path; a straight walk makes the truth exact."""
    net, X, _, c = setup
    rng = np.random.default_rng(3)
    u = rng.standard_normal(net.num_parameters())
    u *= 2 * c.rho_Phi / np.linalg.norm(u)
    step = lambda theta: theta + u  # noqa: E731
    thetas = [net.parameters()]
    for _ in range(4000):
        thetas.append(step(thetas[-1]))
    walk = [_ok_explicit(net, X, th, c.mu_Phi, c.nu_Phi) for th in thetas[::50]]
    assert not all(walk), "the walk never leaves the region; lengthen it"
    j = walk.index(False)
    coarse = [_ok_explicit(net, X, thetas[t], c.mu_Phi, c.nu_Phi)
              for t in range(50 * (j - 1), 50 * j + 1)]
    first = 50 * (j - 1) + coarse.index(False)
    stored = [(t, thetas[t]) for t in range(250, 4001, 250)]
    res = lemma1_radius(net, X, mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi, directions=0,
                        path=stored, path_step=step)
    assert res.path["step"] == first
    assert not res.censored
    d_prev = np.linalg.norm(thetas[first - 1] - thetas[0])
    d_fail = np.linalg.norm(thetas[first] - thetas[0])
    assert d_prev - 1e-9 <= res.radius <= d_fail + 1e-9


def test_censored_when_no_violation_is_found(setup):
    net, X, _, c = setup
    res = lemma1_radius(net, X, mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi, directions=2,
                        r_cap=c.rho_Phi)
    assert res.censored and res.radius == c.rho_Phi
    assert all(d["censored"] for d in res.directions)


@pytest.mark.parametrize("kw, match", [(dict(mu=0.0), "mu"), (dict(rho=float("nan")), "rho"),
                                       (dict(directions=-1), "directions")])
def test_bad_arguments_are_refused(setup, kw, match):
    net, X, _, c = setup
    args = dict(mu=c.mu_Phi, nu=c.nu_Phi, rho=c.rho_Phi)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        lemma1_radius(net, X, **args)
