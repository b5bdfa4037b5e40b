"""anomaly_terrain: the two terrain anomaly protocols, the autoencoder beside PCA.

- sampling bias (experiment=anomaly_terrain_summit, anomaly=terrain_sampling_bias): trained on
  mountain windows centred on the summit; windows on the flank (wall) are the anomalies;
- novelty (experiment=anomaly_terrain_novelty, anomaly=terrain_novelty): trained without urban
  patches; tested on every class, urban is the anomaly.

One `aelab-train -m` over the two experiments, then one `aelab-eval -m` per protocol. Quick
mode: tiny data, one epoch.
"""

import time
from typing import Any

from matplotlib.figure import Figure

from aelab.compare import markdown_table
from aelab.experiments._context import Context, Job, Section
from aelab.experiments.anomaly_mnist import checked, detector_row

DOC = "docs/experiments.md"
# protocol name: (training experiment, aelab-eval anomaly protocol)
PROTOCOLS = {
    "sampling bias (summit vs wall)": ("anomaly_terrain_summit", "terrain_sampling_bias"),
    "novelty (urban left out)": ("anomaly_terrain_novelty", "terrain_novelty"),
}


def train_overrides(ctx: Context) -> list[str]:
    experiments = ",".join(experiment for experiment, _ in PROTOCOLS.values())
    return [f"experiment={experiments}", *ctx.smoke()]


def eval_overrides(run_dir: str, protocol: str) -> list[str]:
    return [f"ckpt_path={run_dir}", "task=[anomaly]", f"anomaly={protocol}"]


def run_dirs(ctx: Context) -> list[str]:
    return [str((ctx.work_dir / "train" / str(i)).resolve()) for i in range(len(PROTOCOLS))]


def jobs(ctx: Context) -> list[Job]:
    evals = [
        Job("eval", tuple(eval_overrides(run_dir, protocol)))
        for run_dir, (_, protocol) in zip(run_dirs(ctx), PROTOCOLS.values(), strict=True)
    ]
    return [Job("train", tuple(train_overrides(ctx))), *evals]


def figure(table: dict[str, dict[str, float]]) -> Figure:
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.subplots()
    positions = range(len(table))
    ax.barh([p + 0.2 for p in positions], [r["auroc"] for r in table.values()], 0.4, label="AE")
    ax.barh(
        [p - 0.2 for p in positions], [r["pca_auroc"] for r in table.values()], 0.4, label="PCA"
    )
    ax.set_yticks(list(positions), list(table))
    ax.set_xlabel("test AUROC")
    ax.set_xlim(0.0, 1.0)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def run(ctx: Context) -> Section:
    started = time.time()
    results = checked(ctx.train("train", train_overrides(ctx)), "training run")
    by_experiment = {r["experiment"]: r for r in results}
    table: dict[str, dict[str, Any]] = {}
    for name, (experiment, protocol) in PROTOCOLS.items():
        train = by_experiment[experiment]
        sweep = f"eval_{protocol}"
        (report,) = checked(ctx.evaluate(sweep, eval_overrides(train["job_dir"], protocol)), sweep)
        found = report["tasks"]["anomaly"]
        table[name] = {
            **detector_row(report, train),
            "test": f"{found['num_test'] - found['num_anomalies']} / {found['num_anomalies']}",
        }
    wall = time.time() - started
    header = ["protocol", "normal / anomalous", "AE AUROC", "PCA AUROC", "AE AP", "PCA AP"]
    keys = ("auroc", "pca_auroc", "ap", "pca_ap")
    rows = [(name, [row["test"], *(f"{row[k]:.4f}" for k in keys)]) for name, row in table.items()]
    image = ctx.save_figure(figure(table), "anomaly_terrain", "terrain anomaly AUROC")
    m = results[0]["latent_dim"]
    text = (
        f"Terrain anomaly detection with the default MLP autoencoder (m = {m}), scored by squared "
        "reconstruction error, PCA at the same m beside it. AP = average precision.\n\n"
        f"`{ctx.command('train', train_overrides(ctx))}`, then `aelab-eval ckpt_path=<run> "
        "task=[anomaly] anomaly=<protocol>` for each: "
        f"{wall:.0f} s wall in all here (jobs already done are not run again).\n\n"
    )
    return Section(text + markdown_table(header, rows) + "\n\n" + image + "\n")
