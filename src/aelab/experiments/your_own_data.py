"""your_own_data: from a folder of images to a compression curve, anomaly detection, throughput.

A folder of 600 small grey PNGs of two kinds (`scripts/make_image_folder.py`: 300 discs, 300
stripes), then `data=images` with the default MLP: a compression curve against PCA, a
one-class run on the discs scored by `aelab-eval task=[anomaly]`, and `scripts/bench_data.py`:
training throughput on a cached image folder, an in-memory and a memory-mapped array against
MNIST of the same size.
"""

import subprocess
import sys

from aelab.compare import markdown_table
from aelab.experiments import _report
from aelab.experiments._context import ROOT, Context, ExperimentError, Job, Section
from aelab.experiments.performance import mnist_args, script

DOC = "docs/your-own-data.md"
PER_CLASS = 300
FOLDER_DATA = ["data=images", "data.channels=1", "data.size=[28,28]"]
RATIOS = "compression.ratio=0.01,0.02,0.05,0.1,0.2"


def folder(ctx: Context) -> str:
    """The image folder, relative to the project root (so the config hash is the same anywhere)."""
    path = ctx.work_dir / "shapes"
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def curve(ctx: Context) -> list[str]:
    ratios = "compression.ratio=0.05" if ctx.quick else RATIOS
    return [*FOLDER_DATA, f"data.path={folder(ctx)}", ratios, *ctx.smoke("images")]


def one_class(ctx: Context) -> list[str]:
    return [*FOLDER_DATA, f"data.path={folder(ctx)}", "data.classes=[discs]", *ctx.smoke("images")]


EVAL = ("task=[anomaly]",)


def jobs(ctx: Context) -> list[Job]:
    return [Job("train", tuple(curve(ctx))), Job("train", tuple(one_class(ctx))), Job("eval", EVAL)]


def make_folder(ctx: Context) -> None:
    per_class = 30 if ctx.quick else PER_CLASS
    argv = [sys.executable, "scripts/make_image_folder.py", folder(ctx), "--per-class"]
    done = subprocess.run([*argv, str(per_class)], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise ExperimentError(f"scripts/make_image_folder.py failed: {done.stderr.strip()[-300:]}")


def run(ctx: Context) -> Section:
    make_folder(ctx)
    curve_results = ctx.train("curve", curve(ctx))
    comparison = _report.comparison(
        ctx,
        curve_results,
        ["test/mse", "test/mse_over_pca"],
        command=ctx.command("train", curve(ctx)),
    )
    (trained,) = ctx.train("one_class", one_class(ctx))
    (report,) = ctx.evaluate("eval", [f"ckpt_path={trained['job_dir']}", *EVAL])
    if report.get("status") != "ok":
        raise ExperimentError(f"aelab-eval task=[anomaly] failed: {report.get('reason')}")
    found = report["tasks"]["anomaly"]
    keys = ("auroc", "average_precision", "f1")
    rows = [(name, [f"{found[name][key]:.4f}" for key in keys]) for name in ("model", "pca")]
    anomaly = (
        f"`{ctx.command('train', one_class(ctx))}`, then `aelab-eval ckpt_path=<run> "
        f"task=[anomaly]`: trained on discs only (m = {trained['latent_dim']}); the test split "
        f"holds {found['num_test'] - found['num_anomalies']} discs and "
        f"{found['num_anomalies']} stripes (the anomalies).\n\n"
        + markdown_table(["detector", "AUROC", "average precision", "F1"], rows)
    )
    if ctx.quick:  # the benchmark needs the 10k MNIST t10k images
        return Section("\n".join(["**Compression curve.** " + comparison, "", anomaly]) + "\n")
    speed = script(
        ctx, "throughput", ["bench_data.py", "--epochs", "6", "--rounds", "2", *mnist_args(ctx)]
    )
    throughput = markdown_table(
        ["data", "train samples", "set-up s", "s per epoch", "samples / s", "/ MNIST"],
        [
            (
                row["name"],
                [
                    str(row["train_samples"]),
                    f"{row['setup_seconds']:.2f}",
                    f"{row['epoch_seconds']:.2f}",
                    f"{row['samples_per_second']:.0f}",
                    f"{row['ratio_to_mnist']:.2f}",
                ],
            )
            for row in speed["rows"]
        ],
    )
    text = [
        "**Compression curve.** " + comparison,
        "",
        "**Anomaly detection.** " + anomaly,
        "",
        f"**Throughput.** `{speed['command']}`: the same 10000 MNIST t10k images and MLP AE "
        f"(784-512-16, batch 128, {speed['threads']} torch threads) on MNIST's IDX files, the "
        f"images as a folder of PNGs (decoded once in {speed['first_decode_seconds']:.1f} s, then "
        "from the cache), one `.npy` in memory, and the same `.npy` memory-mapped (the budget set "
        "to a quarter of the file); median epoch after the first, median of "
        f"{speed['rounds']} alternating rounds in one run.",
        "",
        throughput,
    ]
    return Section("\n".join(text) + "\n")
