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


def write_plots(traj, report, outdir):
    """Write the report's PNG plots; return ``{role: path}``."""
    plt = _pyplot()
    files = {}
    l3 = report["lemma3"]
    h0 = report["trajectory"]["h0"]

    def save(fig, role):
        path = os.path.join(outdir, f"{role}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files[role] = path

    # Loss with the PL-predicted envelope.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    s, h = traj.series("loss")
    ax.semilogy(s, h, label="loss h(Theta_t)")
    env = _envelope(traj, h0)
    if env is not None:
        ax.semilogy(env[0], env[1], "--", label="PL envelope h0 prod(1 - eta 4 lambda_min ...)")
    ax.set_xlabel("step t")
    ax.set_ylabel("h")
    ax.set_title("Loss and the rate the PL constant predicts")
    ax.legend(fontsize=8)
    save(fig, "loss")

    # lambda_min(K_t) and the empirical PL ratio.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if "pl_ratio" in traj:
        ax.semilogy(*traj.series("pl_ratio"), label="||grad h||^2 / h")
    if "lambda_min" in traj:
        ls, lv = traj.series("lambda_min")
        ax.semilogy(ls, 4 * lv, "o-", ms=3, label="4 lambda_min(K_t)")
    if l3["mu_Phi"] > 0:
        ax.axhline(l3["mu_Phi"] ** 2, color="gray", ls=":", label="mu_Phi^2 (Lemma 3)")
    ax.set_xlabel("step t")
    ax.set_title("PL ratio against its NTK lower bound")
    ax.legend(fontsize=8)
    save(fig, "pl")

    # Distance from initialization against the Lemma-1 radius.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if "distance" in traj:
        ax.semilogy(*traj.series("distance"), label="||Theta_t - Theta_0||")
    if "path_length" in traj:
        ax.semilogy(*traj.series("path_length"), label="path length")
    for key, style in (("rho_Phi", "--"), ("rho_Phi_followup", ":")):
        if l3[key] > 0 and np.isfinite(l3[key]):
            ax.axhline(l3[key], color="k", ls=style, label=key)
    ax.set_xlabel("step t")
    ax.set_title("Locality: distance from Theta_0 and Lemma 1's radius")
    ax.legend(fontsize=8)
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
        ax.legend(fontsize=8)
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
    ax.legend(fontsize=8)
    save(fig, "laziness")
    return files
