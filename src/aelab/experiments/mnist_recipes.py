"""mnist_recipes: the default MLP and conv autoencoders on MNIST t10k at m = 16 and 32.

Each row is the plain command `aelab-train data=mnist data.split=t10k model=<model>
compression.latent_dim=<m>` with today's defaults, run with three seeds (the default 42, 43, 44):
its test error (mean ± standard deviation over the seeds), closed-form PCA at the same m, and the
mean wall time of a job (from the result.json files).
"""

import statistics
from typing import Any

from aelab.compare import markdown_table
from aelab.experiments import _report
from aelab.experiments._context import Context, Job, Section

DOC = "README.md"
SEEDS = "seed=42,43,44"


def overrides(ctx: Context) -> list[str]:
    if ctx.quick:
        return [
            "model=mlp,conv",
            "compression.latent_dim=4",
            *ctx.mnist_overrides(),
            *ctx.smoke("mnist"),
        ]
    return ["model=mlp,conv", "compression.latent_dim=16,32", SEEDS, *ctx.mnist_overrides()]


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides(ctx)))]


def spread(values: list[float], digits: int) -> str:
    """``mean ± sd`` (one value: the value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _rows(results: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """One row per (model, m): its seeds' mean ± sd; failed seeds counted."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for result in results:
        config = result.get("config") or {}
        m = result.get("latent_dim") or (config.get("compression") or {}).get("latent_dim")
        groups.setdefault((str(result.get("model")), int(m)), []).append(result)
    rows = []
    for (model, m), members in groups.items():
        command = (
            f"`aelab-train data=mnist data.split=t10k model={model} compression.latent_dim={m}`"
        )
        ok = [r for r in members if r.get("status") == "ok"]
        failed = len(members) - len(ok)
        if not ok:
            rows.append((command, ["failed", "", "", "", members[0].get("reason", "")]))
            continue
        metric = {
            k: [r["metrics"][k] for r in ok]
            for k in ("test/mse", "test/pca_mse", "test/mse_over_pca")
        }
        seeds = f"{len(ok)}" + (f" ({failed} failed)" if failed else "")
        rows.append(
            (
                command,
                [
                    spread(metric["test/mse"], 5),
                    f"{statistics.fmean(metric['test/pca_mse']):.5f}",
                    spread(metric["test/mse_over_pca"], 3),
                    seeds,
                    f"{ok[0].get('epochs')}",
                    f"{statistics.fmean(r['wall_seconds'] for r in ok):.0f} s "
                    f"({statistics.fmean(r['fit_seconds'] for r in ok):.0f} s fitting)",
                ],
            )
        )
    return rows


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    ctx.n_jobs = 1  # one job at a time: each wall is what the plain command takes alone
    results = ctx.train("mnist", overrides(ctx))
    header = ["command", "test/mse", "PCA, same m", "ratio", "seeds", "epochs", "wall per job"]
    table = markdown_table(header, _rows(results))
    text = f"`{ctx.command('train', overrides(ctx))}`: {_report.summary(results)}.\n\n{table}"
    return Section(text)
