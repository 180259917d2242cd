"""Every flag of every ``pl-toolkit`` command, and every key of a config file, fed malformed
values: exit 2, one line on stderr naming the flag or key, no traceback, nothing written.

The flags are read from the argparse parsers, so a new flag is fuzzed without touching this
file.  The entry points that start real work are replaced by a function that raises
``_Reached``: a case that gets there was accepted, which is a failure unless the value is
listed in ``ACCEPTED`` as valid.  The default suite fuzzes each flag with a few values; the
``slow`` variant with all of them.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
from dataclasses import fields

import pytest

from pl_toolkit import cli

VALUES = ["", "nan", "inf", "-1", "0", "1e400", "10**12", "abc", "1,,2", "9" * 40, "-9" * 20]
FAST_VALUES = ["", "nan", "1e400", "abc", "9" * 40]

#: Values that are valid for a flag (accepted cases must be listed here).
PATHS = set(VALUES) - {""}
ACCEPTED = {
    "--out": PATHS,                      # any non-empty folder name
    "--save": PATHS,
    "--dask-scheduler": PATHS,           # an address, checked when connecting
    "--data-seed": {"0", "9" * 40},      # seeds: any integer >= 0
    "--seed": {"0", "9" * 40},
    "--root-seed": {"0", "9" * 40},
    "--label-columns": {"0"},
    "--lemma1-directions": {"0"},
    "--lr-halvings": {"0"},
    "--check-above": {"0"},
    "--check-below": {"0"},
    "--budget-widths": {"0"},
    "--rel-tol": {"0"},
    "--lr": {"9" * 40},                  # a huge but finite step: diverges, a result
    "--lr-paper": {"9" * 40},
    "--omega2-grid": {"9" * 40},         # a finite positive omega2
}

#: (command, flag, value) cases known to fail, each with its reason (xfail strict); none now.
KNOWN = {}


class _Reached(BaseException):
    """The command got past validation to real work."""


def _reached(*args, **kwargs):
    raise _Reached


def _import_all():
    # Modules that bind the patched functions by name at import (``from .ntk import
    # ntk_gram``) must be imported before the patch, or they would keep the stand-in.
    import importlib
    import pkgutil

    import pl_toolkit

    for mod in pkgutil.walk_packages(pl_toolkit.__path__, "pl_toolkit."):
        if mod.name != "pl_toolkit.__main__":
            importlib.import_module(mod.name)


@pytest.fixture
def heavy(monkeypatch):
    """Stop every command at its first side effect or its first expensive step."""
    _import_all()
    import pl_toolkit.experiments.init_scale as init_scale
    import pl_toolkit.experiments.ledger as ledger
    import pl_toolkit.experiments.run as run
    import pl_toolkit.experiments.sweep as sweep
    import pl_toolkit.ntk as ntk
    import pl_toolkit.ntk_stats as ntk_stats
    import pl_toolkit.training as training

    monkeypatch.setattr(run, "claim_output_dir", _reached)    # run: the folder is claimed
    monkeypatch.setattr(training, "train", _reached)           # ledger: the measurement
    monkeypatch.setattr(ledger, "data_quantities", _reached)
    monkeypatch.setattr(ntk, "ntk_gram", _reached)             # ntk: the Gram or its trace
    monkeypatch.setattr(ntk_stats, "ntk_trace", _reached)
    monkeypatch.setattr(sweep, "_owned", _reached)             # after the API's validation
    monkeypatch.setattr(init_scale, "_owned", _reached)


def _subparsers():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def _value_flags():
    """(command, flag) for every option that takes a value, read from the parsers."""
    out = []
    for name, p in _subparsers().items():
        for a in p._actions:
            long = [s for s in a.option_strings if s.startswith("--")]
            if long and a.nargs != 0 and not isinstance(a, argparse._HelpAction):
                out.append((name, long[0]))
    return out


FLAGS = _value_flags()

#: Extra arguments that keep a command cheap up to the point the fuzzed flag is checked.
BASE = {"ntk": ["--no-spectrum", "--n", "20", "--d1", "8"]}


def _tree(root):
    """Every path under ``root`` with the SHA-256 of its content (None for folders)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root)] = None
        for f in files:
            with open(os.path.join(folder, f), "rb") as fh:
                out[os.path.relpath(os.path.join(folder, f), root)] = \
                    hashlib.sha256(fh.read()).hexdigest()
    return out


def _call(argv):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = cli.main(argv)
        except _Reached:
            code = "reached"
    return code, err.getvalue()


def _check(tmp_path, monkeypatch, argv, names, accepted=False):
    """Run ``argv`` in a folder holding a user's files; check the refusal."""
    monkeypatch.chdir(tmp_path)
    user = tmp_path / "mine"
    user.mkdir(exist_ok=True)
    (user / "report.md").write_text("# my notes\n")
    before = _tree(tmp_path)
    code, err = _call(argv)
    if code == "reached":
        assert accepted, f"{argv} was accepted (reached real work)"
        return
    if accepted:   # a valid value: refused, if at all, for the user's folder, untouched
        assert code in (0, 2) and _tree(tmp_path) == before, (argv, code, err)
        return
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (argv, code, err)
    assert len(lines) == 1, (argv, err)
    assert "Traceback" not in err
    assert any(n in lines[0] for n in names), (argv, lines[0])
    assert _tree(tmp_path) == before, f"{argv} changed the folder"


def _cases(values):
    out = []
    for cmd, flag in FLAGS:
        for v in values:
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN[(cmd, flag, v)])] \
                if (cmd, flag, v) in KNOWN else []
            out.append(pytest.param(cmd, flag, v, marks=marks, id=f"{cmd} {flag} {v!r}"))
    return out


def _run_case(tmp_path, monkeypatch, cmd, flag, value):
    argv = [cmd] + [a for a in BASE.get(cmd, []) if a != flag] + [flag, value]
    if flag in BASE.get(cmd, []):   # drop the base value of the fuzzed flag
        i = BASE[cmd].index(flag)
        argv = [cmd] + BASE[cmd][:i] + BASE[cmd][i + 2:] + [flag, value]
    if flag != "--out" and any(f == "--out" for c, f in FLAGS if c == cmd):
        argv += ["--out", str(tmp_path / "mine")]   # a user's folder: must stay as it was
    _check(tmp_path, monkeypatch, argv, [flag], accepted=value in ACCEPTED.get(flag, ()))


@pytest.mark.parametrize("cmd, flag, value", _cases(FAST_VALUES))
def test_flag_fuzz(tmp_path, monkeypatch, heavy, cmd, flag, value):
    _run_case(tmp_path, monkeypatch, cmd, flag, value)


@pytest.mark.slow
@pytest.mark.parametrize("cmd, flag, value",
                         _cases([v for v in VALUES if v not in FAST_VALUES]))
def test_flag_fuzz_exhaustive(tmp_path, monkeypatch, heavy, cmd, flag, value):
    _run_case(tmp_path, monkeypatch, cmd, flag, value)


def test_every_command_is_fuzzed():
    """The flag list comes from the parsers: every command and its value flags are there."""
    names = {spec.name for spec in cli.COMMANDS}
    assert names == set(_subparsers()) == {c for c, _ in FLAGS}
    assert {"run", "ntk", "ledger", "sweep", "init-scale"} <= names
    assert ("sweep", "--n-grid") in FLAGS and ("run", "--track-every") in FLAGS


# --------------------------------------------------------------------------
# config files of ``pl-toolkit run``
# --------------------------------------------------------------------------
def _config_fields():
    from pl_toolkit.experiments.run import RunConfig

    return [f.name for f in fields(RunConfig)]


#: Values of the wrong type for every key (a table is never a setting).
WRONG = [{"a": 1}, [1, [2]], "abc", -1, 1e308 * 10]
#: Valid values among WRONG, per key.
CONFIG_ACCEPTED = {"out": {"abc"}, "data_seed": set(), "seed": set()}


def _config_cases():
    out = []
    for key in _config_fields():
        for i, v in enumerate(WRONG):
            if isinstance(v, str) and v in CONFIG_ACCEPTED.get(key, ()):
                continue
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN[("config", key, i)])] \
                if ("config", key, i) in KNOWN else []
            out.append(pytest.param(key, v, "json" if i % 2 else "toml", marks=marks,
                                    id=f"{key}={v!r}"))
    return out


def _toml(key, value):
    if isinstance(value, dict):
        return f"[{key}]\na = 1\n"
    if isinstance(value, float) and value != value or value in (float("inf"),):
        return f"{key} = inf\n"
    return f"{key} = {json.dumps(value)}\n"


@pytest.mark.parametrize("key, value, fmt", _config_cases())
def test_config_wrong_types(tmp_path, monkeypatch, heavy, key, value, fmt):
    path = tmp_path / f"job.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps({key: value}))
    else:
        path.write_text(_toml(key, value))
    _check(tmp_path, monkeypatch, ["run", "--config", str(path)], [repr(key), key])


@pytest.mark.parametrize("fmt", ["json", "toml"])
def test_config_unknown_key(tmp_path, monkeypatch, heavy, fmt):
    path = tmp_path / f"job.{fmt}"
    path.write_text(json.dumps({"stepz": 5}) if fmt == "json" else "stepz = 5\n")
    _check(tmp_path, monkeypatch, ["run", "--config", str(path)], ["stepz"])


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", "\x00\xff"])
def test_config_unreadable(tmp_path, monkeypatch, heavy, text):
    path = tmp_path / "job.json"
    path.write_bytes(text.encode("latin-1"))
    _check(tmp_path, monkeypatch, ["run", "--config", str(path)], [str(path)])
