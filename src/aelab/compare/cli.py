"""The command: ``aelab-compare <sweep dir> [--x KEY] [--metrics A,B] [--no-tensorboard]``."""

import argparse
import io
import sys
from pathlib import Path

from aelab.compare.figures import curve_figure
from aelab.compare.report import report_csv, report_markdown
from aelab.compare.runs import load_jobs
from aelab.compare.tensorboard import write_tensorboard
from aelab.runs.atomic import atomic_write_bytes, atomic_write_text

DEFAULT_METRICS = ["test/mse", "test/mse_over_pca"]
EXIT_NO_RESULTS = 1
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options; Hydra-style ``sweep_dir=DIR x=KEY metrics=A,B`` are accepted too."""
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
    """Print one line ``aelab-compare: <message>`` to stderr; return `code`."""
    print(f"aelab-compare: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Read the sweep, write comparison.md, comparison.csv, the figure and the TensorBoard run."""
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
