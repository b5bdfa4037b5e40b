"""Shared fixtures: composed configs, tiny MNIST IDX files, and `aelab-train` as a subprocess."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from aelab.config import CONFIG_DIR

# The tests' tensors are tiny: more threads only add contention on a busy machine.
torch.set_num_threads(1)

# Small, fast settings for a real end-to-end run on terrain.
TINY_TERRAIN = [
    "data.train_size=256",
    "data.val_size=64",
    "data.test_size=64",
    "data.batch_size=64",
    "trainer.max_epochs=2",
]


def compose_config(*overrides: str, config_name: str = "train") -> DictConfig:
    """The composed Hydra config, with `hydra` nodes, as the app would see it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)


@pytest.fixture
def cfg_for():
    return compose_config


@pytest.fixture(scope="session")
def file_overrides(tmp_path_factory):
    """``data.path=...`` for the data options that read their input shape from a file.

    ``file_overrides("array")`` is ``["data.path=<a tiny .npy of 64 x 16 vectors>"]``,
    ``file_overrides("dem")`` a 300 x 300 grid of 30 m cells; other data options need no file:
    ``[]``.
    """
    folder = tmp_path_factory.mktemp("array")
    path, grid = folder / "vectors.npy", folder / "grid.npy"
    rng = np.random.default_rng(0)
    np.save(path, rng.normal(size=(64, 16)).astype(np.float32))
    np.save(grid, rng.normal(size=(300, 300)).cumsum(0).cumsum(1).astype(np.float32))
    overrides = {
        "array": [f"data.path={path}"],
        "dem": [f"data.path={grid}", "data.cell_size_m=[30,30]"],
    }
    return lambda data: overrides.get(data, [])


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write an unsigned-byte IDX file (the MNIST format), gzipped by default."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    """A tiny MNIST-format folder: 300 't10k' and 400 'train' images of 28 x 28 with labels."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem, count in (("t10k", 300), ("train", 400)):
        labels = np.arange(count) % 10
        images = rng.integers(0, 40, size=(count, 28, 28))
        for i, label in enumerate(labels):  # a bright bar whose position encodes the digit
            images[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 250
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)
    return folder


def run_cli(
    *args: str,
    cwd: Path,
    command: str = "aelab-train",
    timeout: int = 300,
    process: bool = False,
) -> subprocess.CompletedProcess:
    """Run an aelab command in `cwd`, capturing its output and exit code.

    In this process by default (no interpreter start-up: most of a tiny run is imports), with
    the process's state restored after; ``process=True`` where the process is the point (the
    console script itself, warnings at import, a user's PYTHONPATH, kill and resume, spawned
    workers).
    """
    if process:
        executable = Path(sys.executable).with_name(command)
        env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}  # one-liners
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.run(
            [str(executable), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    return _run_here(command, list(args), cwd)


def _run_here(command: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    import io

    from aelab.runs.in_process import run_here

    out, err = io.StringIO(), io.StringIO()
    code = run_here(command, args, cwd, out, err)
    return subprocess.CompletedProcess([command, *args], code, out.getvalue(), err.getvalue())


def load_results(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("result.json"))]


@pytest.fixture
def one_class_mnist(mnist_dir: Path):
    """The tiny MNIST fixture as a one-class split: digit 3 in train/val, every digit in test."""
    from aelab.data.mnist import MNISTDataModule

    datamodule = MNISTDataModule(
        data_dir=str(mnist_dir),
        split="t10k",
        download=False,
        val_size=50,
        test_size=100,
        classes=[3],
    )
    datamodule.setup()
    return datamodule


def run_train_in_process(args: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    """aelab-train in this process (no interpreter start-up): its exit code (0 when it ends
    without exiting) and standard error."""
    from hydra.core.global_hydra import GlobalHydra

    from aelab.train import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["aelab-train", *args])
    GlobalHydra.instance().clear()
    code = 0  # a run that succeeds returns without exiting
    try:
        main()
    except SystemExit as exit_info:
        code = exit_info.code
    finally:
        GlobalHydra.instance().clear()
    return code, capsys.readouterr().err


class RecordingOutputs:
    """Stands in for `aelab.eval.Outputs`: keeps the grids and figures a task draws."""

    def __init__(self):
        self.grids, self.figures = {}, {}

    def grid(self, name, rows, datamodule, labels):
        assert len(labels) == len(rows), f"{name}: {len(rows)} rows, {len(labels)} labels"
        self.grids[name] = rows
        return f"{name}.png"

    def figure(self, name, figure):
        self.figures[name] = figure
        return f"{name}.png"


def markdown_section_table(markdown: str, title: str) -> dict[str, dict[str, str]]:
    """The markdown table under `### title` as {row label: {column: cell}}."""
    block = markdown.split(f"### {title}\n", 1)[1].strip("\n").split("\n\n", 1)[0]
    lines = [line.strip("|").split("|") for line in block.splitlines() if line.startswith("|")]
    header = [h.strip() for h in lines[0]]
    return {
        cells[0].strip(): dict(zip(header[1:], (c.strip() for c in cells[1:]), strict=True))
        for cells in lines[2:]
    }
