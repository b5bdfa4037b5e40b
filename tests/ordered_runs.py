"""Tiny ordered runs, trained once per test session in this process, and aelab-eval in process.

Shared by tests/test_eval_prefix.py and tests/test_python_api.py: ``trained_run("mlp", factory)``
trains on first use (a few seconds) and gives the same run directory to every later caller.
"""

import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

# terrain (n = 100) at eta = 0.1: m = 10, prefix sizes 1, 2, 5, 10
TINY_ORDERED = [
    "ordered=nested",
    "compression.ratio=0.1",
    "data.train_size=512",
    "data.val_size=128",
    "data.test_size=256",
    "data.batch_size=64",
    "trainer.max_epochs=2",
    "torch_threads=1",
    "~logger",
]
M = 10

_RUNS: dict[str, Path] = {}


def run_main(main, argv: list[str], cwd: Path) -> int:
    """An aelab entry point's `main` with these arguments, in `cwd`: its exit code (0: none)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setattr(sys, "argv", argv)
        GlobalHydra.instance().clear()
        try:
            main()
        except SystemExit as exited:
            return exited.code or 0
        finally:
            GlobalHydra.instance().clear()
    return 0


def trained_run(model: str, factory: pytest.TempPathFactory) -> Path:
    """The run directory of a tiny ``ordered=nested`` run of `model`, trained on first use."""
    if model not in _RUNS:
        from aelab.train import main

        root = factory.mktemp(f"ordered_{model}")
        args = [*TINY_ORDERED, f"model={model}", f"hydra.run.dir={root / 'run'}"]
        code = run_main(main, ["aelab-train", *args], root)
        assert code == 0 and (root / "run" / "result.json").is_file(), f"training {model} failed"
        _RUNS[model] = root / "run"
    return _RUNS[model]


def eval_in_process(*args: str, cwd: Path) -> int:
    """aelab-eval with these arguments in this process, writing into `cwd`/eval: its exit code."""
    from aelab.evaluate import main

    return run_main(main, ["aelab-eval", "hydra.run.dir=eval", *args], cwd)
