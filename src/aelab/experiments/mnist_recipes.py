"""mnist_recipes: the default MLP and conv autoencoders on MNIST t10k at m = 16 and 32.

Each row is the plain command `aelab-train data=mnist data.split=t10k model=<model>
compression.latent_dim=<m>` with today's defaults, its test error, closed-form PCA at the same m,
and the job's wall time (from its result.json).
"""

from typing import Any

from aelab.compare import markdown_table
from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "README.md"


def overrides(ctx: Context) -> list[str]:
    if ctx.quick:
        return [
            "model=mlp,conv",
            "compression.latent_dim=4",
            *ctx.mnist_overrides(),
            *ctx.smoke("mnist"),
        ]
    return ["model=mlp,conv", "compression.latent_dim=16,32", *ctx.mnist_overrides()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def _row(result: dict[str, Any]) -> tuple[str, list[str]]:
    config = result.get("config") or {}
    m = result.get("latent_dim") or (config.get("compression") or {}).get("latent_dim")
    command = (
        f"`aelab-train data=mnist data.split=t10k model={result.get('model')} "
        f"compression.latent_dim={m}`"
    )
    if result.get("status") != "ok":
        return command, ["failed", "", "", "", result.get("reason", "")]
    metrics = result["metrics"]
    return command, [
        f"{metrics['test/mse']:.5f}",
        f"{metrics['test/pca_mse']:.5f}",
        f"{metrics['test/mse_over_pca']:.3f}",
        f"{result.get('epochs')}",
        f"{result['wall_seconds']:.0f} s ({result['fit_seconds']:.0f} s fitting)",
    ]


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    ctx.n_jobs = 1  # one job at a time: each wall is what the plain command takes alone
    results = ctx.train("mnist", overrides(ctx))
    header = ["command", "test/mse", "PCA, same m", "ratio", "epochs", "wall per job"]
    table = markdown_table(header, [_row(r) for r in results])
    text = f"`{ctx.command('train', overrides(ctx))}`: {_report.summary(results)}.\n\n{table}"
    return Section(text)
