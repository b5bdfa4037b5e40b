"""terrain_resolution: the same 1 km patches at r = 5, 10, 20, 40 with a 5-d latent.

Smooth (flat + hills) against rough (mountain + urban) ground, "flatness of the second kind"
(conf/experiment/terrain_resolution.yaml). Errors are in standardised units of each mixture.
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
METRICS = ["test/mse", "test/mse_over_pca"]
X = "data.resolution"


def overrides(ctx: Context) -> list[str]:
    quick = ["data.resolution=5,10"] if ctx.quick else []
    return ["experiment=terrain_resolution", *quick, *ctx.smoke()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def run(ctx: Context) -> Section:
    results = ctx.train("terrain", overrides(ctx))
    command = ctx.command("train", overrides(ctx))
    return Section(_report.comparison(ctx, results, METRICS, x_key=X, command=command))
