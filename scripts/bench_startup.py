"""Start-up: `aelab-train --help`, and launch to the first training step of the default job.

Each is run `--repeats` times in fresh processes, interleaved; medians are reported, with a bare
`python -c "import torch"` as the floor no torch program can beat.

    .venv/bin/python scripts/bench_startup.py [--repeats 3]
"""

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"import torch": [], "--help": [], "first step": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            results["import torch"].append(timed([sys.executable, "-c", "import torch"], tmp)[0])
            results["--help"].append(timed([str(BIN / "aelab-train"), "--help"], tmp)[0])
            _, output = timed([str(BIN / "aelab-train"), "trainer.max_epochs=1"], tmp)
            results["first step"].append(float(FIRST_STEP.search(output).group(1)))
    for name, values in results.items():
        print(
            f"{name:>14}: median {statistics.median(values):.2f} s  ({', '.join(f'{v:.2f}' for v in values)})"
        )
    first = statistics.median(results["first step"])
    print(
        f"launch to first training step / goal ({GOAL_SECONDS:.0f} s): {first / GOAL_SECONDS:.2f}"
    )


if __name__ == "__main__":
    main()
