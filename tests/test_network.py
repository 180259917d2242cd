"""ShallowNet: initialization statistics, seeding, forward pass, flat
parameters and persistence."""

import io
import math
import re
import zipfile

import numpy as np
import pytest

from _tolerances import monte_carlo_tol, tol
from test_activations import numpy_funcs_broadcast

from pl_toolkit import ShallowNet, get_activation

D0, D1, D2 = 40, 300, 4

#: Variances (omega1^2, omega2^2) of each named rule (LeCun 1/fan-in, He 2/fan-in).
EXPECTED_VARIANCES = {
    "lecun": (1 / D0, 1 / D1),
    "he": (2 / D0, 2 / D1),
    "xavier": (2 / (D0 + D1), 2 / (D1 + D2)),
}


# --------------------------------------------------------------------------
# Initialization
# --------------------------------------------------------------------------
@pytest.mark.parametrize("init", ["lecun", "he", "xavier", (0.3, 1.7)])
def test_init_variances(init):
    net = ShallowNet.init(D0, D1, D2, init=init, seed=11)
    if isinstance(init, tuple):
        omega1, omega2 = init
    else:
        omega1, omega2 = (math.sqrt(v) for v in EXPECTED_VARIANCES[init])
    np.testing.assert_allclose([net.omega1, net.omega2], [omega1, omega2], **tol("same_math"))
    assert net.W.shape == (D1, D0) and net.V.shape == (D2, D1)
    assert (net.d0, net.d1, net.d2) == (D0, D1, D2)
    for A, omega in ((net.W, omega1), (net.V, omega2)):
        N = A.size
        # Sample std of N(0, omega^2): standard error omega / sqrt(2N);
        # sample mean: standard error omega / sqrt(N).
        assert abs(A.std() - omega) <= monte_carlo_tol(2 * N, scale=omega)
        assert abs(A.mean()) <= monte_carlo_tol(N, scale=omega)
    assert net.b1 is None and net.b2 is None and not net.has_bias


def test_init_case_insensitive_and_defaults():
    net = ShallowNet.init(5, 8)
    assert net.d2 == 1 and net.activation is get_activation("gelu")
    np.testing.assert_allclose(net.omega1, math.sqrt(1 / 5), **tol("same_math"))
    assert ShallowNet.init(5, 8, init="HE") == ShallowNet.init(5, 8, init="he")


def test_init_seeding():
    a = ShallowNet.init(6, 10, 2, seed=3)
    b = ShallowNet.init(6, 10, 2, seed=3)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.V, b.V)
    assert a == b
    c = ShallowNet.init(6, 10, 2, seed=4)
    assert not np.array_equal(a.W, c.W)
    # SeedSequence accepted; an int seed is the entropy of a SeedSequence.
    s1 = ShallowNet.init(6, 10, 2, seed=np.random.SeedSequence(3))
    assert s1 == a
    children = np.random.SeedSequence(99).spawn(2)
    k0 = ShallowNet.init(6, 10, 2, seed=children[0])
    k1 = ShallowNet.init(6, 10, 2, seed=children[1])
    assert not np.array_equal(k0.W, k1.W)
    assert ShallowNet.init(6, 10, 2, seed=np.random.SeedSequence(99).spawn(2)[0]) == k0
    # The draw is W then V from one default_rng stream.
    rng = np.random.default_rng(np.random.SeedSequence(3))
    W = rng.standard_normal((10, 6)) * a.omega1
    V = rng.standard_normal((2, 10)) * a.omega2
    np.testing.assert_array_equal(a.W, W)
    np.testing.assert_array_equal(a.V, V)


def test_init_bias_zero():
    net = ShallowNet.init(3, 5, 2, bias=True)
    assert net.has_bias
    np.testing.assert_array_equal(net.b1, np.zeros(5))
    np.testing.assert_array_equal(net.b2, np.zeros(2))


# --------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gelu", "tanh", "relu", "softplus"])
@pytest.mark.parametrize("bias", [False, True])
def test_forward_against_loops(rng, name, bias):
    d0, d1, d2, n = 3, 5, 2, 4
    W, V = rng.standard_normal((d1, d0)), rng.standard_normal((d2, d1))
    b1 = rng.standard_normal(d1) if bias else None
    b2 = rng.standard_normal(d2) if bias else None
    net = ShallowNet(W, V, name, b1, b2)
    X = rng.standard_normal((n, d0))
    phi = numpy_funcs_broadcast(name)[0]
    expected = np.zeros((n, d2))
    for a in range(n):
        for p in range(d2):
            s = 0.0
            for r in range(d1):
                z = sum(W[r, k] * X[a, k] for k in range(d0)) + (b1[r] if bias else 0.0)
                s += V[p, r] * float(phi(np.array(z)))
            expected[a, p] = s + (b2[p] if bias else 0.0)
    out = net.forward(X)
    assert out.shape == (n, d2)
    np.testing.assert_allclose(out, expected, **tol("same_math"))
    np.testing.assert_array_equal(net(X), out)
    np.testing.assert_array_equal(net.forward(X.tolist()), out)
    Z = net.preactivations(X)
    np.testing.assert_allclose(Z, X @ W.T + (b1 if bias else 0.0), **tol("same_math"))
    np.testing.assert_allclose(net.features(X), phi(Z), **tol("kernel_vs_reference"))


def test_vector_V_means_one_output(rng):
    W, v = rng.standard_normal((4, 2)), rng.standard_normal(4)
    net = ShallowNet(W, v, "tanh")
    assert net.d2 == 1 and net.V.shape == (1, 4)
    X = rng.standard_normal((3, 2))
    np.testing.assert_allclose(net.forward(X)[:, 0], np.tanh(X @ W.T) @ v, **tol("same_math"))


def test_weights_are_copied_and_read_only(rng):
    W, V = rng.standard_normal((4, 2)), rng.standard_normal((1, 4))
    net = ShallowNet(W, V)
    W[0, 0] += 1.0
    assert net.W[0, 0] != W[0, 0]
    with pytest.raises(ValueError):
        net.W[0, 0] = 0.0
    c = net.copy()
    assert c == net and c is not net and c.W is not net.W


def test_explicit_weights_have_no_omega(rng):
    net = ShallowNet(rng.standard_normal((4, 2)), rng.standard_normal((1, 4)))
    assert net.omega1 is None and net.omega2 is None


# --------------------------------------------------------------------------
# Flat parameters
# --------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
def test_parameter_order_and_round_trip(rng, bias):
    d0, d1, d2 = 3, 4, 2
    W, V = rng.standard_normal((d1, d0)), rng.standard_normal((d2, d1))
    b1 = rng.standard_normal(d1) if bias else None
    b2 = rng.standard_normal(d2) if bias else None
    net = ShallowNet(W, V, "tanh", b1, b2)
    wpart = [W.ravel()] + ([b1] if bias else [])
    vpart = [V.ravel()] + ([b2] if bias else [])
    np.testing.assert_array_equal(net.parameters(), np.concatenate(wpart + vpart))
    np.testing.assert_array_equal(net.parameters(("W",)), np.concatenate(wpart))
    np.testing.assert_array_equal(net.parameters(("V",)), np.concatenate(vpart))
    P = d1 * d0 + d2 * d1 + (d1 + d2 if bias else 0)
    assert net.num_parameters() == P
    assert net.with_parameters(net.parameters()) == net

    theta = rng.standard_normal(P)
    new = net.with_parameters(theta)
    np.testing.assert_array_equal(new.W, theta[:d1 * d0].reshape(d1, d0))
    i = d1 * d0
    if bias:
        np.testing.assert_array_equal(new.b1, theta[i:i + d1])
        i += d1
    np.testing.assert_array_equal(new.V, theta[i:i + d2 * d1].reshape(d2, d1))
    if bias:
        np.testing.assert_array_equal(new.b2, theta[i + d2 * d1:])
    assert net.parameters()[0] == W[0, 0]  # the original net is unchanged

    only_v = net.with_parameters(theta[:net.num_parameters(("V",))], ("V",))
    np.testing.assert_array_equal(only_v.W, W)
    assert not np.array_equal(only_v.V, V)


# --------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("d2", [1, 3])
def test_save_load_round_trip(tmp_path, rng, bias, d2):
    net = ShallowNet.init(4, 6, d2, activation="silu", init="xavier", seed=5, bias=bias)
    if bias:  # nonzero biases, so that they must really be stored
        net = net.replace(b1=rng.standard_normal(6), b2=rng.standard_normal(d2))
    path = tmp_path / "net.npz"
    net.save(path)
    back = ShallowNet.load(path)
    assert back == net
    for attr in ("W", "V", "b1", "b2"):
        a, b = getattr(net, attr), getattr(back, attr)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
    assert back.activation is get_activation("silu")
    assert (back.omega1, back.omega2) == (net.omega1, net.omega2)
    X = rng.standard_normal((3, 4))
    np.testing.assert_array_equal(back.forward(X), net.forward(X))


@pytest.mark.parametrize("which", ["b1", "b2"])
def test_save_load_one_bias(tmp_path, rng, which):
    net = ShallowNet(rng.standard_normal((3, 2)), rng.standard_normal((2, 3)), "erf",
                     **{which: rng.standard_normal(3 if which == "b1" else 2)})
    net.save(tmp_path / "one.npz")
    back = ShallowNet.load(tmp_path / "one.npz")
    assert back == net
    assert (back.b1 is None) == (which == "b2") and (back.b2 is None) == (which == "b1")


def test_save_load_explicit_weights(tmp_path, rng):
    net = ShallowNet(rng.standard_normal((3, 2)), rng.standard_normal(3), "relu")
    net.save(str(tmp_path / "explicit.npz"))
    back = ShallowNet.load(str(tmp_path / "explicit.npz"))
    assert back == net and back.omega1 is None and back.activation.name == "relu"


def test_load_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        ShallowNet.load(tmp_path / "nope.npz")


def test_load_bad_files(tmp_path):
    p = tmp_path / "noW.npz"
    np.savez(p, V=np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"^path '.*noW\.npz' has no array 'W' \(found \['V'\]\)$"):
        ShallowNet.load(p)
    q = tmp_path / "garbage.npz"
    q.write_text("not an npz file")
    with pytest.raises(ValueError, match=r"^path '.*garbage\.npz' is not an \.npz archive "
                                         r"\(File is not a zip file\)$"):
        ShallowNet.load(q)


def test_save_returns_the_real_path(tmp_path):
    net = ShallowNet.init(3, 4, seed=0)
    written = net.save(tmp_path / "plain")
    assert written == str(tmp_path / "plain.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.npz"]
    assert net.save(tmp_path / "x.npz") == str(tmp_path / "x.npz")
    assert ShallowNet.load(tmp_path / "plain") == net


def test_save_refuses_a_directory(tmp_path):
    """save(DIR) used to write DIR.npz beside the directory."""
    net = ShallowNet.init(3, 4, seed=0)
    d = tmp_path / "out"
    d.mkdir()
    with pytest.raises(ValueError, match=r"^path '.*out' is a directory; give a file name"):
        net.save(d)
    (tmp_path / "dir.npz").mkdir()
    with pytest.raises(ValueError, match=r"which is a directory"):
        net.save(tmp_path / "dir")
    with pytest.raises(ValueError, match=r"folder '.*missing' does not exist"):
        net.save(tmp_path / "missing" / "net.npz")
    with pytest.raises(ValueError, match=r"^path must be a str"):
        net.save(3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "out"]   # nothing written
    assert list(d.iterdir()) == []
    with pytest.raises(ValueError, match=r"is a directory, not an \.npz file"):
        ShallowNet.load(d)


def _npz_bytes(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _huge_header_npz():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10 ** 12, 10)})
        z.writestr("W.npy", hdr.getvalue() + bytes(64))
        z.writestr("V.npy", hdr.getvalue())
    return buf.getvalue()


def _bad_files():
    good = _npz_bytes(W=np.ones((2, 3)), V=np.ones((1, 2)))
    flip = bytearray(good)
    flip[120] ^= 0xFF                                   # inside W.npy's data: CRC mismatch
    return {
        "empty": (b"", r"is not an \.npz archive"),
        "truncated": (good[: len(good) // 2], r"is not an \.npz archive"),
        "garbage": (b"not an npz file" * 10, r"is not an \.npz archive"),
        "npy_not_npz": (_npy_bytes(np.ones(3)), r"is not an \.npz archive"),
        "bit_flip": (bytes(flip), r"entry 'W': cannot be read \(BadZipFile"),
        "huge_header": (_huge_header_npz(),
                        r"entry 'W': claims shape \(1000000000000, 10\) .* truncated or corrupt"),
        "no_W": (_npz_bytes(V=np.ones((1, 2))), r"has no array 'W' \(found \['V'\]\)"),
        "no_W_V": (_npz_bytes(b1=np.ones(2)), r"has no arrays 'W' and 'V'"),
        "object": (_npz_bytes(W=np.array([[1, None]], dtype=object), V=np.ones((1, 2))),
                   r"entry 'W': has dtype object"),
        "strings": (_npz_bytes(W=np.array([["a", "b"]]), V=np.ones((1, 2))),
                    r"entry 'W': has dtype <U1"),
        "bad_meta": (_npz_bytes(W=np.ones((2, 2)), V=np.ones((1, 2)), meta=np.array("{oops")),
                     r"entry 'meta' is not the JSON object"),
        "meta_list": (_npz_bytes(W=np.ones((2, 2)), V=np.ones((1, 2)), meta=np.array("[1]")),
                      r"entry 'meta' is not the JSON object"),
        "bad_shapes": (_npz_bytes(W=np.ones((2, 2)), V=np.ones((1, 3))), r": V has shape \(1, 3\)"),
        "nan_weights": (_npz_bytes(W=np.full((2, 2), np.nan), V=np.ones((1, 2))),
                        r": W contains NaN"),
        "bad_activation": (_npz_bytes(W=np.ones((2, 2)), V=np.ones((1, 2)),
                                      meta=np.array('{"activation": "nope"}')),
                           r": activation 'nope' is unknown"),
    }


@pytest.mark.parametrize("case", list(_bad_files()))
def test_load_bad_file_names_file_and_problem(tmp_path, case):
    """Corrupt, truncated, empty, lying headers (MemoryError before), missing keys:
    one ValueError naming the file, never BadZipFile/EOFError/MemoryError/KeyError."""
    content, match = _bad_files()[case]
    p = tmp_path / f"{case}.npz"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=r"^path '.*" + case + r"\.npz'") as info:
        ShallowNet.load(p)
    assert re.search(match, str(info.value)), str(info.value)


# --------------------------------------------------------------------------
# Loading PyTorch-style state dicts (arrays stand in for tensors)
# --------------------------------------------------------------------------
def test_from_state_dict_matches_a_pytorch_forward_pass(rng):
    """Linear(d0, d1) -> GELU -> Linear(d1, d2) with biases, as in the paper's code:
    PyTorch computes x W1^T + b1 then phi then ... W2^T + b2."""
    d0, d1, d2 = 5, 7, 3
    sd = {"fc1.weight": rng.standard_normal((d1, d0)), "fc1.bias": rng.standard_normal(d1),
          "fc2.weight": rng.standard_normal((d2, d1)), "fc2.bias": rng.standard_normal(d2)}
    net = ShallowNet.from_state_dict(sd, "gelu")
    X = rng.standard_normal((4, d0))
    Z = X @ sd["fc1.weight"].T + sd["fc1.bias"]
    H = Z * 0.5 * (1.0 + np.vectorize(math.erf)(Z / math.sqrt(2.0)))
    expected = H @ sd["fc2.weight"].T + sd["fc2.bias"]
    np.testing.assert_allclose(net.forward(X), expected, **tol("same_math"))


def test_from_state_dict_without_bias_and_bad_dicts(rng):
    sd = {"0.weight": rng.standard_normal((4, 2)), "2.weight": rng.standard_normal((1, 4))}
    net = ShallowNet.from_state_dict(sd, "tanh")
    assert net.b1 is None and net.b2 is None and net.d1 == 4
    with pytest.raises(ValueError, match="two Linear layers"):
        ShallowNet.from_state_dict({"0.weight": np.ones((2, 2))})
    with pytest.raises(ValueError, match="do not chain"):
        ShallowNet.from_state_dict({"a.weight": np.ones((3, 2)), "b.weight": np.ones((1, 4))})
    with pytest.raises(ValueError, match="zero or two biases"):
        ShallowNet.from_state_dict({"a.weight": np.ones((3, 2)), "a.bias": np.ones(3),
                                    "b.weight": np.ones((1, 3))})
    with pytest.raises(ValueError, match="mapping"):
        ShallowNet.from_state_dict([1, 2])
