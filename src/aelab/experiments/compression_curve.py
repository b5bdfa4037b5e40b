"""compression_curve: MLP, conv and VAE autoencoders against closed-form PCA across eta.

`model=mlp,conv,vae` x `compression.ratio=0.01 ... 0.5` on terrain
(conf/experiment/compression_curve.yaml), then the MLP and conv AEs at the same ratios on MNIST
t10k (m = 8 ... 392), each over three seeds (`SEEDS`): the tables and the figure show the mean
and the standard deviation over them.
"""

from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "docs/experiments.md"
METRICS = ["test/mse", "test/mse_over_pca"]
SEEDS = (
    "seed=42,43,44"  # the default seed and two more: a difference smaller than the spread is noise
)


def terrain(ctx: Context) -> list[str]:
    quick = ["model=mlp,vae", "compression.ratio=0.05"] if ctx.quick else [SEEDS]
    return ["experiment=compression_curve", *quick, *ctx.smoke()]


def mnist(ctx: Context) -> list[str]:
    grid = ["model=mlp", "compression.ratio=0.02"] if ctx.quick else ["model=mlp,conv", SEEDS]
    return ["experiment=compression_curve", *grid, *ctx.mnist_overrides(), *ctx.smoke("mnist")]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(terrain(ctx))), Job("train", tuple(mnist(ctx)))]


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    results = ctx.train("terrain", terrain(ctx)) + ctx.train("mnist", mnist(ctx))
    commands = f"{ctx.command('train', terrain(ctx))}` and `{ctx.command('train', mnist(ctx))}"
    return Section(_report.comparison(ctx, results, METRICS, command=commands))
