"""Start-up: `aelab-train --help`, and launch to the first training step of the default job.

Each is run `--repeats` times in fresh processes, interleaved; medians are reported, with bare
`python -c "import torch"` and `python -c "import lightning"` beside them: the floors no torch or
Lightning program can beat. First step minus `import lightning` is aelab's own start-up work
(config composition, data, model, trainer), in the same run.

    .venv/bin/python scripts/bench_startup.py [--repeats 3] [--json PATH] [OVERRIDES ...]

OVERRIDES are added to the default job's command line (e.g. smaller data for a smoke test).
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
FIRST_STEP = re.compile(r"first training step ([0-9.]+) s after launch")
GOAL_SECONDS = 4.0


def timed(command: list[str], cwd: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout + done.stderr


def import_probe(module: str) -> list[str]:
    """A process that imports `module`, then prints the seconds since its own launch."""
    code = f"import {module}\nfrom aelab.launch_clock import seconds_since_launch\n"
    return [sys.executable, "-c", code + "print(seconds_since_launch())"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("overrides", nargs="*", help="added to the default job's overrides")
    args = parser.parse_args()
    results: dict[str, list[float]] = {
        "import torch": [],
        "import lightning": [],
        "--help": [],
        "first step": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for module in ("torch", "lightning"):  # seconds from launch to imported
                results[f"import {module}"].append(float(timed(import_probe(module), tmp)[1]))
            results["--help"].append(timed([str(BIN / "aelab-train"), "--help"], tmp)[0])
            job = [str(BIN / "aelab-train"), "trainer.max_epochs=1", *args.overrides]
            _, output = timed(job, tmp)
            results["first step"].append(float(FIRST_STEP.search(output).group(1)))
    for name, values in results.items():
        print(
            f"{name:>16}: median {statistics.median(values):.2f} s  ({', '.join(f'{v:.2f}' for v in values)})"
        )
    first = statistics.median(results["first step"])
    own = [a - b for a, b in zip(results["first step"], results["import lightning"], strict=True)]
    print(
        f"aelab's own start-up work (first step - import lightning): {statistics.median(own):.2f} s"
    )
    print(
        f"launch to first training step / goal ({GOAL_SECONDS:.0f} s): {first / GOAL_SECONDS:.2f}"
    )
    if args.json:
        report = {
            "repeats": args.repeats,
            "overrides": ["trainer.max_epochs=1", *args.overrides],
            "goal_seconds": GOAL_SECONDS,
            "median": {name: statistics.median(values) for name, values in results.items()},
            "values": results,
            "own_work": statistics.median(own),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
