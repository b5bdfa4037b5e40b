"""ordered_curve: the whole compression curve from one training, against one training per eta.

- **Linear, ordered** (`ordered=nested`, terrain m = 10 and MNIST t10k m = 32, 50 000 steps,
  every prefix reported): the prefix errors against PCA at every k, and each encoder direction
  against its principal axis, where the eigen-gap defines that axis; an unordered linear AE
  beside it.
- **MLP and conv, ordered** (`ordered=matryoshka` and `ordered=nested`, one run each at the
  largest eta of the compression_curve grid, 0.5): each prefix error against the dedicated
  per-eta model of the same sweep (`model=mlp,conv` x the grid, run here side by side), the
  validation error against PCA at each k, and the cost: the ordered run's job wall against the
  sum of the sweep's.
- **Budgets on any data size**: the linear AE at its defaults on MNIST t10k (m = 16), terrain
  (m = 5) and a 1,000-row array of 100 features (m = 5).
"""

import math
from typing import Any

import numpy as np

from aelab import compare
from aelab.compare import markdown_table
from aelab.experiments import _report
from aelab.experiments._context import ROOT, Context, Job, Section

DOC = "docs/experiments.md"
ETA_GRID = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)  # conf/experiment/compression_curve.yaml
LINEAR_M = {"terrain": 10, "mnist": 32}
ORDERED = "ordered=matryoshka,nested"
ARRAY_ROWS, ARRAY_FEATURES = 1000, 100


# --- the sweeps ---------------------------------------------------------------------------------
def data(ctx: Context, name: str) -> list[str]:
    return ctx.mnist_overrides() if name == "mnist" else ["data=terrain"]


# the linear AE's axes converge slowly where eigen-gaps are small or eigenvalues span orders of
# magnitude: a long budget at a smaller rate, the same for the unordered AE beside it
LINEAR_BUDGET = {
    "terrain": ["data.batch_size=64", "trainer.max_steps=50000", "model.lr=0.003"],
    "mnist": ["trainer.max_steps=50000", "model.lr=0.003"],
}
LINEAR_ORDERED = {"none": ["ordered=none"], "nested": ["ordered=nested"]}


def linear(ctx: Context, name: str, option: str) -> list[str]:
    m = LINEAR_M[name] if not ctx.quick else 4
    every = ",".join(str(k) for k in range(1, m + 1))
    return [
        "model=linear",
        *LINEAR_ORDERED[option],
        f"compression.latent_dim={m}",
        f"ordered.prefix_sizes=[{every}]",
        *data(ctx, name),
        *LINEAR_BUDGET[name],
        *ctx.smoke(name),
    ]


def per_eta(ctx: Context, name: str) -> list[str]:
    grid = ["model=mlp", "compression.ratio=0.1,0.5"] if ctx.quick else ["model=mlp,conv"]
    return ["experiment=compression_curve", *grid, *data(ctx, name), *ctx.smoke(name)]


def ordered(ctx: Context, name: str) -> list[str]:
    models = "model=mlp" if ctx.quick else "model=mlp,conv"
    return [
        "experiment=compression_curve",
        models,
        f"compression.ratio={max(ETA_GRID)}",
        ORDERED,
        *data(ctx, name),
        *ctx.smoke(name),
    ]


def array_path(ctx: Context) -> str:
    """The 1,000-row array, relative to the project root (the config hash is the same anywhere)."""
    path = ctx.work_dir / "rows.npy"
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def budgets(ctx: Context) -> dict[str, list[str]]:
    """The linear AE at its defaults (nothing but the data and m) on three data sizes."""
    return {
        "budget_mnist": [
            "model=linear",
            "compression.latent_dim=16",
            *data(ctx, "mnist"),
            *ctx.smoke("mnist"),
        ],
        "budget_terrain": [
            "model=linear",
            "compression.latent_dim=5",
            "data=terrain",
            *ctx.smoke("terrain"),
        ],
        "budget_array": [
            "model=linear",
            "compression.latent_dim=5",
            "data=array",
            f"data.path={array_path(ctx)}",
            *ctx.smoke("terrain"),
        ],
    }


def sweeps(ctx: Context) -> dict[str, list[str]]:
    found = {}
    for name in ("terrain", "mnist"):
        for option in LINEAR_ORDERED:
            found[f"linear_{option}_{name}"] = linear(ctx, name, option)
        found[f"per_eta_{name}"] = per_eta(ctx, name)
        found[f"ordered_{name}"] = ordered(ctx, name)
    return {**found, **budgets(ctx)}


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(overrides)) for overrides in sweeps(ctx).values()]


def small_array(rows: int = ARRAY_ROWS, features: int = ARRAY_FEATURES, seed: int = 0):
    """A user's small data set: a 5-dimensional signal along random directions, plus noise in
    every feature (float32, rows x features)."""
    rng = np.random.default_rng(seed)
    directions, _ = np.linalg.qr(rng.normal(size=(features, 5)))
    signal = rng.normal(size=(rows, 5)) * np.array([5.0, 4.0, 3.0, 2.0, 1.5])
    noise = 0.3 * rng.normal(size=(rows, features))
    return (signal @ directions.T + noise).astype(np.float32)


def make_array(ctx: Context) -> None:
    path = ROOT / array_path(ctx)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, small_array())


# --- reading the results ------------------------------------------------------------------------
def fmt(value: float, digits: int = 4) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}g}"


def prefix(result: dict[str, Any], name: str, k: int) -> float:
    return float(result.get("metrics", {}).get(f"{name}@{k}", math.nan))


def linear_section(name: str, runs: dict[str, dict[str, Any]]) -> str:
    """Per ordering: the worst prefix against PCA, and the axes against PCA's axes."""
    rows = []
    for option, result in runs.items():
        sizes = result.get("prefix_sizes") or []
        worst = max((prefix(result, "test/mse_over_pca", k) for k in sizes), default=math.nan)
        axes = result.get("axes") or []
        resolved = [a for a in axes if a["resolved"]]
        unresolved = [a for a in axes if not a["resolved"]]
        rows.append(
            (
                f"`ordered={option}`",
                [
                    fmt(worst),
                    f"{len(resolved)} of {len(axes)}",
                    fmt(max((a["angle_deg"] for a in resolved), default=math.nan), 3),
                    ", ".join(
                        f"{a['axis']} ({a['angle_deg']:.1f}°)"
                        for a in resolved
                        if a["angle_deg"] > 5
                    )
                    or "none",
                    ", ".join(
                        f"{a['axis']} ({100 * a['eigengap']:.1f} %, {a['angle_deg']:.0f}°)"
                        for a in unresolved
                    )
                    or "none",
                ],
            )
        )
    m = next(iter(runs.values())).get("latent_dim")
    return markdown_table(
        [
            f"{name}, linear AE, m = {m}",
            "largest test/mse@k / PCA(k), k = 1..m",
            "axes with eigen-gap ≥ 5 %",
            "their largest angle to PCA's axis (°)",
            "of those, axes above 5° (angle)",
            "axes with a smaller gap (gap, angle)",
        ],
        rows,
    )


def axes_figure(ctx: Context, found: dict[str, list[dict[str, Any]]]) -> str:
    """Angle of each latent's direction to its principal axis, per dataset and ordering."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    for ax, name in zip(fig.subplots(1, 2), ("terrain", "mnist"), strict=True):
        for option, colour in zip(LINEAR_ORDERED, ("0.6", "C0"), strict=True):
            axes = (found[f"linear_{option}_{name}"][0].get("axes")) or []
            for resolved in (True, False):
                points = [(a["axis"], a["angle_deg"]) for a in axes if a["resolved"] == resolved]
                if points:
                    ax.plot(
                        *zip(*points, strict=True),
                        "o" if resolved else "x",
                        color=colour,
                        label=f"ordered={option}, " + ("gap ≥ 5 %" if resolved else "gap < 5 %"),
                    )
        ax.axhline(5, color="black", linestyle=":", linewidth=1)
        ax.set_xlabel("latent j")
        ax.set_ylabel("angle to PCA's j-th axis (°)")
        ax.set_ylim(0, 90)
        ax.set_title(f"{name}: linear AE")
        ax.legend(fontsize="small")
    return ctx.save_figure(fig, "linear_axes", title="linear AE: axis by axis")


def dedicated(results: list[dict[str, Any]], model: str, eta: float) -> dict[str, Any] | None:
    for r in results:
        ratio = ((r.get("config") or {}).get("compression") or {}).get("ratio")
        if r.get("model") == model and ratio is not None and math.isclose(ratio, eta):
            return r
    return None


def curve_section(
    name: str, per: list[dict[str, Any]], ordered_runs: list[dict[str, Any]]
) -> tuple[str, list[tuple[str, list[str]]]]:
    """The table of prefix errors against the dedicated models, and the cost rows."""
    rows, costs = [], []
    for run in ordered_runs:
        model, option, n = run.get("model"), run.get("ordered"), run.get("input_dim") or 1
        sweep = [r for r in per if r.get("model") == model]
        for k in run.get("prefix_sizes") or []:
            eta = next((e for e in ETA_GRID if max(1, round(e * n)) == k), k / n)
            own = dedicated(per, model, eta) or {}
            own_mse = float(own.get("metrics", {}).get("test/mse", math.nan))
            mse, pca = prefix(run, "test/mse", k), prefix(run, "test/pca_mse", k)
            val = prefix(run, "val/mse", k) / prefix(run, "val/pca_mse", k)
            rows.append(
                (
                    f"{model} `ordered={option}`",
                    [
                        f"{eta:g}",
                        str(k),
                        fmt(pca),
                        fmt(own_mse),
                        fmt(mse),
                        fmt(mse / own_mse, 3),
                        fmt(mse / pca, 3),
                        fmt(val, 4),
                    ],
                )
            )
        walls = sum(float(r.get("wall_seconds") or 0) for r in sweep)
        wall = float(run.get("wall_seconds") or 0)
        costs.append(
            (
                f"{name}, {model} `ordered={option}`",
                [
                    f"{wall:.0f} s",
                    f"{walls:.0f} s ({len(sweep)} jobs)",
                    fmt(wall / walls if walls else math.nan, 3),
                ],
            )
        )
    table = markdown_table(
        [
            f"{name}: one run",
            "η",
            "k",
            "PCA(k), test",
            "per-η model, test",
            "prefix k, test",
            "prefix / per-η",
            "prefix / PCA",
            "prefix / PCA, val",
        ],
        rows,
    )
    return table, costs


def budget_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
    rows = []
    for label, result in results.items():
        metrics = result.get("metrics") or {}
        rows.append(
            (
                label,
                [
                    str(result.get("latent_dim")),
                    str(result.get("epochs")),
                    fmt(metrics.get("test/mse_over_pca", math.nan), 4),
                    fmt(float(result.get("fit_seconds") or math.nan), 3),
                ],
            )
        )
    return rows


def run(ctx: Context) -> Section:
    if not ctx.quick:
        ctx.require_mnist()
    make_array(ctx)
    found = {name: ctx.train(name, overrides) for name, overrides in sweeps(ctx).items()}
    parts = [f"{_report.summary([r for rs in found.values() for r in rs])}.", ""]
    for name in ("terrain", "mnist"):
        runs = {option: found[f"linear_{option}_{name}"][0] for option in LINEAR_ORDERED}
        commands = " and ".join(
            f"`{ctx.command('train', linear(ctx, name, option))}`" for option in LINEAR_ORDERED
        )
        parts += [f"{commands}:", "", linear_section(name, runs), ""]
    parts += [axes_figure(ctx, found), ""]
    costs = []
    for name in ("terrain", "mnist"):
        table, cost = curve_section(name, found[f"per_eta_{name}"], found[f"ordered_{name}"])
        costs += cost
        parts += [
            f"`{ctx.command('train', ordered(ctx, name))}` beside "
            f"`{ctx.command('train', per_eta(ctx, name))}`:",
            "",
            table,
            "",
        ]
    parts += [
        "Cost (job wall, the same experiment run, 2 jobs at a time):",
        "",
        markdown_table(["ordered run", "its wall", "per-η sweep", "ratio"], costs),
        "",
    ]
    labels = {
        "budget_mnist": "MNIST t10k (8000 training images)",
        "budget_terrain": "terrain (20 000 patches)",
        "budget_array": f"{ARRAY_ROWS} rows of {ARRAY_FEATURES} features (800 for training; "
        "a 5-d signal plus noise)",
    }
    budget = {labels[k]: found[k][0] for k in labels}
    parts += [
        "The linear AE at its defaults (`aelab-train model=linear compression.latent_dim=M "
        "data=...`, 3000 steps):",
        "",
        markdown_table(["data", "m", "epochs", "test/mse / PCA", "fit s"], budget_rows(budget)),
        "",
    ]
    everything = [r for name in ("terrain", "mnist") for r in found[f"per_eta_{name}"]]
    everything += [r for name in ("terrain", "mnist") for r in found[f"ordered_{name}"]]
    jobs_ = compare.jobs_from_results(everything)
    if any(j.ok for j in jobs_):
        fig = compare.curve_figure(jobs_, "test/mse", "eta")
        parts.append(ctx.save_figure(fig, "ordered_curve", title="ordered_curve"))
    return Section("\n".join(parts) + "\n")
