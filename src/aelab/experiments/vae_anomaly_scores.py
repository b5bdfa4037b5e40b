"""Which VAE score finds MNIST anomalies: the plug-in value, the K-sample ELBO or the IWAE bound.

One VAE per digit d (experiment=anomaly_mnist model=vae: Bernoulli decoder, m = 16, t10k split,
trained on d alone); aelab-eval scores the test part (the other digits are the anomalies) with
each ``anomaly.vae_score`` and the PCA detector at the same m. Quick mode: digits 0 and 1, one
epoch.
"""

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from aelab.experiments._context import Context, ExperimentError, Job, Section

DOC = "docs/experiments.md"
SCORES = ("plugin", "elbo", "iwae")
SAMPLES = 16  # posterior samples K of elbo and iwae
HEADERS = {
    "pca": "PCA",
    "plugin": "plug-in",
    "elbo": f"ELBO, K={SAMPLES}",
    "iwae": f"IWAE, K={SAMPLES}",
}


def digits(ctx: Context) -> list[int]:
    return [0, 1] if ctx.quick else list(range(10))


EPOCHS = 30  # the VAE learns more slowly than the AE of anomaly_mnist (10 epochs)


def train_overrides(ctx: Context) -> list[str]:
    sweep = ",".join(f"[{d}]" for d in digits(ctx))
    epochs = 1 if ctx.quick else EPOCHS
    scale = [
        "trainer.max_steps=-1",  # a budget in epochs: one validation at the end of the last
        f"trainer.max_epochs={epochs}",
        f"trainer.check_val_every_n_epoch={epochs}",
    ]
    sizes = [o for o in ctx.smoke("mnist") if o.startswith("data.")]  # --quick: tiny splits
    return [
        "experiment=anomaly_mnist",
        "model=vae",
        *ctx.mnist_overrides(),
        f"data.classes={sweep}",
        *sizes,
        *scale,
    ]


def eval_overrides(ctx: Context, run_dirs: list[str]) -> list[str]:
    folder = ctx.mnist_dir or Path("data/mnist")
    return [
        f"ckpt_path={','.join(run_dirs)}",
        "task=[anomaly]",
        "anomaly.score=elbo",
        f"anomaly.vae_score={','.join(SCORES)}",
        f"anomaly.samples={SAMPLES}",
        f"data.data_dir={folder}",
    ]


def jobs(ctx: Context) -> list[Job]:
    run_dirs = [str(ctx.work_dir / "train" / str(i)) for i in range(len(digits(ctx)))]
    return [
        Job("train", tuple(train_overrides(ctx))),
        Job("eval", tuple(eval_overrides(ctx, run_dirs))),
    ]


def auroc_table(reports: list[dict[str, Any]]) -> dict[int, dict[str, float]]:
    """{digit: {pca | plugin | elbo | iwae: AUROC}} from the eval reports."""
    table: dict[int, dict[str, float]] = {}
    for report in reports:
        if report.get("status") != "ok":
            raise ExperimentError(f"an evaluation failed: {report.get('reason')}")
        found = report["tasks"]["anomaly"]
        digit = int(report["data"]["classes"][0])  # the training run's data config
        row = table.setdefault(digit, {"pca": found["pca"]["auroc"]})
        row[found["vae_score"]] = found["model"]["auroc"]
    return dict(sorted(table.items()))


def figure(table: dict[int, dict[str, float]]) -> Figure:
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.subplots()
    width = 0.2
    for i, key in enumerate(HEADERS):
        positions = [d + (i - 1.5) * width for d in table]
        ax.bar(positions, [row[key] for row in table.values()], width, label=HEADERS[key])
    ax.set_xticks(list(table), [str(d) for d in table])
    ax.set_xlabel("normal digit")
    ax.set_ylabel("test AUROC")
    low = min(v for row in table.values() for v in row.values())
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=8, ncols=4, loc="outside upper center")
    return fig


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    results = ctx.train("train", train_overrides(ctx))
    bad = [r for r in results if r.get("status") != "ok"]
    if bad:
        raise ExperimentError(f"a training run failed: {bad[0].get('reason')}")
    reports = ctx.evaluate("eval", eval_overrides(ctx, [r["job_dir"] for r in results]))
    table = auroc_table(reports)
    image = ctx.save_figure(figure(table), "vae_anomaly_scores", "AUROC per digit")
    lines = [
        "| digit | " + " | ".join(HEADERS.values()) + " |",
        "|---:|" + "---:|" * len(HEADERS),
    ]
    for digit, row in table.items():
        lines.append(f"| {digit} | " + " | ".join(f"{row[k]:.4f}" for k in HEADERS) + " |")
    means = {k: sum(row[k] for row in table.values()) / len(table) for k in HEADERS}
    lines.append("| mean | " + " | ".join(f"{means[k]:.4f}" for k in HEADERS) + " |")
    epochs = "1 epoch" if ctx.quick else f"{EPOCHS} epochs"
    text = (
        f"MNIST one-class test AUROC of a VAE (Bernoulli decoder, m = 16, {epochs} on one digit "
        "of the t10k train part; anomalies = the other digits of its test part) under three "
        "scores: plug-in = BCE at the posterior mean + KL (the training terms), ELBO = "
        f"-(1/K) sum_k log p(x|z_k) + KL with K = {SAMPLES} posterior samples, IWAE = "
        f"-log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), K = {SAMPLES}; PCA at the same m for "
        "reference.\n\n"
    )
    return Section(text + "\n".join(lines) + "\n\n" + image + "\n")
