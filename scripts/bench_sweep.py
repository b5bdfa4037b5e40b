"""Sweep throughput: a 12-job terrain sweep with joblib (2 jobs at once) vs the basic launcher.

The same sweep, `model=linear,mlp compression.ratio=0.01,0.02,0.05,0.1,0.2,0.5` on terrain, runs
under each launcher in turn, for `--rounds` rounds in alternating order so that the machine's
slower and faster spells hit all alike. Printed: the wall time of each sweep and the speed-up of
joblib over the basic launcher, both with torch's default thread count and with one thread per
job (joblib jobs get cores / jobs threads by themselves, see `aelab.threads`).

    .venv/bin/python scripts/bench_sweep.py [--rounds 1] [--epochs 20] [--n-jobs 2] [--json PATH]
        [--sweep OVERRIDE ...] [--extra OVERRIDE ...]

`--sweep` replaces the 12-job grid, `--extra` adds fixed overrides to every job (e.g. smaller
data for a smoke test).
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SWEEP = ["model=linear,mlp", "compression.ratio=0.01,0.02,0.05,0.1,0.2,0.5"]


def launchers(n_jobs: int) -> dict[str, list[str]]:
    return {
        "basic": [],
        "basic, torch_threads=1": ["torch_threads=1"],
        f"joblib, n_jobs={n_jobs}": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={n_jobs}"],
    }


def count_jobs(sweep: list[str]) -> int:
    """Jobs in a grid of `key=a,b,c` overrides."""
    jobs = 1
    for override in sweep:
        jobs *= len(override.split("=", 1)[1].split(","))
    return jobs


def run_sweep(overrides: list[str], epochs: int, sweep_dir: Path, sweep: list[str]) -> float:
    """Run the sweep; returns its wall seconds after checking every job ended ok."""
    command = [str(BIN / "aelab-train"), "-m", *sweep, f"trainer.max_epochs={epochs}"]
    command += [*overrides, f"hydra.sweep.dir={sweep_dir}"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    results = [json.loads(p.read_text()) for p in sweep_dir.glob("*/result.json")]
    ok, jobs = sum(r.get("status") == "ok" for r in results), count_jobs(sweep)
    if done.returncode != 0 or ok != jobs:
        label = " ".join(overrides) or "(basic)"
        sys.exit(f"sweep {label} failed: {ok}/{jobs} jobs ok\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=20, help="trainer.max_epochs of each job")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--sweep", nargs="+", default=SWEEP, help="the grid (default: 12 jobs)")
    parser.add_argument("--extra", nargs="+", default=[], help="added to every job")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    options = {name: [*args.extra, *o] for name, o in launchers(args.n_jobs).items()}
    jobs = count_jobs(args.sweep)
    walls: dict[str, list[float]] = {name: [] for name in options}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            order = list(options) if round_ % 2 == 0 else list(reversed(options))
            for name in order:
                sweep_dir = Path(tmp) / f"{round_}-{len(walls[name])}-{name.split(',')[0]}"
                walls[name].append(run_sweep(options[name], args.epochs, sweep_dir, args.sweep))
                print(f"round {round_ + 1}: {name:<24} {walls[name][-1]:7.1f} s", flush=True)
    median = {name: statistics.median(values) for name, values in walls.items()}
    joblib = median[f"joblib, n_jobs={args.n_jobs}"]
    speedup = {
        "basic": median["basic"] / joblib,
        "basic, torch_threads=1": median["basic, torch_threads=1"] / joblib,
    }
    print(
        f"{jobs}-job terrain sweep, {args.epochs} epochs per job, "
        f"median wall of {args.rounds} round(s)"
    )
    for name, seconds in median.items():
        print(f"  {name:<24} {seconds:7.1f} s")
    print(f"joblib speed-up over basic (torch's default threads): {speedup['basic']:.2f}")
    one_thread = speedup["basic, torch_threads=1"]
    print(f"joblib speed-up over basic with torch_threads=1:       {one_thread:.2f}")
    if args.json:
        report = {
            "sweep": args.sweep,
            "extra": args.extra,
            "jobs": jobs,
            "epochs": args.epochs,
            "rounds": args.rounds,
            "n_jobs": args.n_jobs,
            "walls": walls,
            "median": median,
            "joblib": f"joblib, n_jobs={args.n_jobs}",
            "speedup": speedup,  # of joblib over each basic launcher
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
