"""real_terrain: the terrain thought experiment on real ground, beside the synthetic terrain.

The real ground is matplotlib's Jacksboro fault DEM (`aelab.data.sample_dem`), written as a
GeoTIFF in the work folder and read by `data=dem`: 1 km windows every 250 m, split by 4 km
blocks. On it and on the synthetic terrain (the defaults):

- the compression curve of the MLP and conv AEs against PCA (η = 0.02 ... 0.2);
- the probes order by order (mean altitude, slopes, curvatures) from the MLP's code at m = 5
  against PCA's (`aelab-eval task=[embedding]`);
- leakage: the same MLP trained and tested with ``data.split=random`` (overlapping windows in
  train and test) against the spatial blocks;
- summit-centred against random windows (`anomaly=dem_sampling_bias`);
- the second kind of flatness: one MLP per resolution r = 5 ... 40 (m = 5), its test windows
  read again on shifted and jittered points (`aelab.metrics.resampling`), per relief class.
"""

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from aelab.compare import markdown_table
from aelab.data.sample_dem import write_sample_dem
from aelab.experiments._context import ROOT, Context, ExperimentError, Job, Section
from aelab.experiments.anomaly_mnist import checked, detector_row
from aelab.experiments.terrain_resampling import MAIN, measure_resolutions
from aelab.metrics.probe_tables import order_table
from aelab.runs.checkpoints import load_run

DOC = "docs/real-terrain.md"
RATIOS = "0.02,0.05,0.1,0.2"
PROBED = ("mlp", 0.05)  # the model whose code is probed, tested for leakage and for summits
RESOLUTIONS = "5,10,20,40"
QUICK = ("trainer.max_steps=20",)
DEM_SHOWN = "$DEM"  # how the commands name the GeoTIFF


def dem_path(ctx: Context) -> str:
    """The GeoTIFF in the work folder, relative to the project (the runs start there)."""
    path = ctx.work_dir / "jacksboro.tif"
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def dem(ctx: Context) -> list[str]:
    return ["data=dem", f"data.path={dem_path(ctx)}", "data.stride_m=250"]


def quick(ctx: Context) -> list[str]:
    return list(QUICK) if ctx.quick else []


def curve(ctx: Context) -> list[str]:
    grid = (
        ["model=mlp", "compression.ratio=0.05"]
        if ctx.quick
        else ["model=mlp,conv", f"compression.ratio={RATIOS}"]
    )
    return [*dem(ctx), *grid, *quick(ctx)]


def synthetic(ctx: Context) -> list[str]:
    grid = (
        ["model=mlp", "compression.ratio=0.05"]
        if ctx.quick
        else ["model=mlp,conv", f"compression.ratio={RATIOS}"]
    )
    return [*grid, *ctx.smoke()]


def leaky(ctx: Context) -> list[str]:
    model, ratio = PROBED
    return [
        *dem(ctx),
        "data.split=random",
        f"model={model}",
        f"compression.ratio={ratio}",
        *quick(ctx),
    ]


def resolutions(ctx: Context) -> list[str]:
    grid = "5" if ctx.quick else RESOLUTIONS
    return [
        *dem(ctx),
        "model=mlp",
        "compression.latent_dim=5",
        f"data.resolution={grid}",
        *quick(ctx),
    ]


def probed_dir(ctx: Context, sweep: str) -> str:
    """The job folder of the probed model in a curve sweep (mlp is first, then the ratios)."""
    index = 0 if ctx.quick else RATIOS.split(",").index(str(PROBED[1]))
    return str((ctx.work_dir / sweep / str(index)).resolve())


def probe_eval(run_dir: str) -> list[str]:
    return [f"ckpt_path={run_dir}", "task=[embedding]"]


def summit_eval(run_dir: str) -> list[str]:
    return [f"ckpt_path={run_dir}", "task=[anomaly]", "anomaly=dem_sampling_bias"]


def jobs(ctx: Context) -> list[Job]:
    real, made = probed_dir(ctx, "curve"), probed_dir(ctx, "synthetic")
    return [
        Job("train", tuple(curve(ctx))),
        Job("train", tuple(synthetic(ctx))),
        Job("train", tuple(leaky(ctx))),
        Job("train", tuple(resolutions(ctx))),
        Job("eval", tuple(probe_eval(real))),
        Job("eval", tuple(probe_eval(made))),
        Job("eval", tuple(summit_eval(real))),
    ]


# --- the parts -----------------------------------------------------------------------------------
def _floats(table: dict) -> dict:
    return {k: _floats(v) if isinstance(v, dict) else float(v) for k, v in table.items()}


def _by_model_and_eta(results: list[dict[str, Any]]) -> dict[tuple[str, float], dict[str, Any]]:
    return {(r["model"], round(r["compression_ratio"], 4)): r for r in results}


def curve_table(real: list[dict], made: list[dict]) -> str:
    """Rows (model, η, m); test MSE over PCA on the DEM and on the synthetic terrain."""
    real_by, made_by = _by_model_and_eta(real), _by_model_and_eta(made)
    rows = []
    for key in sorted(real_by, key=lambda k: (k[0], k[1])):
        r, s = real_by[key], made_by.get(key)
        rows.append(
            (
                key[0],
                [
                    f"{key[1]:g}",
                    str(r["latent_dim"]),
                    f"{r['metrics']['test/mse_over_pca']:.4f}",
                    f"{r['metrics']['test/pca_mse']:.5f}",
                    f"{s['metrics']['test/mse_over_pca']:.4f}" if s else "",
                ],
            )
        )
    header = ["model", "η", "m", "DEM: AE / PCA", "DEM: PCA MSE", "synthetic: AE / PCA"]
    return markdown_table(header, rows) + "\n"


def curve_figure(real: list[dict], made: list[dict]) -> Figure:
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    for results, style, where in ((real, "-", "DEM"), (made, "--", "synthetic")):
        for model in sorted({r["model"] for r in results}):
            points = sorted(
                (r["latent_dim"], r["metrics"]["test/mse_over_pca"])
                for r in results
                if r["model"] == model
            )
            ax.plot(*zip(*points, strict=True), style, marker="o", label=f"{model}, {where}")
    ax.axhline(1.0, color="grey", linewidth=1, label="PCA (same m)")
    ax.set_xscale("log")
    ax.set_xlabel("latent size m (n = 100)")
    ax.set_ylabel("test MSE / PCA's")
    ax.set_title("AE against PCA: real ground and the synthetic terrain")
    ax.legend(fontsize=8)
    return fig


def resampling_table(measured: dict[int, list[dict]]) -> str:
    """Rows: relief classes; columns: r; cells: whitened code shift AE / PCA, and the inputs'."""
    classes = [row["class"] for row in next(iter(measured.values())) if row["resampling"] == MAIN]
    header = ["class (AE / PCA / inputs)", *(f"r = {r}" for r in measured)]
    rows = []
    for cls in classes:
        cells = []
        for rows_at_r in measured.values():
            row = next(x for x in rows_at_r if x["resampling"] == MAIN and x["class"] == cls)
            cells.append(
                f"{row['model_code_whitened']:.3f} / {row['pca_code_whitened']:.3f} / {row['input']:.3f}"
            )
        rows.append((cls, cells))
    return markdown_table(header, rows) + "\n"


def resamplings_table(measured: dict[int, list[dict]], cls: str = "all") -> str:
    """Rows: resamplings (shifted grids, jittered points); columns: r; cells: whitened code shift
    of the AE / PCA for the windows of class `cls`."""
    names = [x["resampling"] for x in next(iter(measured.values())) if x["class"] == cls]
    rows = []
    for name in names:
        cells = []
        for rows_at_r in measured.values():
            row = next(x for x in rows_at_r if x["resampling"] == name and x["class"] == cls)
            cells.append(f"{row['model_code_whitened']:.3f} / {row['pca_code_whitened']:.3f}")
        rows.append((name, cells))
    header = ["resampling (AE / PCA)", *(f"r = {r}" for r in measured)]
    return markdown_table(header, rows) + "\n"


def _value(measured: dict[int, list[dict]], r: int, cls: str, key: str) -> float:
    return next(x[key] for x in measured[r] if x["resampling"] == MAIN and x["class"] == cls)


def flatness_reading(measured: dict[int, list[dict]]) -> str:
    """The synthetic claim read on relief classes: low relief barely moves; high relief moves at
    low r and less at high r."""
    low, high = min(measured), max(measured)
    classes = [x["class"] for x in measured[low] if x["resampling"] == MAIN and x["class"] != "all"]
    flat, steep = classes[0], classes[-1]
    f = {r: _value(measured, r, flat, "model_code_whitened") for r in measured}
    s = {r: _value(measured, r, steep, "model_code_whitened") for r in measured}
    return (
        f"Under `{MAIN}`, the AE's whitened code of {flat} windows moves by "
        f"{min(f.values()):.1%} … {max(f.values()):.1%} of the code spread over r = {low} … {high}; "
        f"of {steep} windows by {s[low]:.1%} at r = {low} and {s[high]:.1%} at r = {high}."
    )


def _dem_summary(ctx: Context, result: dict[str, Any]) -> str:
    run = load_run(result["job_dir"])
    dm = run.datamodule
    width, height = dm.raster.size_m
    sizes = {name: len(dm.split(name)["x"]) for name in ("train", "val", "test")}
    return (
        f"{dm.raster.shape[0]} × {dm.raster.shape[1]} cells of {dm.raster.cell_m[0]:.1f} m × "
        f"{dm.raster.cell_m[1]:.1f} m ({width / 1000:.1f} km × {height / 1000:.1f} km; "
        f"{dm.raster.origin}); windows of {dm.geometry.patch_m:g} m every {dm.stride_m:g} m at "
        f"r = {dm.resolution}, blocks of {dm.block_m:g} m: {sizes['train']} / {sizes['val']} / "
        f"{sizes['test']} windows train / val / test"
    )


def run(ctx: Context) -> Section:
    write_sample_dem(
        ROOT / dem_path(ctx) if not Path(dem_path(ctx)).is_absolute() else dem_path(ctx)
    )
    real = checked(ctx.train("curve", curve(ctx)), "DEM curve run")
    made = checked(ctx.train("synthetic", synthetic(ctx)), "synthetic curve run")
    (random_split,) = checked(ctx.train("leaky", leaky(ctx)), "random-split run")
    probed = {r["job_dir"]: r for r in real}[probed_dir(ctx, "curve")]

    reports = {}
    for name, run_dir in (
        ("DEM", probed_dir(ctx, "curve")),
        ("synthetic", probed_dir(ctx, "synthetic")),
    ):
        (report,) = checked(ctx.evaluate(f"probes_{name}", probe_eval(run_dir)), f"{name} probes")
        reports[name] = report["tasks"]["embedding"]
    (summits,) = checked(ctx.evaluate("summits", summit_eval(probed["job_dir"])), "summit windows")
    measured, test_windows = measure_resolutions(ctx, "resolution", resolutions(ctx))

    shown = [o.replace(dem_path(ctx), DEM_SHOWN) for o in curve(ctx)]
    blocks, leak = probed["metrics"], random_split["metrics"]
    summit_row = detector_row(summits, probed)
    found = summits["tasks"]["anomaly"]
    figure = ctx.save_figure(
        curve_figure(real, made), "real_terrain_curve", "AE / PCA on real ground"
    )
    lines = [
        f"Real ground: matplotlib's Jacksboro fault DEM, written as a GeoTIFF by "
        f"`python scripts/make_sample_dem.py {DEM_SHOWN}`: {_dem_summary(ctx, probed)}. "
        "The synthetic terrain is the default `data=terrain` (1 km patches, r = 10).",
        "",
        f"**Compression curve.** `aelab-train -m {' '.join(shown)}` and the same models on the "
        f"synthetic terrain (`aelab-train -m {' '.join(synthetic(ctx))}`); test MSE over "
        "closed-form PCA's at the same m:",
        "",
        curve_table(real, made),
        figure,
        "",
        f"**Leakage.** The same {PROBED[0]} at η = {PROBED[1]:g} with `data.split=random` "
        f"(windows that overlap fall into train and test): test MSE "
        f"{leak['test/mse']:.5f} ({leak['test/mse_over_pca']:.4f} of PCA) against "
        f"{blocks['test/mse']:.5f} ({blocks['test/mse_over_pca']:.4f} of PCA) with spatial "
        f"blocks; val MSE {leak['val/mse']:.5f} against {blocks['val/mse']:.5f}.",
        "",
        f"**Probes by order** (`aelab-eval ckpt_path=<run> task=[embedding]`, the {PROBED[0]} at "
        f"m = {probed['latent_dim']}): held-out R² of ridge probes from the code to the "
        "descriptors fitted to each window, mean over each order's descriptors (below 0 counted "
        "as 0); DEM first, then the synthetic terrain:",
        "",
        order_table(_floats(reports["DEM"]["r2"]), _floats(reports["DEM"]["r2_per_class"])),
        order_table(
            _floats(reports["synthetic"]["r2"]), _floats(reports["synthetic"]["r2_per_class"])
        ),
        f"**Summit-centred against random windows** (`aelab-eval ckpt_path=<run> task=[anomaly] "
        f"anomaly=dem_sampling_bias`): {found['num_test'] - found['num_anomalies']} windows "
        f"anywhere on held-out ground against {found['num_anomalies']} centred on a local summit "
        f"(the highest cell within 500 m); AUROC of the reconstruction error "
        f"{summit_row['auroc']:.4f} (PCA at the same m {summit_row['pca_auroc']:.4f}).",
        "",
        f"**The second kind of flatness** (`aelab-train -m "
        f"{' '.join(o.replace(dem_path(ctx), DEM_SHOWN) for o in resolutions(ctx))}`, then "
        f"`aelab.metrics.resampling.measure` on the {test_windows} test windows, as in "
        "terrain_resampling): RMS shift of the whitened code when a window is read on points "
        "jittered within one cell, over the code spread, per relief class:",
        "",
        resampling_table(measured),
        flatness_reading(measured),
        "",
        "Whitened code shift of all test windows under every resampling (the grid shifted by "
        "1/4 and 1/2 cell along x and y; each point jittered within 1/2 or 1 cell), AE / PCA:",
        "",
        resamplings_table(measured),
    ]
    if not measured:
        raise ExperimentError("no resolution run finished")
    return Section("\n".join(lines) + "\n")
