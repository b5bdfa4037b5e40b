"""compression_curve: MLP, conv and VAE autoencoders against closed-form PCA across eta.

`model=mlp,conv,vae` x `compression.ratio=0.01 ... 0.5` on terrain
(conf/experiment/compression_curve.yaml).
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
METRICS = ["test/mse", "test/mse_over_pca"]


def overrides(ctx: Context) -> list[str]:
    quick = ["model=mlp,vae", "compression.ratio=0.05"] if ctx.quick else []
    return ["experiment=compression_curve", *quick, *ctx.smoke()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def run(ctx: Context) -> Section:
    results = ctx.train("terrain", overrides(ctx))
    command = ctx.command("train", overrides(ctx))
    return Section(_report.comparison(ctx, results, METRICS, command=command))
