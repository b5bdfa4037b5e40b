"""performance: framework overhead, linear convergence, start-up, the default run, terrain speed.

Each benchmark runs on its own, one after another, so that none slows another: the scripts in
scripts/ as processes (`--json` gives their figures), the default `aelab-train` run timed from
launch, and terrain generation in this process. A finished benchmark's figures are kept in
`work_dir/<benchmark>.json` with the load average when it started; an interrupted run does not
redo them. The sweep-throughput benchmark is `sweep_throughput` (docs/experiments.md); this
section links to it. Quick mode: each benchmark at its smallest (one round, two epochs, one
repeat, tiny data).
"""

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from aelab.experiments._context import ROOT, SMOKE, Context, ExperimentError, Job, Section
from aelab.experiments._provenance import cpu_model, gpu_name

DOC = "README.md"
SCRIPTS = ROOT / "scripts"
SCRIPT_MNIST = ROOT.parent / "shared" / "data" / "mnist"  # the scripts' default --mnist
OVERHEAD_GOAL = 1.10
RUN_GOAL_SECONDS = 60.0
TERRAIN_RESOLUTIONS = (10, 40)
QUICK_HELD_OUT = "50"  # MNIST val and test sizes under --quick (a tiny MNIST folder suffices)


# --- running one benchmark ----------------------------------------------------------------------
def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def measure(ctx: Context, name: str, shown: str, work: Callable[[Path], dict[str, Any]]) -> dict:
    """The figures of benchmark `name`: kept ones, or `work(part_path)`'s, saved with the load."""
    path = ctx.work_dir / f"{name}.json"
    if path.exists():
        ctx.say(f"{name}: kept from an earlier run ({path})")
        return json.loads(path.read_text())
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    ctx.say(f"{name}: started ({shown})")
    load, started = load_average(), time.time()
    figures = work(ctx.work_dir / f"{name}.json.part")
    figures = {**figures, "load_average": load, "wall_seconds": time.time() - started}
    path.write_text(json.dumps(figures, indent=2) + "\n")
    ctx.say(f"{name}: done in {figures['wall_seconds']:.0f} s")
    return figures


def script(ctx: Context, name: str, command: list[str]) -> dict[str, Any]:
    """Run `scripts/<command[0]>` with `--json`; its figures (its output goes to <name>.log)."""

    def display(argument: str) -> str:  # no machine's path in the docs
        if ctx.mnist_dir is not None and argument == str(ctx.mnist_dir):
            return "$AELAB_MNIST_DIR"
        return shlex.quote(argument)

    shown = " ".join(["scripts/" + command[0], *(display(a) for a in command[1:])])

    def work(part: Path) -> dict[str, Any]:
        log = ctx.work_dir / f"{name}.log"
        argv = [sys.executable, str(SCRIPTS / command[0]), *command[1:], "--json", str(part)]
        with open(log, "w") as out:
            done = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        if done.returncode != 0 or not part.exists():
            lines = [line for line in log.read_text().splitlines() if line.strip()] or ["no output"]
            raise ExperimentError(f"{shown} failed: {lines[-1].strip()} (see {log})")
        figures = json.loads(part.read_text())
        part.unlink()
        return {**figures, "command": shown}

    return measure(ctx, name, shown, work)


def mnist_args(ctx: Context) -> list[str]:
    """`--mnist DIR` when the MNIST folder is not the scripts' default."""
    folder = ctx.require_mnist()
    default = SCRIPT_MNIST.resolve() if SCRIPT_MNIST.exists() else None
    return [] if folder == default else ["--mnist", str(folder)]


def smoke_data(ctx: Context) -> list[str]:
    """Under --quick, the smoke data sizes (the benchmarks set the epochs themselves)."""
    return [o for o in SMOKE["terrain"] if not o.startswith("trainer.")] if ctx.quick else []


# --- the benchmarks -----------------------------------------------------------------------------
def overhead(ctx: Context, threads: int | None) -> dict[str, Any]:
    size = ["--rounds", "4", "--epochs", "8"]
    if ctx.quick:
        size = ["--rounds", "1", "--epochs", "2", "--held-out", QUICK_HELD_OUT]
    extra = ["--threads", str(threads)] if threads else []
    name = f"overhead_{threads}_thread" if threads else "overhead"
    return script(ctx, name, ["bench_overhead.py", *size, *extra, *mnist_args(ctx)])


def linear_convergence(ctx: Context) -> dict[str, Any]:
    size = ["--ms", "2", "--max-epochs", "1", "--held-out", QUICK_HELD_OUT] if ctx.quick else []
    return script(
        ctx, "linear_convergence", ["bench_linear_convergence.py", *size, *mnist_args(ctx)]
    )


def startup(ctx: Context) -> dict[str, Any]:
    size = ["--repeats", "1", *smoke_data(ctx)] if ctx.quick else ["--repeats", "5"]
    return script(ctx, "startup", ["bench_startup.py", *size])


def default_run(ctx: Context) -> dict[str, Any]:
    """`aelab-train` with the default config (what `make run` runs), wall seconds from launch."""
    overrides = ctx.smoke("terrain")
    shown = " ".join(["aelab-train", *overrides])

    def work(part: Path) -> dict[str, Any]:
        run_dir = ctx.work_dir / "default_run"
        binary = Path(sys.executable).with_name("aelab-train")
        launch = [str(binary)] if binary.exists() else [sys.executable, "-m", "aelab.train"]
        argv = [*launch, *overrides, f"hydra.run.dir={run_dir}"]
        log = ctx.work_dir / "default_run.log"
        started = time.perf_counter()
        with open(log, "w") as out:
            done = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        wall = time.perf_counter() - started
        result_file = run_dir / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
        if done.returncode != 0 or result.get("status") != "ok":
            raise ExperimentError(f"{shown} failed (see {log})")
        metrics = result["metrics"]
        return {
            "command": shown,
            "wall_from_launch": wall,
            "epochs": result.get("epochs"),
            "test_mse": metrics["test/mse"],
            "test_pca_mse": metrics["test/pca_mse"],
        }

    return measure(ctx, "default_run", shown, work)


def terrain_speed(ctx: Context) -> dict[str, Any]:
    """Patches per second of `TerrainGenerator(r).generate(n, seed=0)`, median of repeats."""
    n, repeats = (2000, 1) if ctx.quick else (20000, 3)
    shown = f"TerrainGenerator(r).generate({n}, seed=0)"

    def work(part: Path) -> dict[str, Any]:
        from aelab.data.terrain import TerrainGenerator

        rates = {}
        for r in TERRAIN_RESOLUTIONS:
            seconds = []
            for _ in range(repeats):
                generator = TerrainGenerator(r)
                started = time.perf_counter()
                generator.generate(n, seed=0)
                seconds.append(time.perf_counter() - started)
            rates[str(r)] = n / statistics.median(seconds)
        return {"command": shown, "patches": n, "repeats": repeats, "patches_per_second": rates}

    return measure(ctx, "terrain_generation", shown, work)


# --- the section --------------------------------------------------------------------------------
def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def machine_line(figures: list[dict[str, Any]]) -> str:
    """The machine, its software, and the load average when the benchmarks started."""
    memory = memory_gib()
    parts = [
        f"{cpu_model()} ({os.cpu_count()} cores)",
        f"{memory:.0f} GiB" if memory else None,
        gpu_name() or "no GPU",
        f"Python {platform.python_version()}",
        f"torch {metadata.version('torch')}",
    ]
    loads = [f["load_average"] for f in figures if f.get("load_average") is not None]
    spread = f"{min(loads):.2f}–{max(loads):.2f}" if len(set(loads)) > 1 else f"{loads[0]:.2f}"
    load = f"; 1-minute load average {spread} as the benchmark{'s' * (len(loads) > 1)} started"
    return "Measured on " + ", ".join(p for p in parts if p) + (load if loads else "") + "."


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def code(text: str) -> str:
    return f"`{text}`"


def table(rows: list[tuple[str, str, str]]) -> str:
    """A left-aligned Markdown table: figure | value | command."""
    lines = ["| figure | value | command |", "| --- | --- | --- |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def overhead_row(found: dict[str, Any], goal: bool) -> str:
    low, high = found["ratio_quartiles"]
    met = f", goal {'met' if found['ratio'] <= OVERHEAD_GOAL else 'not met'}" if goal else ""
    pairs = plural(found["pairs"], "epoch pair")
    return (
        f"**{found['ratio']:.2f}**{met} (median of {pairs}, quartiles {low:.2f}–{high:.2f}), "
        f"{found['extra_ms_per_step']:.2f} ms of extra time per step; "
        f"{found['whole_ratio']:.2f} for the whole epoch with validation, image grid and "
        "checkpoints"
    )


def linear_row(found: dict[str, Any]) -> str:
    reached = []
    for row in found["rows"]:
        if row["epochs"] is None:
            reached.append(f"m={row['m']}: not within {found['max_epochs']} ({row['ratio']:.4f})")
        else:
            reached.append(f"m={row['m']}: {row['epochs']} ({row['seconds']:.1f} s)")
    svd = [row["svd_seconds"] for row in found["rows"]]
    return (
        f"epochs (seconds): {'; '.join(reached)}. Closed-form eigendecomposition: "
        f"{min(svd):.2f}–{max(svd):.2f} s"
    )


def startup_rows(found: dict[str, Any]) -> tuple[str, str]:
    median, values = found["median"], found["values"]
    first, goal = median["first step"], found["goal_seconds"]
    runs = values["first step"]
    spread = f"; single runs {min(runs):.2f}–{max(runs):.2f} s" if len(runs) > 1 else ""
    first_step = (
        f"**{first:.2f} s, goal {'met' if first < goal else 'not met'}**: `import lightning` "
        f"alone takes {median['import lightning']:.2f} s from launch (`import torch` "
        f"{median['import torch']:.2f} s); aelab's own work (config, terrain data, model, "
        f"trainer, Lightning's validation sanity check) is the other {found['own_work']:.2f} s"
        f" ({plural(found['repeats'], 'run')}, medians{spread})"
    )
    return f"{median['--help']:.2f} s ({plural(found['repeats'], 'run')}, median)", first_step


def markdown(found: dict[str, dict[str, Any]]) -> str:
    over, one = found["overhead"], found["overhead_1_thread"]
    linear, start, run = found["linear_convergence"], found["startup"], found["default_run"]
    terrain = found["terrain_generation"]
    help_value, first_step = startup_rows(start)
    rates = terrain["patches_per_second"]
    run_goal = "goal met" if run["wall_from_launch"] < RUN_GOAL_SECONDS else "goal not met"
    rows = [
        (
            "framework overhead: aelab training epoch / hand-written PyTorch loop "
            f"({over['data']}, MLP AE 784-512-256-16, batch {over['batch_size']}, "
            f"{over['device']}, {over['torch_threads']} torch threads; "
            f"goal ≤ {OVERHEAD_GOAL:.2f})",
            [overhead_row(over, goal=True), code(over["command"])],
        ),
        (
            "the same with one torch thread (less noise)",
            [overhead_row(one, goal=False), code(one["command"])],
        ),
        (
            f"linear AE (`variant=pca`, random orthonormal start, `{linear['optimizer']}` lr "
            f"{linear['lr']}, {linear['scheduler']} over {plural(linear['max_epochs'], 'epoch')}, "
            f"batch {linear['batch_size']}) to `test/mse_over_pca` ≤ {linear['target']}, "
            "MNIST t10k",
            [linear_row(linear), code(linear["command"])],
        ),
        ("`aelab-train --help`", [help_value, code(start["command"])]),
        (
            "launch to first training step, default job (goal < 4 s)",
            [
                first_step,
                code(start["command"]) + "; every run logs `first training step … after launch`",
            ],
        ),
        (
            f"the default run (`make run` after set-up; goal < {RUN_GOAL_SECONDS:.0f} s)",
            [
                f"{run['wall_from_launch']:.1f} s wall from launch, {run_goal}; "
                f"{plural(run['epochs'], 'epoch')}, test/mse {run['test_mse']:.5f} vs PCA "
                f"{run['test_pca_mse']:.5f}",
                code(run["command"]),
            ],
        ),
        (
            "sweep throughput: joblib with 2 jobs vs the basic launcher",
            [
                "see [Parallel jobs on one machine]"
                "(docs/experiments.md#parallel-jobs-on-one-machine)",
                "`scripts/bench_sweep.py`",
            ],
        ),
        (
            "terrain generation",
            [
                ", ".join(f"{rate:,.0f} patches/s at r = {r}" for r, rate in rates.items())
                + f" (median of {terrain['repeats']})",
                code(terrain["command"]),
            ],
        ),
    ]
    flat = [(label, value, command) for label, (value, command) in rows]
    return machine_line(list(found.values())) + "\n\n" + table(flat) + "\n"


def jobs(ctx: Context) -> list[Job]:
    """The configs the figures rest on: the default job, the overhead's trainer, the linear AE."""
    return [
        Job("train", ()),
        Job("train", ("trainer.max_epochs=1",)),
        Job("train", ("trainer.max_epochs=8",)),
        Job("train", ("model=linear", *ctx.mnist_overrides())),
    ]


def run(ctx: Context) -> Section:
    ctx.require_mnist()
    found = {
        "overhead": overhead(ctx, None),
        "overhead_1_thread": overhead(ctx, 1),
        "linear_convergence": linear_convergence(ctx),
        "startup": startup(ctx),
        "default_run": default_run(ctx),
        "terrain_generation": terrain_speed(ctx),
    }
    return Section(markdown(found))
