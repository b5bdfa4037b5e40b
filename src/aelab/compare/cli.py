"""The command: ``aelab-compare DIR [DIR ...] [--out DIR] [--x KEY] [--metrics A,B]
[--no-tensorboard]``; a DIR is a sweep's dir or a run's (holding result.json)."""

import argparse
import io
import sys
from pathlib import Path, PurePath

from aelab.compare.figures import curve_figure
from aelab.compare.grouping import OVER
from aelab.compare.report import cells_csv, report_csv, report_markdown
from aelab.compare.runs import Job, load_jobs
from aelab.compare.tensorboard import CURVES, write_tensorboard
from aelab.runs.atomic import atomic_write_bytes, atomic_write_text

DEFAULT_METRICS = ["test/mse", "test/mse_over_pca"]
EXIT_NO_RESULTS = 1
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The options; Hydra-style ``sweep_dir=DIR out=DIR x=KEY metrics=A,B`` are accepted too
    (``sweep_dir=`` as often as needed)."""
    parser = argparse.ArgumentParser(
        prog="aelab-compare",
        description="Tabulate and plot the result.json files of sweeps and runs (e.g. outputs/multirun/<time>).",
    )
    parser.add_argument(
        "sweep_dir",
        nargs="+",
        metavar="DIR",
        help="a multirun directory or a run directory (or sweep_dir=<dir>); several are compared together",
    )
    parser.add_argument(
        "--out", default=None, help="where the comparison is written (default: the first DIR)"
    )
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
    parser.add_argument(
        "--over",
        default=",".join(OVER),
        help="comma-separated config keys whose jobs form one row with their mean and spread "
        f"(default {','.join(OVER)}; e.g. seed,data.seed)",
    )
    parser.add_argument("--no-tensorboard", action="store_true", help="skip the TensorBoard run")
    named = {"sweep_dir", "out", "x", "metrics", "over"}
    converted = []
    for arg in argv:
        key, eq, value = arg.partition("=")
        if eq and key in named:
            converted += [value] if key == "sweep_dir" else [f"--{key}", value]
        else:
            converted.append(arg)
    return parser.parse_intermixed_args(converted)


def fail(message: str, code: int) -> int:
    """Print one line ``aelab-compare: <message>`` to stderr; return `code`."""
    print(f"aelab-compare: {message}", file=sys.stderr)
    return code


def _as_dir(given: str) -> str:
    """A DIR as given, a run's result.json file as its dir."""
    path = PurePath(given)
    return (
        str(path.parent)
        if path.name == "result.json" and Path(given).expanduser().is_file()
        else given
    )


def _input_dirs(given: list[str]) -> list[Path] | int:
    """The directories to read, or the exit code after the error: one that is missing, or (with
    several) one without any result.json."""
    folders = []
    for shown in given:
        folder = Path(shown).expanduser().resolve()
        if not folder.is_dir():
            problem = "is not a directory" if folder.exists() else "does not exist"
            return fail(f"{shown} {problem}; give a sweep's or a run's output dir", EXIT_BAD_INPUT)
        if len(given) > 1 and next(folder.rglob("result.json"), None) is None:
            return fail(
                f"no result.json under {folder}; give a sweep's or a run's output dir",
                EXIT_NO_RESULTS,
            )
        folders.append(folder)
    return folders


def _load(folders: list[Path], given: list[str], x_key: str) -> tuple[list[Job], list[str]]:
    """The jobs of every dir (each result.json once, named under the dir as given when there
    are several) and the results that could not be read."""
    jobs: list[Job] = []
    unreadable: list[str] = []
    seen: set[Path] = set()
    for folder, shown in zip(folders, given, strict=True):
        found, bad = load_jobs(folder, x_key, shown if len(given) > 1 else None, seen)
        jobs += found
        unreadable += bad
    return jobs, unreadable


def main(argv: list[str] | None = None) -> int:
    """Read the sweeps and runs, write comparison.md, comparison.csv, the figure and the
    TensorBoard run into the first dir (or --out)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    given = [_as_dir(d) for d in args.sweep_dir]
    folders = _input_dirs(given)
    if isinstance(folders, int):
        return folders
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        return fail("--metrics is empty; e.g. --metrics test/mse", EXIT_BAD_INPUT)
    over = tuple(k.strip() for k in args.over.split(",") if k.strip())
    if args.x in over:
        return fail(
            f"--over {args.over} holds the x axis {args.x}; aggregate other keys", EXIT_BAD_INPUT
        )
    jobs, unreadable = _load(folders, given, args.x)
    if not jobs:
        extra = f" ({len(unreadable)} unreadable)" if unreadable else ""
        return fail(
            f"no result.json under {', '.join(map(str, folders))}{extra}; run a sweep first, e.g. "
            "aelab-train -m model=linear,mlp compression.ratio=0.02,0.05",
            EXIT_NO_RESULTS,
        )
    if args.x != "eta" and all(j.x is None for j in jobs):
        return fail(
            f"--x {args.x}: no job's config has this key; e.g. --x data.train_size", EXIT_BAD_INPUT
        )
    out = Path(args.out).expanduser().resolve() if args.out else folders[0]
    if out.exists() and not out.is_dir():
        return fail(f"--out {args.out} is not a directory; give a directory", EXIT_BAD_INPUT)
    out.mkdir(parents=True, exist_ok=True)

    table = report_markdown(
        given[0] if len(given) == 1 else given, jobs, metrics, args.x, unreadable, over
    )
    atomic_write_text(out / "comparison.md", table)
    atomic_write_text(out / "comparison.csv", report_csv(jobs, args.x))
    atomic_write_text(out / "comparison_cells.csv", cells_csv(jobs, metrics, args.x, over))
    fig = curve_figure(jobs, metrics[0], args.x, over)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    figure_path = out / "compression_curve.png"
    atomic_write_bytes(figure_path, buffer.getvalue())
    print(table)
    print(
        f"wrote {out / 'comparison.md'}, comparison.csv, comparison_cells.csv, {figure_path.name}"
    )
    if not args.no_tensorboard:
        log_dir = write_tensorboard(out, fig, table, jobs, metrics[0], args.x, over)
        print(
            f"tensorboard: tensorboard --logdir {out}  (run {log_dir.name}; the curve against m: "
            f"runs {CURVES}/<row>, Custom Scalars)"
        )
    return 0
