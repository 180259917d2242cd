"""PNG plots of a run report (matplotlib, Agg backend)."""

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


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


def write_plots(traj, report, outdir, lemma1=None):
    """Write the report's PNG plots; return ``{role: path}``."""
    plt = _pyplot()
    files = {}
    l3 = report["lemma3"]
    rho = report["radius"]["rho_Phi"]
    h0 = report["trajectory"]["h0"]

    def legend(ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)

    def logplot(ax, x, y, *args, **kw):
        x, y = np.asarray(x), np.asarray(y, dtype=float)
        ok = np.isfinite(y) & (y > 0)
        if ok.any():
            ax.semilogy(x[ok], y[ok], *args, **kw)

    def save(fig, role):
        path = os.path.join(outdir, f"{role}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files[role] = path

    # Loss with the PL-predicted envelope.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    s, h = traj.series("loss")
    logplot(ax, s, h, label="loss h(Theta_t)")
    env = _envelope(traj, h0)
    if env is not None:
        logplot(ax, env[0], env[1], "--", label="PL envelope h0 prod(1 - eta 4 lambda_min ...)")
    ax.set_xlabel("step t")
    ax.set_ylabel("h")
    ax.set_title("Loss and the rate the PL constant predicts")
    legend(ax)
    save(fig, "loss")

    # lambda_min(K_t) and the empirical PL ratio.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if "pl_ratio" in traj:
        logplot(ax, *traj.series("pl_ratio"), label="||grad h||^2 / h")
    if "lambda_min" in traj:
        ls, lv = traj.series("lambda_min")
        logplot(ax, ls, 4 * lv, "o-", ms=3, label="4 lambda_min(K_t)")
    if l3["mu_Phi"] > 0:
        ax.axhline(l3["mu_Phi"] ** 2, color="gray", ls=":", label="mu_Phi^2 (Lemma 3)")
    ax.set_xlabel("step t")
    ax.set_title("PL ratio against its NTK lower bound")
    legend(ax)
    save(fig, "pl")

    # Distance from initialization against the Lemma-1 radius.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if "distance" in traj:
        logplot(ax, *traj.series("distance"), label="||Theta_t - Theta_0||")
    if "path_length" in traj:
        logplot(ax, *traj.series("path_length"), label="path length")
    if rho is not None and rho > 0 and np.isfinite(rho):
        ax.axhline(rho, color="k", ls="--", label="rho_Phi (paper form, used by the checks)")
    ax.set_xlabel("step t")
    ax.set_title("Locality: distance from Theta_0 and Lemma 1's radius")
    legend(ax)
    save(fig, "distance")

    # Smoothness.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    plotted = False
    for name, label in (("hessian_top", "top Hessian eigenvalue"),
                        ("smoothness_secant", "gradient secant"),
                        ("jacobian_secant", "Jacobian secant (empirical beta_Phi)")):
        if name in traj and len(traj[name]):
            ss, vv = traj.series(name)
            ok = np.isfinite(vv) & (vv > 0)
            if ok.any():
                ax.semilogy(ss[ok], vv[ok], label=label)
                plotted = True
    if np.isfinite(l3["beta_Phi"]) and l3["beta_Phi"] > 0:
        ax.axhline(l3["beta_Phi"], color="gray", ls="--", label="beta_Phi (Lemma 3)")
        plotted = True
    ax.set_xlabel("step t")
    ax.set_title("Smoothness along the trajectory")
    if plotted:
        legend(ax)
    save(fig, "smoothness")

    # Laziness.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, label in (("laziness", "||K_t - K_0|| / ||K_0||"),
                        ("weight_change_W", "||W_t - W_0|| / ||W_0||"),
                        ("weight_change_V", "||V_t - V_0|| / ||V_0||")):
        if name in traj and len(traj[name]):
            ss, vv = traj.series(name)
            ok = np.isfinite(vv) & (vv > 0)
            if ok.any():
                ax.semilogy(ss[ok], vv[ok], label=label)
    ax.set_xlabel("step t")
    ax.set_title("Laziness")
    legend(ax)
    save(fig, "laziness")

    # Empirical Lemma 1 radius: the two bounds along each searched direction.
    if lemma1 is not None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharex=True)
        from ..formulas import lemma1_sigma_max_bound, lemma1_sigma_min_bound

        lo, hi = lemma1_sigma_min_bound(lemma1.mu_Phi), lemma1_sigma_max_bound(lemma1.nu_Phi)
        for i, d in enumerate(lemma1.directions):
            ev = sorted(d["evaluations"])
            r = np.array([e[0] for e in ev]) / lemma1.rho_Phi
            axes[0].loglog(r, [e[1] / lo for e in ev], ".-", lw=0.8,
                           label="random directions" if i == 0 else None, color="C0")
            axes[1].loglog(r, [e[2] / hi for e in ev], ".-", lw=0.8, color="C0")
        if lemma1.path is not None and lemma1.path["evaluations"]:
            ev = sorted(lemma1.path["evaluations"])
            r = np.array([max(e[0], 1e-300) for e in ev]) / lemma1.rho_Phi
            axes[0].loglog(r, [e[1] / lo for e in ev], "s-", ms=3, color="C3", label="GD path")
            axes[1].loglog(r, [e[2] / hi for e in ev], "s-", ms=3, color="C3")
        for ax, title in ((axes[0], "sigma_min(grad Phi*(w)) / (mu_Phi / 2)"),
                          (axes[1], "sigma_max(grad Phi*(w)) / (3 nu_Phi / 2)")):
            ax.axhline(1.0, color="k", lw=0.8)
            ax.axvline(1.0, color="gray", ls="--", lw=0.8)
            ax.axvline(lemma1.radius_ratio, color="C2", ls=":", lw=1.2)
            ax.set_xlabel("||w - w0|| / rho_Phi")
            ax.set_title(title, fontsize=9)
        legend(axes[0])
        fig.suptitle(f"Lemma 1 holds out to {lemma1.radius_ratio:.3g} rho_Phi"
                     + (" (no violation found)" if lemma1.censored else ""), fontsize=10)
        save(fig, "lemma1")
    return files
