"""Output folders and files: a command never overwrites a file it did not write.

pl_toolkit.experiments._common.claim_output_dir / record_outputs guard the
folders of run, sweep, init-scale and ledger --out; safe_output_file guards
single files (ntk --save).  A refusal is a one-line ValueError naming the
argument, and leaves the folder exactly as it was.
"""

import json
import os
from pathlib import Path

import pytest

import _engine_cells as cells_mod
from pl_toolkit import __version__
from pl_toolkit.experiments._engine import DATABASE_NAME, ENGINE_FILES, run_sweep
from pl_toolkit.experiments._common import (
    MARKER_NAME, claim_output_dir, output_file, record_outputs, safe_output_file,
)

SWEEP_FILES = ("sweep.json", "sweep.md", "sweep_thresholds.png")


def _snapshot(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): (None if p.is_dir() or p.is_symlink() else p.read_bytes())
            for p in sorted(folder.rglob("*"))}


def _marker(folder):
    return json.loads((Path(folder) / MARKER_NAME).read_text())


def _refused(match, call, folder, arg="--out"):
    before = _snapshot(folder) if Path(folder).exists() else None
    with pytest.raises(ValueError, match=match) as info:
        call()
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{arg} "), text
    if before is not None:
        assert _snapshot(folder) == before  # a refusal changes nothing
    return text


def _write(folder, name, text):
    path = Path(folder) / name
    path.write_text(text)
    return path


def _claim(folder, files=SWEEP_FILES, **kwargs):
    kwargs.setdefault("tool", "sweep")
    return claim_output_dir(folder, files=files, **kwargs)


# ---------------------------------------------------------------------------
# claim_output_dir


def test_missing_folder_is_created_and_marked(tmp_path):
    out = tmp_path / "a" / "b"
    assert _claim(out) == str(out)
    marker = _marker(out)
    assert marker["written_by"] == "pl-toolkit output folder" and marker["version"] == __version__
    assert marker["claims"] == {name: "sweep" for name in SWEEP_FILES}
    assert marker["files"] == {} and marker["managed"] == {}
    assert os.listdir(out) == [MARKER_NAME]


def test_empty_folder_is_accepted(tmp_path):
    _claim(tmp_path)
    assert os.listdir(tmp_path) == [MARKER_NAME]


def test_foreign_non_empty_folder_is_refused(tmp_path):
    _write(tmp_path, "thesis.tex", "mine")
    text = _refused("is not empty and was not written by pl-toolkit", lambda: _claim(tmp_path),
                    tmp_path)
    assert "pass --overwrite or choose another folder" in text and str(tmp_path) in text
    # overwrite=True: allowed, and the user's file is untouched.
    _claim(tmp_path, overwrite=True)
    assert (tmp_path / "thesis.tex").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == [MARKER_NAME, "thesis.tex"]


@pytest.mark.parametrize("name", SWEEP_FILES)
def test_foreign_file_of_our_name_is_refused_without_overwrite(tmp_path, name):
    # The folder is ours (marker of an earlier run), the file is not.
    out = _claim(tmp_path, files=["report.md"], tool="run")
    _write(out, "report.md", "ours")
    record_outputs(out, ["report.md"])
    _write(out, name, "the user's own")
    text = _refused(f"holds {name}, which pl-toolkit did not write", lambda: _claim(out), out)
    assert "pass --overwrite to replace it" in text
    _claim(out, overwrite=True)
    assert (Path(out) / name).read_text() == "the user's own"  # claiming writes nothing


def test_our_recorded_files_may_be_rewritten_and_stay_ours(tmp_path):
    out = _claim(tmp_path)
    for name in ("sweep.json", "sweep.md"):
        _write(out, name, f"{name} v1")
    record_outputs(out, [os.path.join(out, "sweep.json"), "sweep.md"])
    entry = _marker(out)["files"]["sweep.json"]
    assert entry["size"] == len("sweep.json v1") and len(entry["sha256"]) == 64
    _claim(out)  # ours and unchanged: allowed
    _write(out, "sweep.json", "sweep.json v2, longer")
    record_outputs(out, {"json": os.path.join(out, "sweep.json")})
    _claim(out)
    assert _marker(out)["files"]["sweep.json"]["size"] == len("sweep.json v2, longer")


def test_a_file_edited_after_we_wrote_it_is_refused(tmp_path):
    out = _claim(tmp_path)
    path = _write(out, "sweep.md", "# ours")
    record_outputs(out, ["sweep.md"])
    stat = path.stat()
    # Same size, other content, a later time.
    path.write_text("# mine")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _refused("holds sweep.md, changed since pl-toolkit wrote it", lambda: _claim(out), out)
    _claim(out, overwrite=True)


def test_touched_but_identical_file_is_still_ours(tmp_path):
    out = _claim(tmp_path)
    path = _write(out, "sweep.md", "# ours")
    record_outputs(out, ["sweep.md"])
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    _claim(out)  # the content hash decides when the time differs


def test_claimed_but_unrecorded_file_is_not_ours(tmp_path):
    # Written, then the process died before recording it: indistinguishable
    # from a file the user put there after the claim.
    out = _claim(tmp_path)
    _write(out, "sweep.json", "unrecorded")
    _refused("holds sweep.json, which pl-toolkit did not write \\(or did not finish writing\\)",
             lambda: _claim(out), out)


def test_claim_of_an_unwritten_name_gives_it_no_ownership(tmp_path):
    # A claimed optional output (a plot the command skipped) that the user
    # creates later is the user's.
    out = _claim(tmp_path)
    _claim(out)
    _write(out, "sweep_thresholds.png", "the user's")
    _refused("holds sweep_thresholds.png, which pl-toolkit did not write",
             lambda: _claim(out), out)


def test_output_file_is_atomic_and_recorded(tmp_path):
    out = _claim(tmp_path)
    with output_file(out, "sweep.json") as tmp:
        assert tmp.endswith(".json") and os.path.dirname(tmp) == out
        Path(tmp).write_text("v1")
    assert (Path(out) / "sweep.json").read_text() == "v1"
    assert _marker(out)["files"]["sweep.json"]["size"] == 2
    with pytest.raises(ZeroDivisionError):
        with output_file(out, "sweep.json") as tmp:
            Path(tmp).write_text("half-written v2")
            1 / 0
    assert (Path(out) / "sweep.json").read_text() == "v1"  # the old file stays
    assert sorted(os.listdir(out)) == [MARKER_NAME, "sweep.json"]  # no temporary left
    _claim(out)
    with pytest.raises(RuntimeError, match="without being claimed"):
        with output_file(out, "other.txt"):
            pass
    with pytest.raises(RuntimeError, match="nothing was written"):
        with output_file(out, "sweep.md") as tmp:
            os.unlink(tmp)


def test_output_file_keeps_numpy_suffixes(tmp_path):
    np = pytest.importorskip("numpy")
    out = _claim(tmp_path, files=["data.npz", "K.npy"], tool="run")
    with output_file(out, "data.npz") as tmp:
        np.savez(tmp, x=np.arange(3))
    with output_file(out, "K.npy") as tmp:
        np.save(tmp, np.eye(2))
    assert sorted(os.listdir(out)) == [MARKER_NAME, "K.npy", "data.npz"]
    assert np.load(Path(out) / "data.npz")["x"].tolist() == [0, 1, 2]
    _claim(out, files=["data.npz", "K.npy"], tool="run")


def test_patterns_claim_every_matching_name(tmp_path):
    out = _claim(tmp_path, files=["report.md", "*.png"], tool="run")
    _write(out, "loss.png", "ours")
    record_outputs(out, ["loss.png"])
    assert _marker(out)["files"]["loss.png"]["tool"] == "run"
    _claim(out, files=["report.md", "*.png"], tool="run")
    _write(out, "holiday.png", "mine")
    _refused("holds holiday.png, which pl-toolkit did not write",
             lambda: _claim(out, files=["report.md", "*.png"], tool="run"), out)


@pytest.mark.parametrize("kind", ["symlink", "folder"])
def test_link_or_folder_under_our_name_is_refused_even_with_overwrite(tmp_path, kind):
    out = _claim(tmp_path / "out")
    target = _write(tmp_path, "elsewhere.md", "mine")
    if kind == "symlink":
        os.symlink(target, Path(out) / "sweep.md")
    else:
        (Path(out) / "sweep.md").mkdir()
    for overwrite in (False, True):
        _refused("where pl-toolkit writes a file",
                 lambda: _claim(out, overwrite=overwrite), out)
    assert target.read_text() == "mine"


def test_path_that_is_a_file_or_cannot_be_made(tmp_path):
    _write(tmp_path, "file", "mine")
    _refused("exists and is not a folder", lambda: _claim(tmp_path / "file"), tmp_path)
    _refused("cannot create the folder", lambda: _claim(tmp_path / "file" / "sub"), tmp_path)
    assert (tmp_path / "file").read_text() == "mine"


def test_unreadable_marker_is_refused_unless_overwrite(tmp_path):
    _write(tmp_path, MARKER_NAME, "{not json")
    _refused(f"holds {MARKER_NAME} that pl-toolkit cannot read", lambda: _claim(tmp_path),
             tmp_path)
    _write(tmp_path, MARKER_NAME, json.dumps({"files": {}}))  # JSON, but not our marker
    _refused("cannot read", lambda: _claim(tmp_path), tmp_path)
    _claim(tmp_path, overwrite=True)
    assert sorted(_marker(tmp_path)["claims"]) == sorted(SWEEP_FILES)


def test_argument_names_in_messages(tmp_path):
    _write(tmp_path, "x", "mine")
    text = _refused("not empty", lambda: _claim(tmp_path, arg="outdir", flag="overwrite=True"),
                    tmp_path, arg="outdir")
    assert "pass overwrite=True" in text


@pytest.mark.parametrize("files", [["a/b.md"], [".."], [""], [MARKER_NAME]])
def test_bad_file_names_are_refused(tmp_path, files):
    with pytest.raises(ValueError, match="plain file names"):
        _claim(tmp_path, files=files)


# ---------------------------------------------------------------------------
# with the sweep engine


def test_engine_files_are_claimed_and_a_sweep_runs_in_the_folder(tmp_path):
    out = _claim(tmp_path / "out", engine=True)
    assert _marker(out)["managed"] == {n: "sweep" for n in ENGINE_FILES}
    run_sweep(cells_mod.draw, [{"n": 2}], out, name="t", workers=1, progress=False)
    _claim(out, engine=True, resume=True)  # the database and lock file are the engine's
    _write(out, "sweep.json", "ours")
    record_outputs(out, ["sweep.json"])
    with pytest.raises(RuntimeError, match="without being claimed"):
        record_outputs(out, [DATABASE_NAME])


def test_sweep_folder_from_before_markers_resumes(tmp_path):
    out = tmp_path / "old"
    run_sweep(cells_mod.draw, [{"n": 2}], out, name="t", workers=1, progress=False)
    assert MARKER_NAME not in os.listdir(out)
    _refused("not empty and was not written", lambda: _claim(out, engine=True), out)
    _write(out, "sweep.md", "an old report, or the user's")
    _refused("holds sweep.md, which pl-toolkit did not write",
             lambda: _claim(out, engine=True, resume=True), out)
    (out / "sweep.md").unlink()
    _claim(out, engine=True, resume=True)
    assert MARKER_NAME in os.listdir(out)


def test_foreign_database_is_not_adopted(tmp_path):
    (tmp_path / DATABASE_NAME).write_bytes(b"SQLite format 3\x00" + bytes(200))
    _refused("not empty and was not written",
             lambda: _claim(tmp_path, engine=True, resume=True), tmp_path)


# ---------------------------------------------------------------------------
# record_outputs


def test_record_refuses_what_was_not_claimed(tmp_path):
    out = _claim(tmp_path / "out")
    _write(out, "other.txt", "x")
    with pytest.raises(RuntimeError, match="without being claimed"):
        record_outputs(out, ["other.txt"])
    with pytest.raises(RuntimeError, match="not a written file"):
        record_outputs(out, ["sweep.md"])
    elsewhere = _write(tmp_path, "sweep.json", "x")
    with pytest.raises(RuntimeError, match="not inside the output folder"):
        record_outputs(out, [elsewhere])
    with pytest.raises(RuntimeError, match="was not claimed"):
        record_outputs(tmp_path / "nowhere", ["sweep.md"])


# ---------------------------------------------------------------------------
# safe_output_file


def test_safe_output_file_adds_the_suffix_and_returns_the_real_path(tmp_path):
    assert safe_output_file(tmp_path / "K", suffix=".npy") == str(tmp_path / "K.npy")
    assert safe_output_file(tmp_path / "K.npy", suffix=".npy") == str(tmp_path / "K.npy")
    assert safe_output_file(tmp_path / "K.bin") == str(tmp_path / "K.bin")


def test_safe_output_file_refuses_folders_links_and_existing_files(tmp_path):
    def refused(match, path, **kw):
        with pytest.raises(ValueError, match=match) as info:
            safe_output_file(path, suffix=".npy", **kw)
        assert str(info.value).startswith("--save ") and "\n" not in str(info.value)

    refused("is a folder; give a file name", tmp_path)
    refused("is a folder", str(tmp_path / "new") + os.sep)
    (tmp_path / "K.npy").mkdir()
    refused("'.*K.npy' is a folder", tmp_path / "K")
    refused("does not exist", tmp_path / "missing" / "K")
    _write(tmp_path, "mine.npy", "the user's")
    refused("exists; pass --overwrite", tmp_path / "mine")
    assert safe_output_file(tmp_path / "mine", suffix=".npy", overwrite=True) \
        == str(tmp_path / "mine.npy")
    os.symlink(tmp_path / "mine.npy", tmp_path / "link.npy")
    refused("symbolic link", tmp_path / "link", overwrite=True)
    assert (tmp_path / "mine.npy").read_text() == "the user's"


# ---------------------------------------------------------------------------
# sweep_output_dir


def test_sweep_output_dir_holds_the_lock_for_the_whole_block(tmp_path):
    import threading

    from pl_toolkit.experiments._engine import SweepBusyError, sweep_lock
    from pl_toolkit.experiments._common import sweep_output_dir

    seen = []

    def second():
        try:
            with sweep_lock(tmp_path / "out"):
                seen.append("ran")
        except SweepBusyError as exc:
            seen.append(str(exc))

    with sweep_output_dir(tmp_path / "out", tool="sweep", files=SWEEP_FILES) as out:
        run_sweep(cells_mod.draw, [{"n": 2}], out, name="t", workers=1, progress=False)
        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
        with output_file(out, "sweep.md") as tmp:
            Path(tmp).write_text("# report")
    assert len(seen) == 1 and "is in use by process" in seen[0]
    with sweep_output_dir(out, tool="sweep", files=SWEEP_FILES, resume=True):
        pass  # ours, and released
    _write(tmp_path, "mine.txt", "x")
    with pytest.raises(ValueError, match="not empty and was not written"):
        with sweep_output_dir(tmp_path, tool="sweep", files=SWEEP_FILES):
            pass


def test_common_args_have_overwrite():
    import argparse

    from pl_toolkit.experiments._common import add_common_args

    parser = argparse.ArgumentParser()
    add_common_args(parser, "out")
    assert parser.parse_args([]).overwrite is False
    assert parser.parse_args(["--overwrite"]).overwrite is True
