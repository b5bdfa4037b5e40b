"""pca_equivalence: a tied linear AE reaches closed-form PCA; the uncentred variant the uncentred bound.

Linear AE, `model.variant=uncentred,pca` x five ratios (conf/experiment/pca_equivalence.yaml) on
terrain and on MNIST t10k. The largest principal angle between the learned subspace and PCA's is
computed from each run's best checkpoint at test time (`aelab.metrics.subspace`).
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
METRICS = [
    "test/mse",
    "test/mse_over_pca",
    "test/mse_over_pca_uncentred",
    "test/max_principal_angle_deg",
]


def sweeps(ctx: Context) -> dict[str, list[str]]:
    base = ["experiment=pca_equivalence"]
    if ctx.quick:
        base += ["model.variant=uncentred,pca", "compression.ratio=0.05"]
    return {
        "terrain": [*base, *ctx.smoke("terrain")],
        "mnist": [
            *base,
            *ctx.mnist_overrides(),
            "data.batch_size=256",
            "trainer.max_steps=2500",  # 80 epochs of the 8000 training images
            *ctx.smoke("mnist"),
        ],
    }


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides)) for overrides in sweeps(ctx).values()]


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    results, commands = [], []
    for name, overrides in sweeps(ctx).items():
        results += ctx.train(name, overrides)
        commands.append(ctx.command("train", overrides))
    command = "` and `".join(commands)
    return Section(_report.comparison(ctx, results, METRICS, command=command))
