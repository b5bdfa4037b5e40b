"""Flatness of the second kind, measured: do codes move when the same ground is sampled elsewhere?

The claim: flat plains are flat in both senses (one basic structure; observed values so close to
the intrinsic ones that other sample points barely change the representation), summit-centred
mountain patches only in the first, and more sample points restore the second. One MLP AE per
resolution r = 5, 10, 20, 40 (m = 5, every class, mountain windows centred on the summit); then
`aelab.metrics.resampling.measure` on each: the test patches on the grid and re-sampled (grid
shifted by 1/4 and 1/2 cell, points jittered within 1/2 and 1 cell), shifts per class.
"""

import json

from matplotlib.figure import Figure

from aelab.experiments._context import Context, ExperimentError, Job, Section
from aelab.metrics import resampling
from aelab.runs.checkpoints import load_run

DOC = "docs/experiments.md"
RESOLUTIONS = (5, 10, 20, 40)
QUICK_RESOLUTIONS = (5, 10)
QUICK = ("data.train_size=2000", "data.val_size=200", "data.test_size=500", "trainer.max_epochs=1")
MAIN = "jitter 1 cell"  # each point anywhere in its cell: another sampling distribution
DRAWS = 3  # jittered point sets per resolution
LABELS = {
    "input": "inputs",
    "model_code": "AE",
    "pca_code": "PCA",
    "model_code_whitened": "AE",
    "pca_code_whitened": "PCA",
} | {f"model_probe_order_{k}": f"order {k}" for k in range(3)}
VERDICT = "model_code_whitened"  # every direction of the code in units of its own spread
BARELY = 0.05  # a code shift below 5 % of the code spread "barely changes" the representation


def _overrides(ctx: Context) -> list[str]:
    resolutions = QUICK_RESOLUTIONS if ctx.quick else RESOLUTIONS
    overrides = [
        f"data.resolution={','.join(map(str, resolutions))}",
        "data.mountain_offset=summit",
        "compression.latent_dim=5",
    ]
    return overrides + list(QUICK if ctx.quick else ())


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(_overrides(ctx)))]


def measure_resolutions(
    ctx: Context, sweep: str, overrides: list[str]
) -> tuple[dict[int, list[dict]], int]:
    """{r: measure rows} for every resolution the sweep trains (saved in the work dir as
    shifts.json), and the number of test samples."""
    measured, samples = {}, 0
    for result in ctx.train(sweep, overrides):
        if result.get("status") != "ok":
            raise ExperimentError(f"training failed in {result['job_dir']}: {result.get('reason')}")
        run = load_run(result["job_dir"])
        ctx.say(f"{ctx.name}: measuring r = {run.datamodule.resolution}")
        measured[run.datamodule.resolution] = resampling.measure(run, draws=DRAWS)
        samples = len(run.datamodule.split("test")["x"])
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    (ctx.work_dir / "shifts.json").write_text(json.dumps(measured, indent=1) + "\n")
    return dict(sorted(measured.items())), samples


def _table(measured: dict[int, list[dict]], name: str, keys: list[str]) -> str:
    """Rows: classes; columns: resolutions; cells: the values of `keys` for resampling `name`."""
    classes = [row["class"] for row in next(iter(measured.values())) if row["resampling"] == name]
    lines = [
        f"| class (cells {' / '.join(LABELS[k] for k in keys)}) | "
        + " | ".join(f"r = {r}" for r in measured)
        + " |",
        "|---" + "|---:" * len(measured) + "|",
    ]
    for cls in classes:
        cells = []
        for rows in measured.values():
            row = next(x for x in rows if x["resampling"] == name and x["class"] == cls)
            cells.append(" / ".join(f"{row[k]:.3f}" for k in keys))
        lines.append(f"| {cls} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def _value(measured: dict[int, list[dict]], r: int, cls: str, key: str, name: str = MAIN) -> float:
    rows = measured[r]
    return next(x[key] for x in rows if x["resampling"] == name and x["class"] == cls)


def _figure(measured: dict[int, list[dict]]) -> Figure:
    """Shift against r under the main resampling, one line per class, one panel per measure."""
    panels = {
        "input": "inputs",
        "model_code": "AE code",
        "model_code_whitened": "AE code, whitened",
        "pca_code_whitened": "PCA code (same m), whitened",
    }
    figure = Figure(figsize=(13, 3.8), layout="constrained")
    axes = figure.subplots(1, len(panels), sharey=True)
    resolutions = list(measured)
    classes = [x["class"] for x in measured[resolutions[0]] if x["resampling"] == MAIN]
    for ax, (key, title) in zip(axes, panels.items(), strict=True):
        for cls in classes:
            values = [max(_value(measured, r, cls, key), 1e-6) for r in resolutions]
            style = {"color": "k", "linewidth": 2} if cls == "all" else {}
            ax.plot(resolutions, values, marker="o", label=cls, **style)
        ax.axhline(BARELY, color="grey", linestyle=":", linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(resolutions, [str(r) for r in resolutions])
        ax.set_xlabel("resolution r (r x r points per km²)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel(f"RMS shift / spread, {MAIN}")
    axes[0].legend(fontsize=8)
    return figure


def verdict(measured: dict[int, list[dict]]) -> str:
    """Whether the claim holds, read from the AE's whitened code shift under the main resampling."""
    low, high = min(measured), max(measured)
    flat = {r: _value(measured, r, "flat", VERDICT) for r in measured}
    peak = {r: _value(measured, r, "mountain", VERDICT) for r in measured}
    worst_flat = max(flat.values())
    parts = {
        "flat plains barely move at every r": worst_flat < BARELY,
        f"summit mountains move at r = {low}": peak[low] >= BARELY,
        f"more points bring them below the line by r = {high}": peak[low] > peak[high]
        and peak[high] < BARELY,
    }
    held = [text for text, ok in parts.items() if ok]
    failed = [text for text, ok in parts.items() if not ok]
    restored = next(
        (r for r in measured if all(peak[s] < BARELY for s in measured if s >= r)), None
    )
    text = (
        f"Under `{MAIN}`, the AE's whitened code of flat plains moves by at most "
        f"{worst_flat:.1%} of the code spread (r = {low} … {high}); of summit-centred "
        f"mountains by {peak[low]:.1%} at "
        f"r = {low} and {peak[high]:.1%} at r = {high}"
    )
    text += f" (below {BARELY:.0%} from r = {restored} on). " if restored else ". "
    text += f'Taking {BARELY:.0%} of the spread as "barely changes", '
    if not failed:
        return text + "the claim holds for this model: " + "; ".join(held) + "."
    verdict = "holds in part" if held else "does not hold for this model"
    text += f"the claim {verdict}."
    if held:
        text += " Holds: " + "; ".join(held) + "."
    return text + " Does not hold: " + "; ".join(failed) + "."


def run(ctx: Context) -> Section:
    measured, patches = measure_resolutions(ctx, "models", _overrides(ctx))
    figure = ctx.save_figure(_figure(measured), "shift_vs_resolution", "shift against resolution")
    lines = [
        "`aelab-train -m " + " ".join(_overrides(ctx)) + "` (one MLP AE per resolution), "
        f"then `aelab.metrics.resampling.measure` on each: the {patches} test patches sampled "
        "on the grid and on other points of the same number (the grid shifted by 1/4 and 1/2 "
        "cell along x and y; each point jittered uniformly within 1/2 or 1 cell, "
        f"{DRAWS} draws), each encoded. A shift is the RMS distance between a patch's two codes "
        "(or inputs) divided by the spread of the grid codes (RMS distance to their mean, all "
        "classes): 0 is no change, two unrelated patches are about 1.4 apart. The plain code "
        "distance is dominated by the code's widest direction (altitude); *whitened*, the codes "
        "are first scaled by their covariance, so every direction (altitude, slopes, "
        "curvatures, ...) counts in units of its own spread. The verdict reads the whitened "
        "shift.",
        "",
        verdict(measured),
        "",
        f"Whitened code shift under `{MAIN}`, AE / PCA at the same m:",
        "",
        _table(measured, MAIN, ["model_code_whitened", "pca_code_whitened"]),
        f"Plain code shift under `{MAIN}`, AE / PCA, and the shift of the inputs:",
        "",
        _table(measured, MAIN, ["model_code", "pca_code", "input"]),
    ]
    for other in resampling.RESAMPLINGS:
        if other.name != MAIN:
            lines += [
                f"Whitened code shift under `{other.name}`, AE / PCA:",
                "",
                _table(measured, other.name, ["model_code_whitened", "pca_code_whitened"]),
            ]
    orders = [f"model_probe_order_{k}" for k in range(3)]
    lines += [
        f"Change of the AE's linear probe read-outs under `{MAIN}` (RMS, in standard deviations "
        "of each descriptor over the test split), order 0 / 1 / 2:",
        "",
        _table(measured, MAIN, orders),
        figure,
    ]
    return Section("\n".join(lines) + "\n")
