"""The figures of run, sweep and init-scale: formats, dpi, labels, references, bars, legends.

Every figure the command line writes is checked for the house rules:

* written as PNG (at the requested dpi), SVG or PDF;
* every axes has an x and a y label;
* no two lines with the same data carry different labels (coinciding
  reference lines are drawn once, under a combined label);
* error bars stay inside the range of their quantity (above 0 on log
  axes, inside [0, 1] for accuracies, below the update budget);
* no legend covers a plotted point or a data curve (window extents of the
  legend against the display coordinates of every artist).

The sweep and init-scale figures are drawn from the stored reports of
``docs/data``; the run figures from a tiny run.
"""

import json
import pathlib
import re
import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import numpy as np
import pytest

from pl_toolkit import Trajectory
from pl_toolkit.cli import main
from pl_toolkit.experiments import _plots as pl
from pl_toolkit.experiments import init_scale as isc
from pl_toolkit.experiments import sweep as sw
from pl_toolkit.experiments.run import RunConfig
from pl_toolkit.locality import Lemma1Radius

from _tolerances import tol

DATA = pathlib.Path(__file__).resolve().parents[1] / "docs" / "data"
TINY_RUN = ["--n", "24", "--d1", "40", "--steps", "12", "--track-every", "4",
            "--lemma1-directions", "1", "--no-progress", "--quiet"]


def _stored(name):
    return json.loads((DATA / name).read_text())


# --------------------------------------------------------------------------
# the house rules, checked on a finished figure
# --------------------------------------------------------------------------
def _along(xy):
    """The vertices of a polyline and points every 2 px along its segments."""
    xy = xy[np.isfinite(xy).all(axis=1)]
    out = [xy]
    for p, q in zip(xy[:-1], xy[1:]):
        k = int(np.ceil(np.hypot(*(q - p)) / 2.0)) + 1
        out.append(p + np.linspace(0.0, 1.0, k)[:, None] * (q - p))
    return np.vstack(out)


def _display(line):
    return line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))


def _display_points(ax, line):
    """Display coordinates of a line's vertices, and along its segments if it has any."""
    xy = _display(line)
    if line.get_linestyle() in ("None", "none", "", " ") or len(xy) < 2:
        return xy[np.isfinite(xy).all(axis=1)]
    return _along(xy)


def _spans_axes(ax, line):
    in_x, in_y = line.get_transform().contains_branch_seperately(ax.transData)
    return not (in_x and in_y)


def assert_legends_free(fig):
    """No legend box holds a data point or a point of a data curve (levels may cross)."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None:
            continue
        box = leg.get_window_extent(renderer)
        inside = ax.bbox

        def hits(xy):
            xy = xy[(xy[:, 0] >= inside.x0) & (xy[:, 0] <= inside.x1)
                    & (xy[:, 1] >= inside.y0) & (xy[:, 1] <= inside.y1)]
            return xy[(xy[:, 0] > box.x0) & (xy[:, 0] < box.x1)
                      & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)]

        for line in ax.get_lines():
            if not _spans_axes(ax, line):
                hit = hits(_display_points(ax, line))
                assert not len(hit), (ax.get_title(), line.get_label(), hit[:3])
        for cont in ax.containers:
            for coll in cont.lines[2]:
                for seg in coll.get_segments():
                    hit = hits(_along(coll.get_transform().transform(seg)))
                    assert not len(hit), (ax.get_title(), "an error bar under the legend")


def assert_house_rules(fig):
    for ax in fig.axes:
        assert ax.get_xlabel().strip(), f"axes {ax.get_title()!r} has no x label"
        assert ax.get_ylabel().strip(), f"axes {ax.get_title()!r} has no y label"
        labelled = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        for i, a in enumerate(labelled):
            for b in labelled[i + 1:]:
                da, db = _display(a), _display(b)     # display units: levels and curves alike
                same = da.shape == db.shape and np.allclose(da, db, equal_nan=True,
                                                            **tol("same_math"))
                assert not same, f"one line drawn as {a.get_label()!r} and {b.get_label()!r}"
        if ax.get_yscale() == "log":
            for cont in ax.containers:
                for coll in cont.lines[2]:
                    for seg in coll.get_segments():
                        assert np.all(seg[:, 1] > 0), (ax.get_title(), seg)
    assert_legends_free(fig)


def _bar_ends(ax):
    """``[(low, high)]`` of every error bar in ``ax``."""
    ends = []
    for cont in ax.containers:
        for coll in cont.lines[2]:
            ends += [(seg[:, 1].min(), seg[:, 1].max()) for seg in coll.get_segments()]
    return np.array(ends)


# --------------------------------------------------------------------------
# formats and dpi
# --------------------------------------------------------------------------
def _small_figure():
    fig, ax = pl.new_figure(size=(4.0, 3.0))
    ax.plot([1, 2, 3], [1, 4, 9], "o-", label="data")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    pl.place_legends(fig)
    return fig


@pytest.mark.parametrize("dpi", [72, pl.DPI, 200])
def test_png_has_the_requested_dpi(tmp_path, dpi):
    path = pl.save_figure(_small_figure(), tmp_path / "f.png", "png", dpi=dpi)
    img = mpimg.imread(path)
    assert img.shape[:2] == (round(3.0 * dpi), round(4.0 * dpi))
    from PIL import Image

    with Image.open(path) as im:
        np.testing.assert_allclose(im.info["dpi"], (dpi, dpi), rtol=1e-3)


def test_default_dpi_is_150(tmp_path):
    assert pl.DPI == 150 and pl.STYLE["savefig.dpi"] == 150
    img = mpimg.imread(pl.save_figure(_small_figure(), tmp_path / "f.png"))
    assert img.shape[:2] == (450, 600)


def test_vector_formats_are_vector_and_reproducible(tmp_path):
    svg = pl.save_figure(_small_figure(), tmp_path / "a.svg", "svg")
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg") and root.get("width") == "288pt" \
        and root.get("height") == "216pt"
    assert "<image" not in pathlib.Path(svg).read_text()     # nothing rasterized
    again = pl.save_figure(_small_figure(), tmp_path / "b.svg", "svg")
    assert pathlib.Path(svg).read_bytes() == pathlib.Path(again).read_bytes()
    pdf = pl.save_figure(_small_figure(), tmp_path / "a.pdf", "pdf")
    raw = pathlib.Path(pdf).read_bytes()
    assert raw.startswith(b"%PDF") and b"CreationDate" not in raw
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", raw)
    assert box is not None and (float(box.group(1)), float(box.group(2))) == (288.0, 216.0)
    again = pl.save_figure(_small_figure(), tmp_path / "b.pdf", "pdf")
    assert raw == pathlib.Path(again).read_bytes()


def test_bad_format_and_dpi_name_the_argument(tmp_path):
    with pytest.raises(ValueError, match="plot_format must be one of png, svg, pdf, got 'jpg'"):
        pl.save_figure(_small_figure(), tmp_path / "f.jpg", "jpg")
    with pytest.raises(ValueError, match="dpi must be a positive number"):
        pl.save_figure(_small_figure(), tmp_path / "f.png", dpi=0)
    with pytest.raises(ValueError, match="plot_format must be one of"):
        RunConfig(plot_format="eps")
    with pytest.raises(ValueError, match="plot_format must be one of"):
        isc.run_init_scale(tmp_path / "o", plot_format="gif", **INIT_TINY)
    assert not (tmp_path / "o").exists()
    assert pl.check_plot_format("PDF") == "pdf" and pl.plot_file("loss", "svg") == "loss.svg"


# --------------------------------------------------------------------------
# the building blocks: reference lines, error bars, legends
# --------------------------------------------------------------------------
def test_reference_lines_distinct_and_coinciding_drawn_once():
    fig, ax = pl.new_figure()
    x = np.geomspace(1, 100, 20)
    drawn = pl.reference_lines(ax, [("A", "slope 1.5", x ** 1.5), ("B", "slope 1.5", x ** 1.5),
                                    ("C", "", x / 3), ("D", "slope 2", x ** 2)], x)
    assert [d.get_label() for d in drawn] == ["A = B: slope 1.5", "C", "D: slope 2"]
    styles = {(str(d.get_color()), str(d.get_linestyle())) for d in drawn}
    assert len(styles) == 3
    # Levels: equal values merge, different ones keep distinct styles.
    levels = pl.reference_lines(ax, [("rho", "paper", 0.5), ("rho'", "follow-up", 0.5),
                                     ("beta", "", 2.0)], first=3)
    assert [d.get_label() for d in levels] == ["rho = rho': paper; follow-up", "beta"]
    assert len({(str(d.get_color()), str(d.get_linestyle())) for d in drawn + levels}) == 5
    with pytest.raises(ValueError, match="orientation must be"):
        pl.reference_lines(ax, [("a", "", 1.0)], orientation="diagonal")
    with pytest.raises(ValueError, match="a level takes one value"):
        pl.reference_lines(ax, [("a", "", [1.0, 2.0])])


def test_errorbar_clipped_to_the_valid_range():
    fig, (ax, ax_log) = pl.new_figure(1, 2)
    m, h = np.array([0.95, 0.5, 0.02]), np.array([0.1, 0.1, 0.05])
    bars = pl.errorbar(ax, [1, 2, 3], m, h, lower=0.0, upper=1.0, fmt="o")
    ends = _bar_ends(ax)
    np.testing.assert_allclose(ends, np.column_stack([np.clip(m - h, 0, 1), np.clip(m + h, 0, 1)]),
                               **tol("same_math"))
    assert bars is not None
    # Log axis: an interval reaching below 0 runs to half the smallest positive value drawn,
    # marked by a downward triangle; a missing mean (None) draws nothing, a missing or zero
    # half width no bar.
    ax_log.set_yscale("log")
    m2, h2 = [10.0, 2.0, None, 5.0], [1.0, 3.0, 1.0, None]
    pl.errorbar(ax_log, [1, 2, 3, 4], m2, h2, upper=10.5, fmt="s")
    ends = _bar_ends(ax_log)
    floor = 0.5 * 2.0
    np.testing.assert_allclose(ends, [[9.0, 10.5], [floor, 5.0]], **tol("same_math"))
    marks = [ln for ln in ax_log.get_lines() if ln.get_marker() == "v"]
    assert len(marks) == 1 and marks[0].get_xydata().tolist() == [[2.0, floor]]
    # Equal means without spread on a log axis beside a level at the same value: drawable
    # (the suite turns matplotlib's singular-limits warning into an error).
    fig2, ax2 = pl.new_figure()
    ax2.set_yscale("log")
    pl.errorbar(ax2, [1, 2], [10.0, 10.0], [0.0, 0.0])
    pl.reference_lines(ax2, [("budget", "", 10.0)])
    fig2.draw_without_rendering()
    assert _bar_ends(ax2).size == 0 and ax2.get_ylim()[0] < 10.0 < ax2.get_ylim()[1]
    with pytest.raises(ValueError, match="one length"):
        pl.errorbar(ax, [1, 2], [1.0], [0.1])
    assert pl.errorbar(ax_log, [1], [-1.0], [0.1]) is None


def test_legend_goes_where_no_data_is_or_outside():
    # Data in the upper half only: the legend goes to a lower corner.
    fig, ax = pl.new_figure()
    x, y = np.meshgrid(np.linspace(0, 1, 25), np.linspace(0.7, 1.2, 8))
    ax.plot(x.ravel(), y.ravel(), ".", label="upper band")
    ax.set_ylim(0, 1.2)
    assert pl.place_legends(fig) == {ax: "inside"}
    assert ax.get_legend().get_window_extent().y1 < ax.bbox.y0 + 0.6 * ax.bbox.height
    assert not pl.legend_overlaps(ax)
    assert_legends_free(fig)
    # Data everywhere: beside the axes.
    fig, ax = pl.new_figure()
    rng = np.random.default_rng(0)
    ax.plot(rng.uniform(size=400), rng.uniform(size=400), ".", label="noise")
    ax.plot([0, 1], [0, 1], label="diagonal")
    assert pl.place_legends(fig) == {ax: "outside"}
    assert ax.get_legend().get_window_extent().x0 >= ax.bbox.x1
    assert_legends_free(fig)


# --------------------------------------------------------------------------
# the run figures
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run_svg(tmp_path_factory):
    out = tmp_path_factory.mktemp("run_svg")
    assert main(["run", *TINY_RUN, "--plot-format", "svg", "--out", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text())


def test_run_writes_svg_on_request(run_svg):
    out, rep = run_svg
    names = sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".svg", ".pdf"))
    assert names == sorted(f"{r}.svg" for r in pl.RUN_PLOTS)
    for name in names:
        assert ET.parse(out / name).getroot().tag.endswith("svg")
    assert {rep["files"][r] for r in pl.RUN_PLOTS} == set(names)
    md = (out / "report.md").read_text()
    assert all(f"]({n})" in md for n in names)
    # The claim covers the SVG files: a second run into the folder is allowed.
    assert main(["run", *TINY_RUN, "--plot-format", "svg", "--out", str(out)]) == 0


def test_run_cli_refuses_an_unknown_format(tmp_path, capsys):
    assert main(["run", *TINY_RUN, "--plot-format", "jpg", "--out", str(tmp_path / "o")]) == 2
    assert "--plot-format" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _lemma1(radius_ratio):
    ev = [(r, 2.0 - r, 0.5 + r, r < 1.0) for r in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)]
    return Lemma1Radius(radius=0.5 * radius_ratio, radius_ratio=radius_ratio, censored=False,
                        rho_Phi=0.5, mu_Phi=1.0, nu_Phi=1.0,
                        directions=[dict(radius=0.5, censored=False, evaluations=ev)],
                        path=dict(radius=0.4, censored=True, step=None, evaluations=ev[:3]))


@pytest.mark.parametrize("radius_ratio", [1.0, 3.2])
def test_run_figures_follow_the_house_rules(run_svg, radius_ratio):
    out, rep = run_svg
    traj = Trajectory.load(out / "trajectory.npz")
    figs = pl.run_figures(traj, rep, lemma1=_lemma1(radius_ratio))
    assert list(figs) == list(pl.RUN_PLOTS)
    for role, fig in figs.items():
        assert_house_rules(fig)
    # rho_Phi and an empirical radius of exactly rho_Phi: one vertical line, both names.
    labels = [ln.get_label() for ln in figs["lemma1"].axes[0].get_lines()]
    merged = [lab for lab in labels if lab.startswith(r"$\rho_\Phi$ = empirical radius")]
    assert len(merged) == (1 if radius_ratio == 1.0 else 0)


# --------------------------------------------------------------------------
# the sweep figures (stored reports)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["n", "d0", "locality"])
def test_sweep_figures_follow_the_house_rules(mode):
    rep = _stored(f"sweep_{mode}.json")["report"]
    fig = sw._figure(rep)
    assert_house_rules(fig)
    labels = [ln.get_label() for ax in fig.axes for ln in ax.get_lines()]
    if mode == "n":
        # In n the paper's (21) and the d0-corrected (21) are one line (both n^{3/2}).
        assert sum("paper's (21) = $d_0$-corrected (21)" in lab for lab in labels) == 2
    if mode == "d0":
        assert sum(lab.startswith("paper's (21):") for lab in labels) == 2
        assert sum(lab.startswith("$d_0$-corrected (21):") for lab in labels) == 2


def _fake_cell(cell, seed):
    ok = cell["d1"] >= cell["n"] // 2
    return dict(converged=ok, inside=ok, inside_followup=ok,
                status="converged" if ok else "max_steps", distance_ratio=1.0,
                distance_ratio_followup=1.0, rho_Phi=1.0, rho_Phi_followup=1.0,
                steps_to_target=1 if ok else -1)


@pytest.mark.parametrize("fmt", pl.PLOT_FORMATS)
def test_sweep_writes_the_requested_format(tmp_path, fmt):
    sw.run_width_sweep(tmp_path, d0=8, n_grid=[16, 32], seeds=2, steps=100, d1_max=64,
                       n_boot=20, workers=1, plot_format=fmt, cell_fn=_fake_cell)
    figs = sorted(p.name for p in tmp_path.glob("sweep_thresholds.*"))
    assert figs == [f"sweep_thresholds.{fmt}"]
    head = (tmp_path / figs[0]).read_bytes()[:8]
    assert head.startswith({"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[fmt])
    if fmt == "png":
        assert mpimg.imread(tmp_path / figs[0]).shape[:2] == (round(4.6 * 150),
                                                              round(12.8 * 150))


def test_sweep_cli_has_plot_format(tmp_path):
    import argparse

    p = sw.configure_parser(argparse.ArgumentParser())
    assert p.parse_args([]).plot_format == "png"
    assert p.parse_args(["--plot-format", "pdf"]).plot_format == "pdf"
    with pytest.raises(SystemExit):
        p.parse_args(["--plot-format", "tiff"])
    with pytest.raises(ValueError, match="plot_format must be one of"):
        sw.run_width_sweep(tmp_path / "o", d0=8, n_grid=[16, 32], seeds=1, steps=100,
                           workers=1, plot_format="bmp", cell_fn=_fake_cell)


# --------------------------------------------------------------------------
# the init-scale figures (stored reports, and a tiny run)
# --------------------------------------------------------------------------
INIT_TINY = dict(width=16, epochs=1, teacher_epochs=1, seeds=2, omega2_grid=[0.1, 0.4],
                 laziness_points=10, workers=1, progress=False)


@pytest.mark.parametrize("loss", ["nll", "mse"])
def test_init_scale_figures_follow_the_house_rules(loss):
    rep = _stored("init_scale_mnist.json")["runs"][loss]["report"]
    fig = isc._figure(rep)
    assert_house_rules(fig)
    acc, upd, lazy = fig.axes
    ends = _bar_ends(acc)
    assert ends.min() >= 0.0 and ends.max() <= 1.0
    assert _bar_ends(upd).max() <= rep["config"]["max_updates"]
    assert upd.get_yscale() == lazy.get_yscale() == "log"
    # Unclipped, the stored intervals leave the range: NLL's train accuracy above 1, MSE's
    # updates below 0 (on a log axis) and above the budget.
    per = rep["per_omega2"]

    def out_of_range(key, below, above):
        return any((p[key]["mean"] or 0) - (p[key]["half_width"] or 0) < below
                   or (p[key]["mean"] or 0) + (p[key]["half_width"] or 0) > above for p in per)

    assert out_of_range("train_acc", 0.0, 1.0) == (loss == "nll")
    assert out_of_range("updates", 0.0, rep["config"]["max_updates"]) == (loss == "mse")
    if loss == "nll":
        assert ends.max() == 1.0
    else:
        assert _bar_ends(upd).max() == rep["config"]["max_updates"]
        assert [ln for ln in upd.get_lines() if ln.get_marker() == "v"]


def test_init_scale_cli_writes_pdf(tmp_path):
    out = tmp_path / "o"
    argv = ["init-scale", "--out", str(out), "--workers", "1", "--seeds", "2", "--epochs", "1",
            "--teacher-epochs", "1", "--width", "16", "--omega2-grid", "0.1,0.4",
            "--laziness-points", "10", "--no-progress", "--quiet", "--plot-format", "pdf"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.glob("init_scale.*")) == [
        "init_scale.json", "init_scale.md", "init_scale.pdf"]
    assert (out / "init_scale.pdf").read_bytes().startswith(b"%PDF")
