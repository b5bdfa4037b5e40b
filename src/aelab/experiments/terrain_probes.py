"""Which degrees of freedom the default terrain AE captures: pooled, within each class, and PCA's.

The default job (`aelab-train`: MLP, η = 0.05, m = 5), then `aelab-eval task=[embedding]` on its
best checkpoint. Ridge probes from the code to every descriptor and parameter, fitted on the
training codes and scored on the test split, over all classes (pooled) and within each class,
for the AE's code and for closed-form PCA's at the same m.
"""

from aelab.experiments._context import Context, ExperimentError, Job, Section
from aelab.metrics.probe_tables import order_table, per_class_figure, target_table

DOC = "README.md"
EVAL = ("task=[embedding]",)
QUICK = ("data.train_size=2000", "data.val_size=200", "data.test_size=1000", "trainer.max_epochs=1")


def _train(ctx: Context) -> list[str]:
    return list(QUICK) if ctx.quick else []


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(_train(ctx))), Job("eval", EVAL)]


def _floats(table: dict) -> dict:
    """eval.json's numbers back to floats ("nan" strings included), nested dicts kept."""
    return {k: _floats(v) if isinstance(v, dict) else float(v) for k, v in table.items()}


def run(ctx: Context) -> Section:
    (trained,) = ctx.train("train", _train(ctx))
    if trained.get("status") != "ok":
        raise ExperimentError(f"the default terrain job failed: {trained.get('reason')}")
    (report,) = ctx.evaluate("eval", [f"ckpt_path={trained['job_dir']}", *EVAL])
    if report.get("status") != "ok":
        raise ExperimentError(f"aelab-eval task=[embedding] failed: {report.get('reason')}")
    probes = report["tasks"]["embedding"]
    pooled, per_class = _floats(probes["r2"]), _floats(probes["r2_per_class"])
    model, pca = list(pooled)
    m = report["latent_dim"]
    figure = ctx.save_figure(
        per_class_figure(pooled, per_class),
        "probe_r2_per_class",
        "held-out R² per target, pooled and per class",
    )
    mse, eta = trained["metrics"], trained["compression_ratio"]
    lines = [
        f"`aelab-train` (defaults: {trained['model']} on {trained['data']}, η = {eta:g}, "
        f"m = {m}; test MSE {mse['test/mse']:.5f}, PCA {mse['test/pca_mse']:.5f}), then "
        f"`aelab-eval ckpt_path=<run> task=[embedding]`: ridge probes from the code to each "
        f"descriptor and parameter, fitted on {probes['probe_num_fit']} training codes, R² on "
        f"{probes['probe_num_held_out']} test codes; `{model}` is the AE's code, `{pca}` "
        "closed-form PCA's at the same m. Per class, the probe is fitted and scored within the "
        "class; a parameter constant there (peak height off mountains, tilt of mountains, "
        "building density off towns) is not probed.",
        "",
        "R² by descriptor order (mean over the order's descriptors, below 0 counted as 0):",
        "",
        order_table(pooled, per_class),
        "Every target:",
        "",
        target_table(pooled, per_class),
        figure,
    ]
    return Section("\n".join(lines) + "\n")
