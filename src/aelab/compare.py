"""aelab-compare: one table and one figure from the result.json files of a sweep.

    aelab-compare outputs/multirun/<timestamp>          (or: aelab-compare sweep_dir=<dir>)
    aelab-compare <dir> --x data.train_size --metrics test/mse,test/noise_mse

Reads every ``result.json`` under the directory and writes there:

- ``comparison.csv``: one row per job (model, regularizer, data, eta, m, test metrics, status, ...);
- ``comparison.md``: per dataset, tables with rows = model/regularizer (plus any other swept
  setting), columns = eta (or the ``--x`` setting), cells = the metric; the closed-form PCA bound
  as its own row; then the failed jobs with their reasons;
- ``compression_curve.png``: the metric against eta (log x), one line per row, PCA dashed, one
  panel per dataset;
- ``comparison/``: the same figure and table for TensorBoard, next to the runs' own logs.
"""

import argparse
import csv
import io
import json
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aelab.results import atomic_write_bytes, atomic_write_text

DEFAULT_METRICS = ["test/mse", "test/mse_over_pca"]
SHOWN_IF_PRESENT = ["test/max_principal_angle_deg"]  # linear models, pca_equivalence
PCA_ROWS = {  # metric in result.json -> row name, in the test/mse table and the figure
    # (the uncentred bound only in panels with a linear AE: the seed variant's optimum)
    "test/pca_mse": "PCA bound (closed form)",
    "test/pca_uncentred_mse": "PCA bound, uncentred",
}
PCA_STYLES = {
    "test/pca_mse": {"color": "black", "linestyle": "--"},
    "test/pca_uncentred_mse": {"color": "0.55", "linestyle": ":"},
}
PCA_MARKERS = [".", "x", "^", "s"]  # one per data setting when a sweep varies the data
LABEL_KEYS = ("model", "regularizer", "data", "compression", "experiment")  # shown otherwise
TINY = 1e-12  # an exact bound (m >= n) is 0 up to rounding: not drawn on a log scale
EXIT_NO_RESULTS = 1
EXIT_BAD_INPUT = 2


@dataclass
class Job:
    """One job's result.json, flattened."""

    name: str  # path of the job dir relative to the sweep dir
    status: str
    reason: str
    model: str
    regularizer: str
    data: str
    eta: float  # requested compression ratio (actual m / n when latent_dim is fixed)
    m: int | None
    n: int | None
    x: Any  # the value on the x axis (eta unless --x)
    overrides: dict[str, str]
    metrics: dict[str, float]
    wall_seconds: float | None
    label: str = ""
    pca_group: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- reading ------------------------------------------------------------------------------------
def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _lookup(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parse_overrides(overrides: list[str]) -> dict[str, str]:
    parsed = {}
    for item in overrides or []:
        key, _, value = item.partition("=")
        parsed[key.lstrip("+~")] = value
    return parsed


def _job_sort_key(path: Path) -> list:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.parts]


def load_jobs(sweep_dir: Path, x_key: str) -> tuple[list[Job], list[str]]:
    """Every readable result.json under `sweep_dir`, and the paths that could not be read."""
    jobs, unreadable = [], []
    paths = sorted(sweep_dir.rglob("result.json"), key=lambda p: _job_sort_key(p.parent))
    for path in paths:
        try:
            result = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            unreadable.append(f"{path}: {error}")
            continue
        if not isinstance(result, dict):
            unreadable.append(f"{path}: not a JSON object")
            continue
        jobs.append(_to_job(result, str(path.parent.relative_to(sweep_dir)), x_key))
    return jobs, unreadable


def jobs_from_results(results: list[dict], x_key: str = "eta") -> list[Job]:
    """Jobs from result.json dicts already read (each may carry its `job_dir`)."""
    return [
        _to_job(r, Path(r.get("job_dir") or r.get("output_dir") or str(i)).name, x_key)
        for i, r in enumerate(results)
    ]


def _to_job(result: dict, name: str, x_key: str) -> Job:
    config = result.get("config") or {}
    compression = config.get("compression") or {}
    fixed_m = compression.get("latent_dim") is not None
    eta = _number(result.get("compression_ratio") if fixed_m else compression.get("ratio"))
    if math.isnan(eta):
        eta = _number(result.get("compression_ratio"))
    metrics = {k: _number(v) for k, v in (result.get("metrics") or {}).items()}
    if "test/mse" in metrics and metrics.get("test/pca_uncentred_mse", 0) > 0:
        # against the best subspace through the origin: the seed's linear AE reaches 1 here
        metrics["test/mse_over_pca_uncentred"] = (
            metrics["test/mse"] / metrics["test/pca_uncentred_mse"]
        )
    return Job(
        name=name,
        status=str(result.get("status", "unknown")),
        reason=str(result.get("reason", "")),
        model=str(result.get("model")),
        regularizer=str(result.get("regularizer")),
        data=str(result.get("data")),
        eta=eta,
        m=result.get("latent_dim"),
        n=result.get("input_dim"),
        x=eta if x_key == "eta" else _lookup(config, x_key),
        overrides=_parse_overrides(result.get("overrides", [])),
        metrics=metrics,
        wall_seconds=result.get("wall_seconds"),
    )


# --- rows: model/regularizer plus whatever else the sweep varied ----------------------------------
def _short(key: str) -> str:
    head, _, rest = key.partition(".")
    return rest if head in ("model", "data", "regularizer") and rest else key


def assign_labels(jobs: list[Job], x_key: str) -> None:
    """Row label of each job: ``model/regularizer`` and the other overrides that vary."""
    x_keys = (
        {"compression", "compression.ratio", "compression.latent_dim"} if x_key == "eta" else set()
    )
    x_keys.add(x_key)
    keys = sorted({k for job in jobs for k in job.overrides})
    varying = [
        k
        for k in keys
        if k not in LABEL_KEYS
        and k not in x_keys
        and not k.startswith("hydra")
        and len({job.overrides.get(k) for job in jobs}) > 1
    ]
    for job in jobs:
        extra = [f"{_short(k)}={job.overrides[k]}" for k in varying if k in job.overrides]
        job.label = " ".join([f"{job.model}/{job.regularizer}", *extra])
        data_side = [e for k, e in zip(varying, extra, strict=False) if not _is_model_key(k)]
        job.pca_group = " ".join(data_side)


def _is_model_key(key: str) -> bool:
    return key.split(".")[0] in ("model", "regularizer", "seed", "trainer", "accelerator")


# --- tables -------------------------------------------------------------------------------------
def _fmt(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4g}"


def _x_header(x_key: str, value: Any) -> str:
    name = "η" if x_key == "eta" else x_key.split(".")[-1]
    return f"{name}={value:g}" if isinstance(value, int | float) else f"{name}={value}"


def _columns(jobs: list[Job]) -> list[Any]:
    values = {job.x for job in jobs if job.x is not None}
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.fmean(finite) if finite else math.nan


def metric_rows(jobs: list[Job], metric: str, columns: list[Any]) -> list[tuple[str, list[str]]]:
    """(label, cells) per row: the mean over ok jobs, 'failed' where every job there failed."""
    rows = []
    for label in dict.fromkeys(job.label for job in jobs):
        cells = []
        for column in columns:
            here = [j for j in jobs if j.label == label and j.x == column]
            failed = here and not any(j.ok for j in here)
            cells.append("failed" if failed else _fmt(_value(here, metric)))
        rows.append((label, cells))
    return rows


def _value(jobs: list[Job], metric: str) -> float:
    """The mean of `metric` over the jobs that succeeded (NaN if none)."""
    return _mean([j.metrics.get(metric, math.nan) for j in jobs if j.ok])


def _bounds(jobs: list[Job]) -> dict[str, str]:
    """The PCA bounds worth a row: the uncentred one only where a linear AE may reach it."""
    has_linear = any(j.model == "linear" for j in jobs)
    return {k: v for k, v in PCA_ROWS.items() if has_linear or k == "test/pca_mse"}


def pca_rows(jobs: list[Job], columns: list[Any]) -> list[tuple[str, list[str]]]:
    """The closed-form bounds the jobs measured, one row per bound (and data setting)."""
    rows = []
    for metric, name in _bounds(jobs).items():
        for group in dict.fromkeys(j.pca_group for j in jobs if j.ok):
            members = [j for j in jobs if j.pca_group == group]
            cells = [_fmt(_value([j for j in members if j.x == c], metric)) for c in columns]
            if any(cells):
                rows.append((" ".join(filter(None, [name, group])), cells))
    return rows


def markdown_table(header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" + "---:|" * (len(header) - 1),
    ]
    lines += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows]
    return "\n".join(lines)


def by_dataset(jobs: list[Job]) -> dict[str, list[Job]]:
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.data, []).append(job)
    return groups


def metric_tables(
    group: list[Job], metrics: list[str], x_key: str, extra: bool = True
) -> tuple[list[tuple[str, str]], list[str]]:
    """One dataset's (metric, Markdown table) pairs, and the metrics no job recorded.

    The test/mse table gets the PCA bound rows; `extra` adds the metrics shown when present.
    """
    assign_labels(group, x_key)
    columns = _columns(group)
    header = ["model / regularizer", *(_x_header(x_key, c) for c in columns)]
    recorded = [m for m in metrics if any(m in j.metrics for j in group)]
    shown = recorded + [
        m
        for m in (SHOWN_IF_PRESENT if extra else [])
        if m not in metrics and any(m in j.metrics for j in group)
    ]
    missing = [m for m in metrics if m not in recorded and any(j.ok for j in group)]
    tables = []
    for metric in shown:
        rows = metric_rows(group, metric, columns)
        if metric == "test/mse":
            rows += pca_rows(group, columns)
        tables.append((metric, markdown_table(header, rows)))
    return tables, missing


def report_markdown(
    sweep_dir: str, jobs: list[Job], metrics: list[str], x_key: str, unreadable: list[str]
) -> str:
    """The tables; `sweep_dir` is shown as the user gave it (no machine-specific prefix)."""
    failed = [j for j in jobs if not j.ok]
    x_name = "η = m / n" if x_key == "eta" else x_key
    parts = [
        f"# Comparison: {Path(sweep_dir).name}",
        "",
        f"{len(jobs)} jobs ({len(jobs) - len(failed)} ok, {len(failed)} failed) in `{sweep_dir}`. "
        f"Columns: {x_name}. Cells: the test split's per-pixel MSE (mean over jobs), and the "
        "other metrics listed; the PCA rows are the closed-form optimum of a rank-m linear map.",
    ]
    for data, group in by_dataset(jobs).items():
        sizes = sorted({j.n for j in group if j.n})
        parts += ["", f"## {data} (n = {', '.join(map(str, sizes)) or '?'})"]
        tables, missing = metric_tables(group, metrics, x_key)
        if missing:
            parts += ["", f"Not recorded by these jobs: {', '.join(missing)}."]
        for metric, table in tables:
            parts += ["", f"### {metric}", "", table]
    if failed:
        parts += ["", "## Failed jobs", ""]
        parts += [
            f"- `{j.name}` ({j.label}, {_x_header(x_key, j.x)}): {j.reason or j.status}"
            for j in failed
        ]
    if unreadable:
        parts += ["", "## Unreadable results", ""] + [f"- {u}" for u in unreadable]
    return "\n".join(parts) + "\n"


def report_csv(jobs: list[Job], x_key: str) -> str:
    metric_keys = sorted({k for j in jobs for k in j.metrics if k.startswith("test/")})
    columns = ["job", "status", "model", "regularizer", "data", "eta", "m", "n"]
    columns += ([] if x_key == "eta" else [x_key]) + metric_keys
    columns += ["val/mse", "wall_seconds", "label", "overrides", "reason"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for j in jobs:
        row = {
            "job": j.name,
            "status": j.status,
            "model": j.model,
            "regularizer": j.regularizer,
            "data": j.data,
            "eta": j.eta,
            "m": j.m,
            "n": j.n,
            "val/mse": j.metrics.get("val/mse"),
            "wall_seconds": j.wall_seconds,
            "label": j.label,
            "overrides": " ".join(f"{k}={v}" for k, v in j.overrides.items()),
            "reason": j.reason,
        }
        row.update({k: j.metrics.get(k) for k in metric_keys})
        if x_key != "eta":
            row[x_key] = j.x
        writer.writerow(row)
    return out.getvalue()


# --- the figure ---------------------------------------------------------------------------------
def _lines(group: list[Job], metric: str) -> list[tuple[str, str, list[Job], dict]]:
    """(legend, metric, jobs, style) of each line in a dataset's panel."""
    lines = [
        (label, metric, [j for j in group if j.label == label], {"marker": "o"})
        for label in dict.fromkeys(j.label for j in group)
    ]
    if metric == "test/mse":
        for pca_metric, name in _bounds(group).items():
            for index, pca_group in enumerate(dict.fromkeys(j.pca_group for j in group if j.ok)):
                members = [j for j in group if j.pca_group == pca_group]
                legend = " ".join(filter(None, [name, pca_group]))
                style = {**PCA_STYLES[pca_metric], "marker": PCA_MARKERS[index % len(PCA_MARKERS)]}
                lines.append((legend, pca_metric, members, style))
    return lines


def curve_figure(jobs: list[Job], metric: str, x_key: str):
    """One panel per dataset: `metric` against x, one line per row, the PCA bounds dashed."""
    from matplotlib.figure import Figure

    datasets = by_dataset(jobs)
    fig = Figure(figsize=(6 * len(datasets), 5.5), layout="constrained")
    axes = fig.subplots(1, len(datasets), squeeze=False)[0]
    for ax, (data, group) in zip(axes, datasets.items(), strict=True):
        assign_labels(group, x_key)
        columns = [c for c in _columns(group) if isinstance(c, int | float)]
        for legend, line_metric, members, style in _lines(group, metric):
            points = [(c, _value([j for j in members if j.x == c], line_metric)) for c in columns]
            points = [(c, v) for c, v in points if math.isfinite(v) and v > TINY]
            if points:
                ax.plot(*zip(*points, strict=True), label=legend, **style)
        values = [y for line in ax.get_lines() for y in line.get_ydata()]
        if columns and min(columns) > 0 and (x_key == "eta" or max(columns) / min(columns) >= 10):
            ax.set_xscale("log")
            ax.minorticks_off()
        if columns:
            ax.set_xticks(columns, [f"{c:g}" for c in columns])
        if values and min(values) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("η = m / n" if x_key == "eta" else x_key)
        ax.set_ylabel(metric)
        ax.set_title(data)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_lines():  # below the panel: long labels never hide the curves
            ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return fig


def write_tensorboard(sweep_dir: Path, fig, table: str) -> Path:
    """The figure and table as a `comparison` run beside the sweep's own runs."""
    from torch.utils.tensorboard import SummaryWriter

    log_dir = sweep_dir / "comparison"
    for old in log_dir.glob("events.out.tfevents.*"):  # one comparison at a time
        old.unlink()
    writer = SummaryWriter(log_dir=str(log_dir))
    writer.add_figure("comparison/compression_curve", fig, global_step=0, close=False)
    writer.add_text("comparison/table", table, global_step=0)
    writer.close()
    return log_dir


# --- the command --------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="aelab-compare",
        description="Tabulate and plot the result.json files of a sweep (e.g. outputs/multirun/<time>).",
    )
    parser.add_argument("sweep_dir", help="the multirun directory (or sweep_dir=<dir>)")
    parser.add_argument(
        "--x",
        default="eta",
        help="the x axis / table columns: eta (default) or a config key, e.g. data.train_size",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help=f"comma-separated metrics tabulated; the first is plotted (default {','.join(DEFAULT_METRICS)})",
    )
    parser.add_argument("--no-tensorboard", action="store_true", help="skip the TensorBoard run")
    # Hydra-style key=value arguments are accepted too: sweep_dir=DIR x=KEY metrics=A,B
    named = {"sweep_dir", "x", "metrics"}
    converted = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if eq and key in named:
            converted += [value] if key == "sweep_dir" else [f"--{key}", value]
        else:
            converted.append(arg)
    return parser.parse_args(converted)


def fail(message: str, code: int) -> int:
    print(f"aelab-compare: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sweep_dir = Path(args.sweep_dir).expanduser().resolve()
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not sweep_dir.is_dir():
        return fail(
            f"{args.sweep_dir} is not a directory; give a sweep's output dir", EXIT_BAD_INPUT
        )
    if not metrics:
        return fail("--metrics is empty; e.g. --metrics test/mse", EXIT_BAD_INPUT)
    jobs, unreadable = load_jobs(sweep_dir, args.x)
    if not jobs:
        extra = f" ({len(unreadable)} unreadable)" if unreadable else ""
        return fail(
            f"no result.json under {sweep_dir}{extra}; run a sweep first, e.g. "
            "aelab-train -m model=linear,mlp compression.ratio=0.02,0.05",
            EXIT_NO_RESULTS,
        )
    if args.x != "eta" and all(j.x is None for j in jobs):
        return fail(
            f"--x {args.x}: no job's config has this key; e.g. --x data.train_size", EXIT_BAD_INPUT
        )

    table = report_markdown(args.sweep_dir, jobs, metrics, args.x, unreadable)
    atomic_write_text(sweep_dir / "comparison.md", table)
    atomic_write_text(sweep_dir / "comparison.csv", report_csv(jobs, args.x))
    fig = curve_figure(jobs, metrics[0], args.x)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    figure_path = sweep_dir / "compression_curve.png"
    atomic_write_bytes(figure_path, buffer.getvalue())
    print(table)
    print(f"wrote {sweep_dir / 'comparison.md'}, comparison.csv, {figure_path.name}")
    if not args.no_tensorboard:
        log_dir = write_tensorboard(sweep_dir, fig, table)
        print(f"tensorboard: tensorboard --logdir {sweep_dir}  (run {log_dir.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
