"""What an experiment module is handed: where to work, how to run its sweeps, where figures go.

    ctx.train("terrain", ["experiment=pca_equivalence"])     # -> one result.json dict per job
    ctx.evaluate("eval", [f"ckpt_path={a},{b}"])              # -> one eval.json dict per job
    ctx.figure("curve")                                       # -> where to save curve.png

A sweep runs as one `aelab-train -m` (or `aelab-eval -m`) subprocess into `work_dir/<sweep>`
with `hydra/launcher=joblib` (2 jobs at once by default). A job whose result.json says `ok` is
not run again: an interrupted sweep resumes, and only its missing jobs run (each from its own
`last.ckpt` when it has one).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aelab.experiments import _configs

ROOT = Path(__file__).resolve().parents[3]  # the repository: docs/ and README.md live here
MNIST_FILE = "t10k-images-idx3-ubyte"
POLL_SECONDS = 2.0
SMOKE = {  # --quick: tiny data, one short epoch
    "terrain": [
        "data.train_size=256",
        "data.val_size=64",
        "data.test_size=64",
        "trainer.max_epochs=1",
    ],
    "mnist": [
        "data.train_size=200",
        "data.val_size=50",
        "data.test_size=50",
        "trainer.max_epochs=1",
    ],
    "images": ["data.val_size=10", "data.test_size=10", "trainer.max_epochs=1"],
}


class ExperimentError(RuntimeError):
    """An experiment cannot go on (missing data, a sweep that crashed); one line says why."""


@dataclass(frozen=True)
class Job:
    """One aelab app (`train` or `eval`) and its Hydra overrides; comma lists sweep."""

    app: str
    overrides: tuple[str, ...]


@dataclass
class Section:
    """The Markdown an experiment writes between its markers (tables, links to figures)."""

    markdown: str


def find_mnist(root: Path = ROOT) -> Path | None:
    """AELAB_MNIST_DIR or ../shared/data/mnist, if it holds the t10k images (.gz or not)."""
    folder = Path(os.environ.get("AELAB_MNIST_DIR") or root.parent / "shared" / "data" / "mnist")
    if any((folder / name).is_file() for name in (MNIST_FILE + ".gz", MNIST_FILE)):
        return folder.resolve()
    return None


@dataclass
class Context:
    """An experiment's view of one `aelab-experiments` run."""

    name: str
    doc: str  # the module's DOC, relative to the repository root
    quick: bool = False
    work_dir: Path = field(default_factory=Path)
    figure_dir: Path = field(default_factory=Path)
    mnist_dir: Path | None = None
    n_jobs: int = 2
    say: Callable[[str], None] = print
    torch_threads: set[int] = field(default_factory=set)  # as the jobs reported them
    ran: list[tuple[str, list[str]]] = field(default_factory=list)  # (app, overrides) per run
    failed: list[dict[str, Any]] = field(default_factory=list)  # the results of failed jobs

    def smoke(self, data: str = "terrain") -> list[str]:
        """Under --quick, overrides that shrink a run to a smoke test (tiny data, one epoch)."""
        return list(SMOKE[data]) if self.quick else []

    # --- data ---------------------------------------------------------------------------------
    def mnist_overrides(self) -> list[str]:
        """The t10k MNIST split from `mnist_dir` (a placeholder folder when there is none)."""
        folder = self.mnist_dir or Path("data/mnist")
        return ["data=mnist", "data.split=t10k", "data.download=false", f"data.data_dir={folder}"]

    def require_mnist(self) -> Path:
        if self.mnist_dir is None:
            raise ExperimentError(
                f"{self.name} needs MNIST: no {MNIST_FILE}.gz in $AELAB_MNIST_DIR or "
                "../shared/data/mnist; set AELAB_MNIST_DIR=<folder with the t10k files>"
            )
        return self.mnist_dir

    def command(self, app: str, overrides: Sequence[str]) -> str:
        """The command line of a sweep as the docs show it (the MNIST folder as a variable)."""
        shown = [
            o.replace(str(self.mnist_dir), "$AELAB_MNIST_DIR") if self.mnist_dir else o
            for o in overrides
        ]
        return " ".join([f"aelab-{app}", "-m", *shown])

    # --- figures ------------------------------------------------------------------------------
    def figure(self, name: str) -> Path:
        """Where to save figure `name` (a PNG); the folder exists."""
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        return self.figure_dir / f"{name}.png"

    def link(self, path: Path) -> str:
        """`path` as a Markdown link target, relative to the folder of DOC."""
        return os.path.relpath(path, (ROOT / self.doc).parent)

    def save_figure(self, fig: Any, name: str, title: str | None = None) -> str:
        """Save a matplotlib figure as `name`.png; returns the Markdown image line."""
        path = self.figure(name)
        fig.savefig(path, dpi=110)
        return f"![{title or name}]({self.link(path)})"

    # --- runs ---------------------------------------------------------------------------------
    def train(self, sweep: str, overrides: Sequence[str]) -> list[dict[str, Any]]:
        """Run (or resume) the `aelab-train -m` sweep; each job's result.json, in job order."""
        extra = ["ckpt_path=last", "callbacks.progress_bar=null", *self._threads(overrides)]
        results = self._multirun("train", sweep, [*overrides, *extra])
        self.torch_threads |= {r["torch_threads"] for r in results if r.get("torch_threads")}
        return results

    def evaluate(self, sweep: str, overrides: Sequence[str]) -> list[dict[str, Any]]:
        """Run (or resume) the `aelab-eval -m` sweep; each job's eval.json (with `status`)."""
        reports = []
        for result in self._multirun("eval", sweep, [*overrides, *self._threads(overrides)]):
            path = Path(result["job_dir"]) / "eval.json"
            report = json.loads(path.read_text()) if result.get("status") == "ok" else {}
            reports.append(
                {**report, **{k: result.get(k) for k in ("status", "reason", "job_dir")}}
            )
        return reports

    def _threads(self, overrides: Sequence[str]) -> list[str]:
        """Cores / parallel jobs torch threads per job, unless the overrides set them."""
        if any(o.startswith("torch_threads=") for o in overrides):
            return []
        return [f"torch_threads={max(1, (os.cpu_count() or 1) // max(1, self.n_jobs))}"]

    def _multirun(self, app: str, sweep: str, overrides: list[str]) -> list[dict[str, Any]]:
        sweep_dir = (self.work_dir / sweep).resolve()
        runs = _configs.expand(app, overrides)
        self.ran += [(app, run) for run in runs]
        done, dirs = _existing_jobs(app, sweep_dir)
        keys = [_configs.identity(app, run) for run in runs]
        todo = [i for i, key in enumerate(keys) if key not in done]
        label = f"{self.name}/{sweep}"
        if todo:
            self.say(
                f"{label}: {len(todo)} of {len(runs)} jobs to run ({len(runs) - len(todo)} done)"
            )
            started = time.time()
            if len(todo) == len(runs) and not dirs:
                commands = [_command(app, [*overrides, *_launcher(sweep_dir, self.n_jobs)])]
            else:  # resume: each missing job on its own, in its old folder if it had one
                free = _free_numbers(sweep_dir)
                commands = []
                for i in todo:
                    subdir = dirs.get(keys[i]) or str(next(free))
                    hydra = [f"hydra.sweep.dir={sweep_dir}", f"hydra.sweep.subdir={subdir}"]
                    commands.append(_command(app, [*runs[i], *hydra]))
            _run_all(
                commands,
                sweep_dir,
                self.n_jobs,
                len(runs),
                len(runs) - len(todo),
                label,
                started,
                self.say,
            )
            done, dirs = _existing_jobs(app, sweep_dir)
        missing = [runs[i] for i, key in enumerate(keys) if key not in done and key not in dirs]
        if missing:
            raise ExperimentError(
                f"{label}: {len(missing)} job(s) left no result.json, e.g. {' '.join(missing[0])} "
                f"({_last_error(sweep_dir / 'launch.log')}; see {sweep_dir / 'launch.log'})"
            )
        results = [done.get(key) or _result(sweep_dir / dirs[key]) for key in keys]
        self.failed += [r for r in results if r.get("status") != "ok"]
        return results


# --- the sweep's folder -------------------------------------------------------------------------
def _result(job_dir: Path) -> dict[str, Any]:
    path = job_dir / "result.json"
    try:
        result = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        result = {"status": "failed", "reason": f"no readable result.json in {job_dir}"}
    return {**result, "job_dir": str(job_dir)}


def _existing_jobs(app: str, sweep_dir: Path) -> tuple[dict[str, dict], dict[str, str]]:
    """({identity: result} of the ok jobs, {identity: subdir} of every job that started)."""
    done, dirs = {}, {}
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        key = _configs.identity(app, yaml.safe_load(overrides_file.read_text()) or [])
        dirs[key] = job_dir.name
        result = _result(job_dir)
        if result.get("status") == "ok":
            done[key] = result
    return done, dirs


def _free_numbers(sweep_dir: Path):
    taken = {int(p.name) for p in sweep_dir.glob("*") if p.name.isdigit()}
    number = 0
    while True:
        if number not in taken:
            yield number
        number += 1


def _launcher(sweep_dir: Path, n_jobs: int) -> list[str]:
    if n_jobs <= 1:
        return [f"hydra.sweep.dir={sweep_dir}"]
    return [
        "hydra/launcher=joblib",
        f"hydra.launcher.n_jobs={n_jobs}",
        f"hydra.sweep.dir={sweep_dir}",
    ]


def _command(app: str, overrides: list[str]) -> list[str]:
    script = Path(sys.executable).with_name(f"aelab-{app}")
    if script.exists():
        return [str(script), "-m", *overrides]
    return [
        sys.executable,
        "-m",
        f"aelab.{'train' if app == 'train' else 'evaluate'}",
        "-m",
        *overrides,
    ]


def _run_here(command: list[str], log: Any) -> None:
    """Run one `_command` sweep in this process (`aelab.runs.in_process`), output in `log`."""
    from aelab.runs.in_process import run_here

    script = Path(command[0]).name
    if script.startswith("aelab-"):
        name, args = script, command[1:]
    else:  # python -m aelab.train|aelab.evaluate ...
        name = "aelab-train" if command[2] == "aelab.train" else "aelab-eval"
        args = command[3:]
    run_here(name, args, ROOT, log, log)  # the sweep's jobs write their result.json


def _last_error(log: Path) -> str:
    """The last error line of a launch log (or its last line)."""
    lines = [line for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no log"])[-1].strip()


def _count_results(sweep_dir: Path, since: float) -> int:
    return sum(1 for p in sweep_dir.glob("*/result.json") if p.stat().st_mtime >= since)


def _stop(processes: list[subprocess.Popen], grace: float = 10.0) -> None:
    """Stop the launched commands and their joblib workers (SIGTERM, then SIGKILL)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
        deadline = time.time() + grace
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.time()))


def _run_all(
    commands: list[list[str]],
    sweep_dir: Path,
    parallel: int,
    total: int,
    already: int,
    label: str,
    started: float,
    say: Callable[[str], None],
) -> None:
    """Run the commands (`parallel` at once), logging to launch.log; report finished jobs.

    One at a time (`parallel` 1), each runs in this process (`_run_here`): the same app and
    overrides, without an interpreter's start-up and imports per sweep.
    """
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if parallel <= 1:
        with open(sweep_dir / "launch.log", "a") as log:
            for command in commands:
                log.write("$ " + " ".join(command) + "\n")
                log.flush()
                _run_here(command, log)
                count = already + _count_results(sweep_dir, started)
                say(
                    f"{label}: job {min(count, total)} of {total} done, {time.time() - started:.0f} s"
                )
        return
    pending = list(commands)
    running: list[subprocess.Popen] = []
    shown = -1
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    with open(sweep_dir / "launch.log", "a") as log:
        try:
            while pending or running:
                while pending and len(running) < max(1, parallel):
                    command = pending.pop(0)
                    log.write("$ " + " ".join(command) + "\n")
                    log.flush()
                    running.append(  # own process group: stopping it stops its workers too
                        subprocess.Popen(
                            command,
                            cwd=ROOT,
                            stdout=log,
                            stderr=log,
                            env=env,
                            start_new_session=True,
                        )
                    )
                time.sleep(POLL_SECONDS)
                running = [p for p in running if p.poll() is None]
                count = already + _count_results(sweep_dir, started)
                if count != shown:
                    shown = count
                    say(
                        f"{label}: job {min(count, total)} of {total} done, {time.time() - started:.0f} s"
                    )
        finally:
            _stop(running)
