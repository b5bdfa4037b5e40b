"""sample_diversity: test error against the number of training patches, one class against five.

Mountains only against all five terrain classes x `data.train_size=500 ... 50000`, a 5-d latent
and a fixed number of optimisation steps (conf/experiment/sample_diversity.yaml).
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
METRICS = ["test/mse", "test/mse_over_pca"]
X = "data.train_size"


def overrides(ctx: Context) -> list[str]:
    if not ctx.quick:
        return ["experiment=sample_diversity"]
    return [
        "experiment=sample_diversity",
        "data.train_size=128,256",
        "data.val_size=64",
        "data.test_size=64",
        "trainer.max_steps=10",
        "trainer.val_check_interval=5",
    ]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def run(ctx: Context) -> Section:
    results = ctx.train("terrain", overrides(ctx))
    command = ctx.command("train", overrides(ctx))
    return Section(_report.comparison(ctx, results, METRICS, x_key=X, command=command))
