"""overcomplete_identity: does an overcomplete AE (eta = 2) learn the identity and reconstruct noise?

`model=mlp` with one 256-unit hidden layer, `regularizer=none,denoising,sparse_kl,topk` x
`compression.ratio=0.5,2` on terrain (conf/experiment/overcomplete_identity.yaml).
The headline metric is `test/noise_mse_over_mean`: the error on uniform noise over the error of
answering the training mean whatever the input (0: the identity, 1: the input ignored). The
network has no linear path here: started at PCA it would start at the identity.
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"


def overrides(ctx: Context) -> list[str]:
    quick = ["regularizer=none,topk", "compression.ratio=2.0"] if ctx.quick else []
    return ["experiment=overcomplete_identity", *quick, *ctx.smoke()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def run(ctx: Context) -> Section:
    results = ctx.train("terrain", overrides(ctx))
    command = ctx.command("train", overrides(ctx))
    metrics = ["test/noise_mse_over_mean", "test/mse"]
    return Section(_report.comparison(ctx, results, metrics, command=command))
