"""anomaly_mnist: MNIST one-class anomaly detection, one autoencoder per digit, beside PCA.

For each digit d an MLP autoencoder learns d alone from the train part of the t10k split
(conf/experiment/anomaly_mnist.yaml); aelab-eval scores the test part, where the other digits are
the anomalies, by reconstruction error, and does the same with closed-form PCA at the same m.
The protocol is two multiruns: one `aelab-train -m` over the digits, one `aelab-eval -m` over
their checkpoints. Quick mode: digits 0 and 1, tiny data, one epoch.
"""

import json
import statistics
import time
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from aelab.compare import markdown_table
from aelab.experiments._context import Context, ExperimentError, Job, Section

DOC = "docs/experiments.md"
# The recipe's model: the MLP with its linear path started at closed-form PCA (identity output).
MODEL = ["model.output_activation=identity", "model.linear_path=true"]
SEEDS = [42, 43, 44]  # each digit's model trained three times: the AE's spread over seeds


def seeds(ctx: Context) -> list[int]:
    return SEEDS[:1] if ctx.quick else SEEDS


def digits(ctx: Context) -> list[int]:
    return [0, 1] if ctx.quick else list(range(10))


def train_overrides(ctx: Context) -> list[str]:
    sweep = ",".join(f"[{d}]" for d in digits(ctx))
    quick = ["trainer.check_val_every_n_epoch=1", *ctx.smoke("mnist")] if ctx.quick else []
    return [
        "experiment=anomaly_mnist",
        *MODEL,
        *ctx.mnist_overrides(),
        f"data.classes={sweep}",
        f"seed={','.join(map(str, seeds(ctx)))}",
        *quick,
    ]


def eval_overrides(ctx: Context, run_dirs: list[str]) -> list[str]:
    folder = ctx.mnist_dir or Path("data/mnist")
    return [f"ckpt_path={','.join(run_dirs)}", "task=[anomaly]", f"data.data_dir={folder}"]


def run_dirs(ctx: Context) -> list[str]:
    count = len(digits(ctx)) * len(seeds(ctx))
    return [str((ctx.work_dir / "train" / str(i)).resolve()) for i in range(count)]


def jobs(ctx: Context) -> list[Job]:
    return [
        Job("train", tuple(train_overrides(ctx))),
        Job("eval", tuple(eval_overrides(ctx, run_dirs(ctx)))),
    ]


# --- reading the runs ---------------------------------------------------------------------------
def checked(records: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """The records, or one clear error naming the first job that failed."""
    for record in records:
        if record.get("status") != "ok":
            raise ExperimentError(f"{what} {record.get('job_dir')} failed: {record.get('reason')}")
    return records


def job_wall(job_dir: str | Path) -> float:
    """The wall seconds a job's result.json records (0 when it has none)."""
    path = Path(job_dir) / "result.json"
    return float(json.loads(path.read_text()).get("wall_seconds") or 0) if path.exists() else 0.0


def detector_row(report: dict[str, Any], train: dict[str, Any]) -> dict[str, float]:
    """AUROC and average precision of the model and of PCA, and the two jobs' wall seconds."""
    found = report["tasks"]["anomaly"]
    return {
        "auroc": found["model"]["auroc"],
        "pca_auroc": found["pca"]["auroc"],
        "ap": found["model"]["average_precision"],
        "pca_ap": found["pca"]["average_precision"],
        "train_s": float(train.get("wall_seconds") or 0),
        "eval_s": job_wall(report["job_dir"]),
    }


KEYS = ("auroc", "pca_auroc", "ap", "pca_ap", "train_s", "eval_s")


def auroc_table(
    results: list[dict[str, Any]], reports: list[dict[str, Any]]
) -> dict[int, dict[str, list[float]]]:
    """{digit: {key: one value per seed}} from the training results and their evaluations (same
    order); the keys of `detector_row`."""
    table: dict[int, dict[str, list[float]]] = {}
    for train, report in zip(results, reports, strict=True):
        row = detector_row(report, train)
        digit = table.setdefault(int(report["data"]["classes"][0]), {k: [] for k in KEYS})
        for key in KEYS:
            digit[key].append(row[key])
    return dict(sorted(table.items()))


def per_seed_means(table: dict[int, dict[str, list[float]]], key: str) -> list[float]:
    """The mean over digits, once per seed (the seeds in the same order for every digit)."""
    columns = zip(*(row[key] for row in table.values()), strict=True)
    return [statistics.fmean(column) for column in columns]


def shown(values: list[float], bold: bool = False) -> str:
    """``mean ± sd`` over the seeds (the value alone for one seed)."""
    text = f"{statistics.fmean(values):.4f}"
    if len(values) > 1 and statistics.stdev(values) > 0:
        text += f" ± {statistics.stdev(values):.4f}"
    return f"**{text}**" if bold else text


# --- the section --------------------------------------------------------------------------------
def markdown(table: dict[int, dict[str, list[float]]]) -> str:
    header = ["normal digit", "AE AUROC", "PCA AUROC", "AE AP", "PCA AP", "train s", "eval s"]
    keys = ("auroc", "pca_auroc", "ap", "pca_ap")
    rows = [
        (
            str(d),
            [shown(row[k]) for k in keys]
            + [f"{statistics.fmean(row[k]):.1f}" for k in ("train_s", "eval_s")],
        )
        for d, row in table.items()
    ]
    rows.append(("mean", [shown(per_seed_means(table, k), bold=True) for k in keys] + ["", ""]))
    return markdown_table(header, rows)


def figure(table: dict[int, dict[str, list[float]]]) -> Figure:
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    positions = list(table)

    def bars(key: str) -> tuple[list[float], list[float]]:
        values = [row[key] for row in table.values()]
        spreads = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
        return [statistics.fmean(v) for v in values], spreads

    for offset, key, label in ((-0.2, "auroc", "AE"), (0.2, "pca_auroc", "PCA")):
        heights, spreads = bars(key)
        ax.bar([p + offset for p in positions], heights, 0.4, yerr=spreads, capsize=2, label=label)
    ax.set_xticks(positions, [str(d) for d in positions])
    ax.set_xlabel("normal digit (the others are the anomalies)")
    ax.set_ylabel("test AUROC (mean ± sd over seeds)")
    low = min(min(min(r["auroc"]), min(r["pca_auroc"])) for r in table.values())
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    started = time.time()
    results = checked(ctx.train("train", train_overrides(ctx)), "training run")
    trained = time.time()
    reports = checked(
        ctx.evaluate("eval", eval_overrides(ctx, [r["job_dir"] for r in results])), "evaluation"
    )
    done = time.time()
    table = auroc_table(results, reports)
    image = ctx.save_figure(figure(table), "anomaly_mnist", "MNIST one-class AUROC per digit")
    m, epochs = results[0]["latent_dim"], results[0].get("epochs")
    n_seeds = len(seeds(ctx))
    text = (
        f"MNIST one-class anomaly detection: an MLP autoencoder (m = {m}, {epochs} epoch"
        f"{'' if epochs == 1 else 's'}) per "
        "normal digit, trained on that digit of the t10k train part; the test part's other "
        "digits are the anomalies, scored by squared reconstruction error; PCA at the same m, "
        "fitted on the same images, beside it. AP = average precision. Each AE is trained with "
        f"{n_seeds} seed{'' if n_seeds == 1 else 's'} ({', '.join(map(str, seeds(ctx)))}): "
        "its cells are the mean ± the standard deviation over them (PCA has no seed), and the "
        "mean row is the mean over digits, ± its standard deviation over the seeds.\n\n"
        f"`{ctx.command('train', train_overrides(ctx))}`, then "
        f"`aelab-eval -m ckpt_path=<the {len(results)} runs> task=[anomaly]`: "
        f"{done - started:.0f} s wall in all here ({trained - started:.0f} s training, "
        f"{done - trained:.0f} s evaluation; jobs already done are not run again).\n\n"
    )
    return Section(text + markdown(table) + "\n\n" + image + "\n")
