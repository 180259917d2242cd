"""The public surface of pl_toolkit, SciPy-style.

A module whose dotted name has no component starting with ``_`` looks
public; each such module must be listed in ``PUBLIC_MODULES``, so a new one
is added deliberately (or renamed with a leading underscore).
"""

import ast
import inspect
import os
import pathlib
import pkgutil
import subprocess
import sys

import pytest

import pl_toolkit

#: Modules meant to be public.  Add a name here only on purpose.
PUBLIC_MODULES = {
    "pl_toolkit",
    # foundation
    "pl_toolkit.activations",
    "pl_toolkit.network",
    "pl_toolkit.ntk",
    # analysis modules
    "pl_toolkit.spectrum",
    "pl_toolkit.certified",
    "pl_toolkit.ntk_spectrum",
    "pl_toolkit.ntk_certified",
    "pl_toolkit.ntk_distributed",
    "pl_toolkit.hermite",
    "pl_toolkit.infinite_width",
    "pl_toolkit.khatri_rao",
    "pl_toolkit.constants",
    "pl_toolkit.convergence",
    "pl_toolkit.locality",
    "pl_toolkit.hessian",
    "pl_toolkit.training",
    "pl_toolkit.trajectory",
    "pl_toolkit.step_size",
    "pl_toolkit.formulas",
    "pl_toolkit.ntk_stats",
    "pl_toolkit.data",
    # command line (setup.cfg console script pl_toolkit.cli:main)
    "pl_toolkit.cli",
    "pl_toolkit.__main__",
    # experiments behind the command line
    "pl_toolkit.experiments",
    "pl_toolkit.experiments.run",
    "pl_toolkit.experiments.ledger",
    "pl_toolkit.experiments.sweep",
    "pl_toolkit.experiments.init_scale",
}

#: numba entry points that compile; only pl_toolkit/_jit.py may use them.
NUMBA_DECORATORS = {"njit", "jit", "vectorize", "guvectorize", "cfunc", "stencil",
                    "generated_jit", "jit_module"}

PACKAGE_DIR = pathlib.Path(pl_toolkit.__file__).parent


def _walk_modules():
    names = ["pl_toolkit"]
    for info in pkgutil.walk_packages(pl_toolkit.__path__, prefix="pl_toolkit."):
        names.append(info.name)
    return names


def _looks_public(name):
    return not any(part.startswith("_") for part in name.split("."))


def test_no_unintended_public_modules():
    public = {name for name in _walk_modules() if _looks_public(name)}
    unexpected = public - PUBLIC_MODULES
    assert not unexpected, (f"modules {sorted(unexpected)} look public; add them to "
                            "PUBLIC_MODULES on purpose or prefix them with '_'")


def test_foundation_modules_exist():
    found = set(_walk_modules())
    assert {"pl_toolkit.activations", "pl_toolkit.network", "pl_toolkit.ntk",
            "pl_toolkit._jit", "pl_toolkit._validation", "pl_toolkit._reference"} <= found


def test_all_names_exist_and_are_documented():
    names = pl_toolkit.__all__
    assert len(names) == len(set(names)), "duplicate names in pl_toolkit.__all__"
    assert isinstance(pl_toolkit.__version__, str) and pl_toolkit.__version__
    undocumented = []
    for name in names:
        assert hasattr(pl_toolkit, name), f"pl_toolkit.__all__ lists missing name {name!r}"
        if name == "__version__":
            continue
        obj = getattr(pl_toolkit, name)
        doc = obj.__doc__ if (inspect.isclass(obj) or callable(obj)) else inspect.getdoc(obj)
        if not doc or not doc.strip():
            undocumented.append(name)
    assert not undocumented, f"public names without a docstring: {undocumented}"


@pytest.mark.parametrize("name", ["Activation", "available_activations", "get_activation",
                                  "register_activation", "ShallowNet", "NTKBlocks",
                                  "NTKOperator", "gradient", "jvp", "loss", "ntk_gram",
                                  "ntk_operator", "residual", "vjp"])
def test_foundation_names_exported(name):
    assert name in pl_toolkit.__all__


def test_public_modules_documented():
    import importlib

    for name in sorted(n for n in _walk_modules() if _looks_public(n)):
        mod = importlib.import_module(name)
        assert mod.__doc__ and mod.__doc__.strip(), f"module {name} has no docstring"
        for attr in getattr(mod, "__all__", []):
            assert hasattr(mod, attr), f"{name}.__all__ lists missing name {attr!r}"


def test_import_does_not_import_sympy():
    code = "import sys, pl_toolkit; assert 'sympy' not in sys.modules, 'sympy imported'"
    root = PACKAGE_DIR.parent
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _numba_decorator_uses(path):
    """Nodes of ``path`` that reach a numba compiling decorator directly."""
    tree = ast.parse(path.read_text(), filename=str(path))
    numba_names = {"numba"}  # names bound to the numba module (import numba as nb)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numba" or alias.name.startswith("numba."):
                    numba_names.add(alias.asname or "numba")
        elif isinstance(node, ast.ImportFrom) and node.module and \
                (node.module == "numba" or node.module.startswith("numba.")):
            for alias in node.names:
                if alias.name in NUMBA_DECORATORS or alias.name == "*":
                    hits.append(f"{path.name}:{node.lineno}: from {node.module} import "
                                f"{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in NUMBA_DECORATORS:
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in numba_names:
                hits.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    return hits


def test_only_jit_module_writes_numba_decorators():
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert any(p.name == "_jit.py" for p in files)
    offenders = []
    for path in files:
        if path.name == "_jit.py" and path.parent == PACKAGE_DIR:
            assert _numba_decorator_uses(path), "_jit.py should be where numba.njit is called"
            continue
        offenders += _numba_decorator_uses(path)
    assert not offenders, ("numba decorators outside pl_toolkit/_jit.py (use "
                           f"pl_toolkit._jit.jit): {offenders}")


def test_decorator_scan_detects_hand_written_njit(tmp_path):
    # The scanner itself must catch the forms it is meant to catch.
    cases = {
        "a.py": "import numba\n@numba.njit\ndef f(x):\n    return x\n",
        "b.py": "from numba import njit\n",
        "c.py": "import numba as nb\ng = nb.jit(nopython=True)(abs)\n",
        "d.py": "import numba\nk = numba.np.ufunc.vectorize\n",
    }
    for fname, src in cases.items():
        p = tmp_path / fname
        p.write_text(src)
        assert _numba_decorator_uses(p), fname
    ok = tmp_path / "ok.py"
    ok.write_text('"""Callable from ``@numba.njit`` code."""\nimport numba\n'
                  "D = numba.core.registry.CPUDispatcher\nfrom ._jit import jit\n@jit()\n"
                  "def f(x):\n    return x\n")
    assert not _numba_decorator_uses(ok)
