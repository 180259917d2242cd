r"""The house style of every figure the command line writes.

The figures of ``pl-toolkit run`` (:func:`write_run_plots`, drawn here),
``pl-toolkit sweep`` and ``pl-toolkit init-scale`` (drawn in their modules)
share these pieces:

* :func:`style` -- the house style :data:`STYLE`: font sizes, line widths,
  a light grid, constrained layout (titles and labels are never cut), 150
  dpi, PDF fonts embedded as TrueType, vector files without time stamps.
* :func:`new_figure` and :func:`save_figure` -- a figure made without
  pyplot (no global state) and its file: PNG at :data:`DPI` by default,
  SVG or PDF on request (:data:`PLOT_FORMATS`).
* :func:`log_series` -- a series on a log axis without its non-positive
  and non-finite values.
* :func:`reference_lines` -- reference curves or levels in distinct styles
  (:data:`REFERENCE_STYLES`), each labelled; curves that coincide are drawn
  once under a combined label.
* :func:`errorbar` -- error bars clipped to the range the quantity can take.
* :func:`place_legends` -- each legend inside its axes at the first
  position that covers no data (curves, markers, bars), else beside the
  axes.

Axis labels name the quantity and its symbol in mathtext, e.g.
``r"width $d_1$"`` or ``r"$\lambda_{\min}(K_t)$"``.  Matplotlib is imported
when the first figure is made, never with this module.
"""

import contextlib
import os

import numpy as np

__all__ = ["PLOT_FORMATS", "DPI", "STYLE", "REFERENCE_STYLES", "RUN_PLOTS", "check_plot_format",
           "plot_file", "style", "new_figure", "save_figure", "log_series", "reference_lines",
           "errorbar", "place_legends", "legend_overlaps", "run_figures", "write_run_plots"]

#: File formats of the figures: raster PNG (the default) or vector SVG and PDF.
PLOT_FORMATS = ("png", "svg", "pdf")
#: Resolution of raster figures (dots per inch).
DPI = 150
#: The house style (matplotlib rc parameters), applied by :func:`style`.
STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.9,
    "legend.borderaxespad": 0.4,
    "figure.titlesize": 10.0,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.0,
    "errorbar.capsize": 2.5,
    "axes.grid": True,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.35,
    "mathtext.fontset": "dejavusans",
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "pl_toolkit",
}
#: Styles of reference lines, in order of use: each differs from the others
#: in colour and dash pattern, and from data series (solid, colours C0-C3).
REFERENCE_STYLES = (
    dict(color="k", linestyle="--"),
    dict(color="0.45", linestyle="-."),
    dict(color="C5", linestyle=":"),
    dict(color="C6", linestyle=(0, (5, 1.5, 1, 1.5, 1, 1.5))),
    dict(color="C8", linestyle=(0, (2, 1))),
    dict(color="C9", linestyle=(0, (6, 2))),
)
#: Legend positions tried inside the axes, in order (:func:`place_legends`).
_INSIDE = ("upper right", "upper left", "lower right", "lower left", "center right",
           "center left", "upper center", "lower center")
#: Figures of ``pl-toolkit run``, by role (``lemma1`` only when it was measured).
RUN_PLOTS = ("loss", "pl", "distance", "smoothness", "laziness", "lemma1")


def check_plot_format(plot_format, name="plot_format"):
    """Check a figure file format.

    Parameters
    ----------
    plot_format : str
        One of :data:`PLOT_FORMATS` (case ignored).
    name : str, default "plot_format"
        How the argument is named in the error message.

    Returns
    -------
    str
        The format in lower case.

    Raises
    ------
    ValueError
        If ``plot_format`` is not one of :data:`PLOT_FORMATS`.

    Examples
    --------
    >>> check_plot_format("SVG")
    'svg'
    >>> check_plot_format("jpg", "--plot-format")
    Traceback (most recent call last):
    ...
    ValueError: --plot-format must be one of png, svg, pdf, got 'jpg'
    """
    fmt = plot_format.lower() if isinstance(plot_format, str) else plot_format
    if fmt not in PLOT_FORMATS:
        raise ValueError(f"{name} must be one of {', '.join(PLOT_FORMATS)}, got {plot_format!r}")
    return fmt


def plot_file(stem, plot_format="png"):
    """File name of a figure: ``stem`` with the format's extension.

    Parameters
    ----------
    stem : str
        Name without extension (``"sweep_thresholds"``).
    plot_format : {"png", "svg", "pdf"}, default "png"
        File format.

    Returns
    -------
    str
        ``stem.plot_format``.

    Examples
    --------
    >>> plot_file("init_scale"), plot_file("loss", "pdf")
    ('init_scale.png', 'loss.pdf')
    """
    return f"{stem}.{check_plot_format(plot_format)}"


@contextlib.contextmanager
def style():
    """Apply the house style :data:`STYLE` inside a ``with`` block.

    Matplotlib reads most style settings when an artist is made and tick
    labels when a figure is drawn: make, draw and save figures inside the
    block (:func:`new_figure`, :func:`save_figure` and the figure
    functions of the toolkit enter it themselves).

    Yields
    ------
    None

    Examples
    --------
    >>> import matplotlib
    >>> with style():
    ...     float(matplotlib.rcParams["savefig.dpi"])
    150.0
    """
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def new_figure(nrows=1, ncols=1, *, size=(6.4, 4.0), **subplots):
    """A figure of the house style with a grid of axes, without pyplot.

    Parameters
    ----------
    nrows, ncols : int, default 1
        Grid of axes.
    size : (float, float), default (6.4, 4.0)
        Width and height in inches.
    **subplots
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
        With constrained layout and an Agg canvas.
    axes : matplotlib.axes.Axes or ndarray of Axes
        One axes, or an array of them (squeezed as ``Figure.subplots``).

    Examples
    --------
    >>> fig, (a, b) = new_figure(1, 2, size=(8, 3))
    >>> fig.get_layout_engine().__class__.__name__, float(fig.dpi)
    ('ConstrainedLayoutEngine', 150.0)
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with style():
        fig = Figure(figsize=size, dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, **subplots)
    return fig, axes


def save_figure(fig, path, plot_format="png", dpi=DPI):
    """Write a figure in the house style.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (legends already placed, see :func:`place_legends`).
    path : str or path-like
        Output file (its extension is not looked at).
    plot_format : {"png", "svg", "pdf"}, default "png"
        File format.
    dpi : float, default 150
        Resolution of a PNG (and of anything rasterized in a vector file).

    Returns
    -------
    str
        ``path`` as a string.

    Raises
    ------
    ValueError
        If ``plot_format`` is unknown or ``dpi`` is not a positive number.

    Notes
    -----
    SVG and PDF files carry no creation date (and SVG ids a fixed salt),
    so the same figure gives the same bytes.

    Examples
    --------
    >>> import os, tempfile
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([1, 2], [3, 4])
    >>> path = save_figure(fig, os.path.join(tempfile.mkdtemp(), "f.svg"), "svg")
    >>> with open(path) as fh:
    ...     fh.read().count("<svg")
    1
    """
    fmt = check_plot_format(plot_format)
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not (
            np.isfinite(dpi) and dpi > 0):
        raise ValueError(f"dpi must be a positive number, got {dpi!r}")
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
    path = os.fspath(path)
    with style():
        fig.savefig(path, format=fmt, dpi=dpi, metadata=metadata)
    return path


def _floats(values):
    """``values`` as float64, ``None`` entries as NaN."""
    return np.array([np.nan if v is None else v for v in np.ravel(values)], dtype=np.float64)


def log_series(ax, x, y, *args, **kwargs):
    """Plot ``y`` against ``x`` leaving out points a log axis cannot show.

    Points with a non-finite coordinate, or a non-positive one on a log
    axis (set the scales first), are left out.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes.
    x, y : array_like
        Coordinates (``None`` entries count as missing).
    *args, **kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot`.

    Returns
    -------
    matplotlib.lines.Line2D or None
        The line, or None when no point is left.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> ax.set_yscale("log")
    >>> line = log_series(ax, [0, 1, 2, 3], [1.0, 0.0, None, 1e-3])
    >>> line.get_xydata().tolist()
    [[0.0, 1.0], [3.0, 0.001]]
    """
    x, y = _floats(x), _floats(y)
    ok = np.isfinite(x) & np.isfinite(y)
    if ax.get_xscale() == "log":
        ok &= x > 0
    if ax.get_yscale() == "log":
        ok &= y > 0
    if not ok.any():
        return None
    (line,) = ax.plot(x[ok], y[ok], *args, **kwargs)
    return line


def _same(a, b, rtol):
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=0.0, equal_nan=True))


def reference_lines(ax, lines, x=None, *, orientation="horizontal", rtol=1e-9, first=0,
                    linewidth=1.2):
    r"""Draw reference curves or levels, distinguishable and each labelled.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes.
    lines : sequence of (str, str, array_like or float)
        ``(name, detail, y)`` per line: the curve ``y(x)``, or with ``x``
        None a level (a horizontal or vertical line at ``y``).  The label
        is ``"name: detail"`` (``detail`` may be empty).
    x : array_like, optional
        Abscissae of the curves.
    orientation : {"horizontal", "vertical"}, default "horizontal"
        Direction of levels (``x`` None).
    rtol : float, default 1e-9
        Lines whose values agree to this relative tolerance coincide: they
        are drawn once, labelled ``"name1 = name2: detail"`` (the details
        joined by ``"; "`` where they differ).
    first : int, default 0
        Index of the first style in :data:`REFERENCE_STYLES` (so that two
        calls on one axes do not repeat styles).
    linewidth : float, default 1.2
        Line width.

    Returns
    -------
    list of matplotlib.lines.Line2D
        One line per group of coinciding lines, in order.

    Raises
    ------
    ValueError
        If ``orientation`` is unknown, or ``x`` is given with a level.

    Examples
    --------
    The paper's (21) and the d0-corrected one, both ``n^{3/2}`` anchored at
    the same point, are one line:

    >>> import numpy as np
    >>> fig, ax = new_figure()
    >>> n = np.geomspace(64, 1024, 5)
    >>> drawn = reference_lines(ax, [("paper's (21)", r"$d_1 \propto n^{3/2}$", n ** 1.5),
    ...                              ("$d_0$-corrected (21)", r"$d_1 \propto n^{3/2}$", n ** 1.5),
    ...                              ("counting bound", "", n / 65)], n)
    >>> for line in drawn:
    ...     print(line.get_label())
    paper's (21) = $d_0$-corrected (21): $d_1 \propto n^{3/2}$
    counting bound
    """
    if orientation not in ("horizontal", "vertical"):
        raise ValueError(f"orientation must be 'horizontal' or 'vertical', got {orientation!r}")
    groups = []
    for name, detail, y in lines:
        y = np.asarray(y, dtype=float)
        if x is None and y.ndim:
            raise ValueError(f"reference line {name!r}: a level takes one value, got shape "
                             f"{y.shape}")
        for g in groups:
            if _same(g["y"], y, rtol):
                g["names"].append(name)
                g["details"].append(detail)
                break
        else:
            groups.append(dict(y=y, names=[name], details=[detail]))
    drawn = []
    for k, g in enumerate(groups):
        details = list(dict.fromkeys(d for d in g["details"] if d))
        label = " = ".join(dict.fromkeys(g["names"])) + (": " + "; ".join(details)
                                                          if details else "")
        st = dict(REFERENCE_STYLES[(first + k) % len(REFERENCE_STYLES)], linewidth=linewidth,
                  label=label)
        if x is not None:
            (line,) = ax.plot(np.asarray(x, dtype=float), g["y"], **st)
        elif orientation == "horizontal":
            line = ax.axhline(float(g["y"]), **st)
        else:
            line = ax.axvline(float(g["y"]), **st)
        drawn.append(line)
    return drawn


def errorbar(ax, x, mean, half_width, *, lower=0.0, upper=np.inf, **kwargs):
    """Means with error bars clipped to the range the quantity can take.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes; set its scales first.
    x, mean, half_width : array_like
        Positions, means and half widths of the intervals ``mean +-
        half_width`` (``None`` entries count as missing: no point, or a
        point without bar).
    lower, upper : float, default 0, inf
        The range of the quantity (e.g. ``[0, 1]`` for an accuracy, ``[0,
        budget]`` for a count of updates): interval ends beyond it are
        drawn at it.
    **kwargs
        ``fmt`` (default ``"o-"``), ``label``, ``capsize`` (points) and
        properties of the line through the means (``ms``, ``color``, ...).

    Returns
    -------
    matplotlib.container.ErrorbarContainer or None
        The bars, or None when no mean is drawable.

    Notes
    -----
    On a log axis an interval reaching 0 (or below) cannot be drawn to its
    end: its bar runs down to ``floor``, half the smallest positive value
    drawn, where a downward triangle marks that it continues.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> bars = errorbar(ax, [1, 2], [0.95, 0.5], [0.1, 0.1], upper=1.0, fmt="o")
    >>> [seg[:, 1].round(2).tolist() for seg in bars.lines[2][0].get_segments()]
    [[0.85, 1.0], [0.4, 0.6]]
    """
    x, m, h = _floats(x), _floats(mean), _floats(half_width)
    if not (x.shape == m.shape == h.shape):
        raise ValueError(f"x, mean and half_width must have one length, got {x.size}, "
                         f"{m.size}, {h.size}")
    log = ax.get_yscale() == "log"
    ok = np.isfinite(x) & np.isfinite(m) & ((m > 0) if log else True)
    if not ok.any():
        return None
    x, m, h = x[ok], m[ok], h[ok]
    h = np.where(np.isfinite(h) & (h >= 0), h, 0.0)
    lo = np.clip(m - h, lower, upper)
    hi = np.clip(m + h, lower, upper)
    cut = np.zeros(m.shape, dtype=bool)
    if log:
        cut = lo <= 0
        if cut.any():
            floor = 0.5 * min(m.min(), lo[~cut].min() if (~cut).any() else np.inf)
            lo = np.where(cut, floor, lo)
    lo, hi = np.minimum(lo, m), np.maximum(hi, m)
    # The bars are drawn from their ends, not as offsets from the mean
    # (Axes.errorbar's yerr), which would lose an end far below a large mean.
    import matplotlib
    from matplotlib.collections import LineCollection
    from matplotlib.container import ErrorbarContainer

    fmt = kwargs.pop("fmt", "o-")
    label = kwargs.pop("label", None)
    capsize = kwargs.pop("capsize", None)
    (line,) = ax.plot(x, m, fmt, label="_nolegend_", **kwargs)
    color, lw = line.get_color(), line.get_linewidth()
    bar = hi > lo          # zero-width intervals get no bar (and no degenerate data limits)
    bars = LineCollection([np.array([[xi, a], [xi, b]])
                           for xi, a, b in zip(x[bar], lo[bar], hi[bar])],
                          colors=color, linewidths=lw)
    ax.add_collection(bars, autolim=bool(bar.any()))
    cap = 2.0 * (matplotlib.rcParams["errorbar.capsize"] if capsize is None else capsize)
    caps = tuple(ax.plot(x[bar], y[bar], marker="_", markersize=cap, markeredgewidth=lw,
                         color=color, linestyle="none", label="_nolegend_")[0]
                 for y in (lo, hi))
    container = ErrorbarContainer((line, caps, (bars,)), has_xerr=False, has_yerr=True,
                                  label=label)
    ax.add_container(container)
    if cut.any():
        ax.plot(x[cut], lo[cut], "v", color=color, markersize=4, linestyle="none",
                label="_nolegend_")
    return container


# --------------------------------------------------------------------------
# legends
# --------------------------------------------------------------------------
def _is_level(line, ax):
    """Whether ``line`` spans the axes (``axhline``/``axvline``: one coordinate in axes units)."""
    in_x, in_y = line.get_transform().contains_branch_seperately(ax.transData)
    return not (in_x and in_y)


def _data_geometry(ax):
    """Polylines and marker sets of the data ``ax`` shows, in display coordinates.

    Levels spanning the axes are left out: a legend may cover a piece of
    one, which stays readable.
    """
    from matplotlib.collections import LineCollection

    lines, points = [], []
    px_per_pt = ax.figure.dpi / 72.0
    for line in ax.get_lines():
        if not line.get_visible() or _is_level(line, ax):
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
        if line.get_linestyle() not in ("None", "none", "", " "):
            lines.append(xy)
        if line.get_marker() not in (None, "None", "none", "", " "):
            points.append((xy, 0.5 * line.get_markersize() * px_per_pt))
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        if isinstance(coll, LineCollection):
            trans = coll.get_transform()
            lines.extend(trans.transform(np.asarray(s, dtype=float))
                         for s in coll.get_segments() if len(s))
        else:
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            if offsets.size:
                sizes = coll.get_sizes()
                r = 0.5 * np.sqrt(sizes.max()) * px_per_pt if sizes.size else 3.0
                points.append((coll.get_offset_transform().transform(offsets), r))
    return lines, points


def _segments_hit(xy, box):
    """Whether any segment of the polyline ``xy`` meets the rectangle ``box`` (Liang-Barsky)."""
    p, q = xy[:-1], xy[1:]
    ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    p, q = p[ok], q[ok]
    if not len(p):
        return False
    d = q - p
    t0, t1 = np.zeros(len(p)), np.ones(len(p))
    keep = np.ones(len(p), dtype=bool)
    for P, Q in ((-d[:, 0], p[:, 0] - box.x0), (d[:, 0], box.x1 - p[:, 0]),
                 (-d[:, 1], p[:, 1] - box.y0), (d[:, 1], box.y1 - p[:, 1])):
        keep &= ~((P == 0) & (Q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = Q / P
        t0 = np.where(P < 0, np.maximum(t0, r), t0)
        t1 = np.where(P > 0, np.minimum(t1, r), t1)
    return bool((keep & (t0 <= t1)).any())


def legend_overlaps(ax, renderer=None, pad=1.0):
    """Whether the legend of ``ax`` covers any data drawn in the axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes with a legend (else the answer is False).
    renderer : optional
        Renderer of the figure after layout (default: the figure's).
    pad : float, default 1.0
        Pixels added around the legend box.

    Returns
    -------
    bool
        True when a line, a bar or a marker of the axes (the part inside
        the axes) meets the legend box; levels spanning the axes
        (``axhline``, ``axvline``) do not count.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0, 1], [0, 1], label="diagonal")
    >>> _ = ax.legend(loc="upper left")
    >>> fig.draw_without_rendering()
    >>> legend_overlaps(ax)
    False
    """
    from matplotlib.transforms import Bbox

    leg = ax.get_legend()
    if leg is None:
        return False
    renderer = renderer or ax.figure.canvas.get_renderer()
    box = leg.get_window_extent(renderer).padded(pad)
    box = Bbox.intersection(box, ax.bbox)
    if box is None:
        return False
    lines, points = _data_geometry(ax)
    for xy, r in points:
        xy = xy[np.isfinite(xy).all(axis=1)]
        if np.any((xy[:, 0] >= box.x0 - r) & (xy[:, 0] <= box.x1 + r)
                  & (xy[:, 1] >= box.y0 - r) & (xy[:, 1] <= box.y1 + r)):
            return True
    return any(_segments_hit(xy, box) for xy in lines)


def place_legends(fig, ncols=1):
    """Give every labelled axes of ``fig`` a legend that hides no data.

    Each legend goes inside its axes at the first position of ``upper
    right``, ``upper left``, ``lower right``, ``lower left``, ``center
    right``, ``center left``, ``upper center``, ``lower center`` where it
    covers no drawn data (:func:`legend_overlaps`; it may cross a level
    drawn across the axes); where none is free, it
    goes beside the axes, on the right, and constrained layout makes room.
    Moving one legend out changes the layout, so the others are checked
    again until none moves.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure with constrained layout.
    ncols : int, default 1
        Columns of each legend.

    Returns
    -------
    dict
        ``{axes: "inside" or "outside"}`` for the axes given a legend.

    Examples
    --------
    >>> fig, ax = new_figure()
    >>> _ = ax.plot([0, 1], [0, 1], "o-", label="rising")
    >>> place_legends(fig)[ax], legend_overlaps(ax)
    ('inside', False)
    """
    with style():
        labelled = [ax for ax in fig.axes if ax.get_legend_handles_labels()[0]]
        outside = set()
        for _ in range(len(labelled) + 1):
            fig.draw_without_rendering()
            renderer = fig.canvas.get_renderer()
            moved = False
            for ax in labelled:
                if ax in outside:
                    continue
                handles, labels = ax.get_legend_handles_labels()
                for loc in _INSIDE:
                    ax.legend(handles, labels, loc=loc, ncols=ncols)
                    if not legend_overlaps(ax, renderer):
                        break
                else:
                    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                              borderaxespad=0.0, ncols=ncols)
                    outside.add(ax)
                    moved = True
            if not moved:     # inside legends leave the layout as it was: done
                break
    return {ax: ("outside" if ax in outside else "inside") for ax in labelled}


# --------------------------------------------------------------------------
# the figures of pl-toolkit run
# --------------------------------------------------------------------------
def _envelope(traj, h0):
    """``h0 * prod_s q_s`` with ``q_s`` the PL-predicted contraction held between measurements."""
    if "contraction_predicted" not in traj or not len(traj["contraction_predicted"]):
        return None
    s, q = traj.series("contraction_predicted")
    T = int(traj.series("loss")[0][-1])
    steps = np.arange(T + 1)
    idx = np.searchsorted(s, steps, side="right") - 1
    qq = np.where(idx >= 0, q[np.clip(idx, 0, None)], 1.0)
    qq = np.clip(qq, 0.0, 1.0)
    env = h0 * np.concatenate([[1.0], np.cumprod(qq[:-1])])
    return steps, env


def _positive(v):
    return v is not None and np.isfinite(v) and v > 0


def _series(ax, traj, items, marker=None):
    for name, label in items:
        if name in traj and len(traj[name]):
            log_series(ax, *traj.series(name), *([marker] if marker else []), label=label)


def _step_axes():
    """A run figure against the step ``t`` on a log scale: ``(fig, ax)``."""
    fig, ax = new_figure(size=(6.4, 3.8))
    ax.set_yscale("log")
    ax.set_xlabel(r"step $t$")
    return fig, ax


def _bound(ax, label, source, value):
    """A horizontal reference line at the bound ``value`` when it is a positive number."""
    if _positive(value):
        reference_lines(ax, [(label, source, value)])


def _loss_figure(traj, report):
    fig, ax = _step_axes()
    log_series(ax, *traj.series("loss"), color="C0", label=r"loss $h(\Theta_t)$")
    env = _envelope(traj, report["trajectory"]["h0"])
    if env is not None:
        ok = env[1] > 0
        if ok.any():
            reference_lines(ax, [("PL envelope",
                                  r"$h_0 \prod_{s<t}\,(1 - 4\eta\,\lambda_{\min}(K_s))$",
                                  env[1][ok])], env[0][ok])
    ax.set_ylabel(r"loss $h(\Theta_t)$")
    ax.set_title("Loss and the rate the PL inequality predicts")
    return fig


def _pl_figure(traj, report):
    fig, ax = _step_axes()
    if "pl_ratio" in traj:
        log_series(ax, *traj.series("pl_ratio"), color="C0",
                   label=r"PL ratio $\|\nabla h(\Theta_t)\|^2 / h(\Theta_t)$")
    if "lambda_min" in traj:
        ls, lv = traj.series("lambda_min")
        log_series(ax, ls, 4 * lv, "o-", color="C1", label=r"$4\,\lambda_{\min}(K_t)$")
    mu = report["lemma3"]["mu_Phi"]
    _bound(ax, r"$\mu_\Phi^2$", "Lemma 3, at initialization", mu ** 2 if _positive(mu) else None)
    ax.set_ylabel(r"$\|\nabla h\|^2 / h$ and its lower bounds")
    ax.set_title("PL ratio against its NTK lower bound")
    return fig


def _distance_figure(traj, report):
    fig, ax = _step_axes()
    _series(ax, traj, (("distance", r"distance $\|\Theta_t - \Theta_0\|_F$"),
                       ("path_length", r"path length $\sum_{s<t} \|\Theta_{s+1} - \Theta_s\|_F$")))
    _bound(ax, r"$\rho_\Phi = \mu_\Phi / (2\beta_\Phi)$",
           "Lemma 1, the paper's form, used by the checks", report["radius"]["rho_Phi"])
    ax.set_ylabel(r"distance from $\Theta_0$")
    ax.set_title(r"Locality: distance from $\Theta_0$ and Lemma 1's radius")
    return fig


def _smoothness_figure(traj, report):
    fig, ax = _step_axes()
    _series(ax, traj, (
        ("hessian_top", r"top Hessian eigenvalue $\lambda_{\max}(\nabla^2 h(\Theta_t))$"),
        ("smoothness_secant", r"gradient secant $\|\Delta \nabla h\| / \|\Delta\Theta\|$"),
        ("jacobian_secant", r"Jacobian secant $\|\Delta \nabla\Phi\| / \|\Delta\Theta\|$ "
                            r"(empirical $\beta_\Phi$)")))
    _bound(ax, r"$\beta_\Phi$", "Lemma 3", report["lemma3"]["beta_Phi"])
    ax.set_ylabel("smoothness estimate")
    ax.set_title("Smoothness along the trajectory")
    return fig


def _laziness_figure(traj, report):
    fig, ax = _step_axes()
    _series(ax, traj, (("laziness", r"NTK $\|K_t - K_0\|_2 / \|K_0\|_2$"),
                       ("weight_change_W", r"first layer $\|W_t - W_0\|_F / \|W_0\|_F$"),
                       ("weight_change_V", r"second layer $\|V_t - V_0\|_F / \|V_0\|_F$")))
    ax.set_ylabel("relative change from initialization")
    ax.set_title("Laziness")
    return fig


def _lemma1_figure(lemma1):
    from ..formulas import lemma1_sigma_max_bound, lemma1_sigma_min_bound

    fig, axes = new_figure(1, 2, size=(9.6, 3.9), sharex=True)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_yscale("log")
    lo, hi = lemma1_sigma_min_bound(lemma1.mu_Phi), lemma1_sigma_max_bound(lemma1.nu_Phi)
    rho = lemma1.rho_Phi
    for i, d in enumerate(lemma1.directions):
        ev = sorted(d["evaluations"])
        r = np.array([e[0] for e in ev]) / rho
        label = "random directions" if i == 0 else None
        log_series(axes[0], r, [e[1] / lo for e in ev], ".-", lw=0.8, color="C0", label=label)
        log_series(axes[1], r, [e[2] / hi for e in ev], ".-", lw=0.8, color="C0", label=label)
    if lemma1.path is not None and lemma1.path["evaluations"]:
        ev = sorted(lemma1.path["evaluations"])
        r = np.array([e[0] for e in ev]) / rho
        log_series(axes[0], r, [e[1] / lo for e in ev], "s-", ms=3, color="C3", label="GD path")
        log_series(axes[1], r, [e[2] / hi for e in ev], "s-", ms=3, color="C3", label="GD path")
    found = "no violation up to" if lemma1.censored else "first violation"
    for ax, side in ((axes[0], "lower"), (axes[1], "upper")):
        reference_lines(ax, [(f"Lemma 1's {side} bound", "ratio 1", 1.0)])
        reference_lines(ax, [(r"$\rho_\Phi$", "Lemma 1's radius", 1.0),
                             ("empirical radius", found, lemma1.radius_ratio)],
                        orientation="vertical", first=1)
        ax.set_xlabel(r"distance from $w_0$, $\|w - w_0\| / \rho_\Phi$")
    axes[0].set_ylabel(r"$\sigma_{\min}(\nabla\Phi^*(w)) \,/\, (\mu_\Phi / 2)$")
    axes[1].set_ylabel(r"$\sigma_{\max}(\nabla\Phi^*(w)) \,/\, (3\nu_\Phi / 2)$")
    axes[0].set_title(r"lower bound: holds while the ratio is $\geq 1$")
    axes[1].set_title(r"upper bound: holds while the ratio is $\leq 1$")
    fig.suptitle(rf"Lemma 1 holds out to {lemma1.radius_ratio:.3g} $\rho_\Phi$"
                 + (" (no violation found)" if lemma1.censored else ""))
    return fig


def run_figures(traj, report, lemma1=None):
    """The figures of a ``pl-toolkit run`` report, legends placed.

    Parameters
    ----------
    traj : Trajectory
        The training run.
    report : dict
        The report (``trajectory.h0``, ``lemma3``, ``radius``).
    lemma1 : Lemma1Radius, optional
        The empirical Lemma 1 radius search (adds the ``lemma1`` figure).

    Returns
    -------
    dict
        ``{role: matplotlib.figure.Figure}``, roles in :data:`RUN_PLOTS`
        order.
    """
    with style():
        figs = {"loss": _loss_figure(traj, report), "pl": _pl_figure(traj, report),
                "distance": _distance_figure(traj, report),
                "smoothness": _smoothness_figure(traj, report),
                "laziness": _laziness_figure(traj, report)}
        if lemma1 is not None:
            figs["lemma1"] = _lemma1_figure(lemma1)
        for fig in figs.values():
            place_legends(fig)
    return figs


def write_run_plots(traj, report, outdir, lemma1=None, plot_format="png", dpi=DPI):
    """Write the figures of a ``pl-toolkit run`` report into its folder.

    Parameters
    ----------
    traj, report, lemma1
        As :func:`run_figures`.
    outdir : str
        The report folder, claimed for the figures' names
        (``pl_toolkit.experiments._common.claim_output_dir``).
    plot_format : {"png", "svg", "pdf"}, default "png"
        File format.
    dpi : float, default 150
        Resolution of PNG files.

    Returns
    -------
    dict
        ``{role: path}``, e.g. ``{"loss": "out/loss.png", ...}``.
    """
    from ._common import output_file

    fmt = check_plot_format(plot_format)
    files = {}
    for role, fig in run_figures(traj, report, lemma1=lemma1).items():
        name = plot_file(role, fmt)
        with output_file(outdir, name) as tmp:
            save_figure(fig, tmp, fmt, dpi)
        files[role] = os.path.join(outdir, name)
    return files
