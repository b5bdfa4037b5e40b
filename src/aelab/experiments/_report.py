"""Sections made of aelab-compare's tables and figure, for the sweep experiments."""

import math
from typing import Any

from aelab import compare
from aelab.experiments._context import Context


def summary(results: list[dict[str, Any]]) -> str:
    """'N jobs (k ok), sum of job walls X s' of one or more sweeps."""
    ok = sum(r.get("status") == "ok" for r in results)
    walls = [float(r.get("wall_seconds") or 0) for r in results]
    return f"{len(results)} jobs ({ok} ok), {sum(walls):.0f} s of job wall time in total"


def tables(results: list[dict[str, Any]], metrics: list[str], x_key: str = "eta") -> str:
    """Per dataset and metric: "data, `metric`:" and aelab-compare's table; then failed jobs."""
    jobs = compare.jobs_from_results(results, x_key)
    parts = []
    for data, group in compare.by_dataset(jobs).items():
        found, _ = compare.metric_tables(group, metrics, x_key, extra=False)
        for metric, table in found:
            parts += [f"{data}, `{metric}`:", "", table, ""]
    failed = [j for j in jobs if not j.ok]
    if failed:
        parts += ["Failed jobs:", ""]
        parts += [f"- {j.label or j.model} ({j.data}, x={j.x}): {j.reason}" for j in failed]
        parts.append("")
    return "\n".join(parts)


def curve(
    ctx: Context, results: list[dict[str, Any]], metric: str, x_key: str = "eta", name: str = ""
) -> str:
    """aelab-compare's figure of `metric` against x, saved; the Markdown image line."""
    jobs = compare.jobs_from_results(results, x_key)
    if not any(j.ok and math.isfinite(j.metrics.get(metric, math.nan)) for j in jobs):
        return f"(no finished job recorded {metric}: no figure)"
    fig = compare.curve_figure(jobs, metric, x_key)
    return ctx.save_figure(fig, name or "compression_curve", title=ctx.name)


def comparison(
    ctx: Context,
    results: list[dict[str, Any]],
    metrics: list[str],
    x_key: str = "eta",
    command: str = "",
) -> str:
    """The whole section of a sweep experiment: what ran, the tables, the figure."""
    head = f"`{command}`: " if command else ""
    return "\n".join(
        [
            f"{head}{summary(results)}.",
            "",
            tables(results, metrics, x_key),
            curve(ctx, results, metrics[0], x_key),
        ]
    )
