"""overcomplete_identity: does an overcomplete AE (eta = 2) learn the identity and reconstruct noise?

`model=mlp` with one 256-unit hidden layer, `regularizer=none,denoising,sparse_kl,topk` x
`compression.ratio=0.5,2` on terrain (conf/experiment/overcomplete_identity.yaml).
The headline metric is the error on uniform noise relative to a reference (0: the identity):
`test/noise_mse_over_mean` (over the error of predicting the data mean) where the models record
it, else `test/noise_mse_ratio` (over the noise's variance).
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
NOISE_METRICS = ["test/noise_mse_over_mean", "test/noise_mse_ratio"]


def overrides(ctx: Context) -> list[str]:
    quick = ["regularizer=none,topk", "compression.ratio=2.0"] if ctx.quick else []
    return ["experiment=overcomplete_identity", *quick, *ctx.smoke()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def run(ctx: Context) -> Section:
    results = ctx.train("terrain", overrides(ctx))
    recorded = {key for r in results for key in r.get("metrics", {})}
    noise = next((m for m in NOISE_METRICS if m in recorded), NOISE_METRICS[0])
    command = ctx.command("train", overrides(ctx))
    return Section(_report.comparison(ctx, results, [noise, "test/mse"], command=command))
