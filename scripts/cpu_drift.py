"""Which CPU kernels move the results: one short conv and one MLP run per setting, compared bit for bit.

Another CPU model is emulated on this one by capping the instruction set each library may use
(the libraries pick their kernels by it): oneDNN (``ONEDNN_MAX_CPU_ISA``, the convolutions),
MKL (``MKL_ENABLE_INSTRUCTIONS``, the matrix products) and ATen (``ATEN_CPU_CAPABILITY``, torch's
own vectorised loops); all three together stand for an AVX2-only machine. Each setting trains the
same seeded run in a fresh process, with and without ``trainer.deterministic=true`` (aelab then
pins the three libraries to AVX2 code), and the test error is compared with the machine's own
default run: "same" means the final weights' validation error is equal to the last bit (the
tested checkpoint may be the PCA start, which training does not change). The thread count is the other input: one run
uses 1 torch thread instead of 2. Walls give the cost of the pinned kernels.

    .venv/bin/python scripts/cpu_drift.py [--steps 300] [--json out.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AELAB_TRAIN = str(Path(sys.executable).with_name("aelab-train"))
AVX2_MACHINE = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}
SETTINGS = {  # name -> (environment, overrides)
    "this CPU": ({}, []),
    "oneDNN capped at AVX2": ({"ONEDNN_MAX_CPU_ISA": "AVX2"}, []),
    "MKL capped at AVX2": ({"MKL_ENABLE_INSTRUCTIONS": "AVX2"}, []),
    "ATen capped at AVX2": ({"ATEN_CPU_CAPABILITY": "avx2"}, []),
    "an AVX2-only CPU (all three)": (AVX2_MACHINE, []),
    "1 torch thread instead of 2": ({}, ["torch_threads=1"]),
}
MODELS = {
    "conv": ["model=conv", "compression.ratio=0.02"],
    "mlp": ["model=mlp", "compression.ratio=0.05"],
}


def train(model: str, env: dict[str, str], overrides: list[str], steps: int, pinned: bool) -> dict:
    """One fresh aelab-train process; its test/mse and wall."""
    with tempfile.TemporaryDirectory() as folder:
        argv = [
            AELAB_TRAIN,
            *MODELS[model],
            "data.train_size=4096",
            f"trainer.max_steps={steps}",
            "torch_threads=2",
            *overrides,
            f"trainer.deterministic={str(pinned).lower()}",
            "~logger",
            "callbacks.progress_bar=null",
            f"hydra.run.dir={folder}",
        ]
        clean = {k: v for k, v in os.environ.items() if k not in AVX2_MACHINE and k != "MKL_CBWR"}
        started = time.perf_counter()
        done = subprocess.run(
            argv, env={**clean, **env}, cwd=ROOT, capture_output=True, text=True, timeout=900
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        result = json.loads((Path(folder) / "result.json").read_text())
    return {
        "last_val_mse": result["last"]["metrics"]["val/mse"],  # the final weights: every step
        "test_mse": result["metrics"]["test/mse"],  # the tested checkpoint (maybe the PCA start)
        "fit_seconds": result["fit_seconds"],
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for model in MODELS:
        for pinned in (False, True):
            base = None
            for name, (env, overrides) in SETTINGS.items():
                found = train(model, env, overrides, args.steps, pinned)
                base = base or found
                same = found["last_val_mse"] == base["last_val_mse"]
                change = abs(found["last_val_mse"] / base["last_val_mse"] - 1)
                rows.append(
                    {
                        "model": model,
                        "deterministic": pinned,
                        "setting": name,
                        **found,
                        "same_as_this_cpu": same,
                        "relative_change": change,
                    }
                )
                print(
                    f"{model:4s} deterministic={str(pinned):5s} {name:30s} "
                    f"final val/mse={found['last_val_mse']!r:24s} "
                    f"{'same' if same else f'{change:.2e} off'}"
                    f"  fit {found['fit_seconds']:.1f} s",
                    flush=True,
                )
    for model in MODELS:
        fits = {
            p: sum(
                r["fit_seconds"] for r in rows if r["model"] == model and r["deterministic"] is p
            )
            for p in (False, True)
        }
        print(f"{model}: fit time with pinned kernels / without: {fits[True] / fits[False]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"steps": args.steps, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
