"""Every public object has a numpydoc docstring with an example.

The public objects are the classes and functions named in ``__all__`` of
``pl_toolkit``, ``pl_toolkit.experiments``, ``pl_toolkit.data`` and every
public ``derivations`` submodule. Each one must carry a docstring with a
summary, ``Parameters`` (functions that take parameters), ``Returns``
(functions) and ``Examples`` sections, in numpydoc order; numpydoc's own
validator (when installed) must report none of a focused set of errors.
The examples themselves run as doctests in the default suite.
"""

import importlib
import inspect
import pkgutil
import re

import pytest

import derivations
import pl_toolkit

# numpydoc section order (numpydoc format guide, "Sections").
SECTION_ORDER = (
    "Parameters",
    "Attributes",
    "Returns",
    "Yields",
    "Receives",
    "Other Parameters",
    "Raises",
    "Warns",
    "Warnings",
    "See Also",
    "Notes",
    "References",
    "Examples",
)

# numpydoc validation codes that must never fire on a public object:
# GL08 no docstring, SS01 no summary, PR01 parameter not documented,
# PR02 documented parameter that does not exist, RT01 no Returns section,
# EX01 no Examples section, GL06 unknown section, GL07 sections out of order.
FOCUSED_CODES = ("GL08", "SS01", "PR01", "PR02", "RT01", "EX01", "GL06", "GL07")


def _modules():
    mods = [
        pl_toolkit,
        importlib.import_module("pl_toolkit.experiments"),
        importlib.import_module("pl_toolkit.data"),
    ]
    for info in pkgutil.iter_modules(derivations.__path__):
        if not info.name.startswith("_"):
            mods.append(importlib.import_module("derivations." + info.name))
    return mods


def _public_objects():
    seen = {}
    for mod in _modules():
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                qual = f"{obj.__module__}.{obj.__qualname__}"
                seen.setdefault(qual, (f"{mod.__name__}.{name}", obj))
    return sorted(seen.values(), key=lambda item: item[0])


PUBLIC = _public_objects()
IDS = [name for name, _ in PUBLIC]


def _sections(doc):
    """Names of the numpydoc sections of ``doc`` in order of appearance."""
    lines = doc.splitlines()
    found = []
    for head, rule in zip(lines, lines[1:]):
        if head.strip() in SECTION_ORDER and re.fullmatch(r"\s*-{3,}\s*", rule):
            found.append(head.strip())
    return found


def _documented_names(doc, section):
    """Names listed in a ``Parameters``/``Attributes``-style section of ``doc``."""
    lines = doc.splitlines()
    names = set()
    inside = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() in SECTION_ORDER and re.fullmatch(r"\s*-{3,}\s*", nxt):
            inside = line.strip() == section
            continue
        if inside and line and not line[0].isspace() and not line.startswith("---"):
            head = line.split(" : ", 1)[0]
            names.update(part.strip().lstrip("*") for part in head.split(","))
    return names


def _takes_parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - builtins only
        return False
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    return bool(params)


def test_public_objects_found():
    names = {name.rsplit(".", 1)[-1] for name in IDS}
    # A handful of names that must be public; guards against an empty parametrisation.
    for expected in ("ShallowNet", "ntk_gram", "run_experiment", "Dataset", "Ledger"):
        assert expected in names
    assert len(PUBLIC) > 40


@pytest.mark.parametrize("name,obj", PUBLIC, ids=IDS)
def test_docstring_sections(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    summary = doc.strip().splitlines()[0].strip()
    assert summary and not summary.endswith("-"), f"{name} has no one-line summary"
    sections = _sections(doc)
    assert "Examples" in sections, f"{name} has no Examples section"
    assert ">>>" in doc.split("Examples", 1)[1], f"{name} Examples has no doctest"
    if inspect.isfunction(obj):
        assert "Returns" in sections or "Yields" in sections, f"{name} has no Returns section"
    if inspect.isfunction(obj) and _takes_parameters(obj):
        assert "Parameters" in sections, f"{name} has no Parameters section"
    if inspect.isclass(obj) and _takes_parameters(obj):
        # Record classes (dataclasses, named tuples) document their fields
        # under Attributes; other classes their constructor under Parameters.
        documented = _documented_names(doc, "Parameters") | _documented_names(doc, "Attributes")
        wanted = {
            p for p in inspect.signature(obj).parameters
            if not p.startswith("_") and p not in ("self", "cls", "args", "kwargs")
        }
        missing = wanted - documented
        assert not missing, f"{name} does not document {sorted(missing)}"
    assert len(sections) == len(set(sections)), f"{name} repeats a section: {sections}"
    order = [SECTION_ORDER.index(s) for s in sections]
    assert order == sorted(order), f"{name} sections out of numpydoc order: {sections}"


@pytest.mark.parametrize("name,obj", PUBLIC, ids=IDS)
def test_numpydoc_validation(name, obj):
    validate = pytest.importorskip("numpydoc.validate").validate
    qual = f"{obj.__module__}.{obj.__qualname__}"
    result = validate(qual)
    errors = [(code, msg) for code, msg in result["errors"] if code in FOCUSED_CODES]
    if inspect.isclass(obj):
        # numpydoc looks for constructor arguments under Parameters only; the
        # field check of test_docstring_sections also accepts Attributes.
        errors = [(code, msg) for code, msg in errors if code != "PR01"]
    assert not errors, f"{name}: " + "; ".join(f"{c} {m}" for c, m in errors)
