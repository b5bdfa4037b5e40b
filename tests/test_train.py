"""aelab-train end to end, as a user runs it: a subprocess in a fresh directory."""

from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import TINY_TERRAIN, load_results, run_cli


def tensorboard_tags(log_dir: Path) -> dict[str, set[str]]:
    tags: dict[str, set[str]] = {"scalars": set(), "images": set()}
    for events in log_dir.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), size_guidance={"images": 0})
        accumulator.Reload()
        found = accumulator.Tags()
        tags["scalars"] |= set(found["scalars"])
        tags["images"] |= set(found["images"])
    return tags


def test_train_writes_result_tensorboard_and_checkpoint(tmp_path):
    done = run_cli(*TINY_TERRAIN, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = load_results(tmp_path / "outputs")
    assert result["status"] == "ok"
    assert result["latent_dim"] == 5 and result["input_dim"] == 100
    metrics = result["metrics"]
    for key in ("train/loss", "val/mse", "test/mse", "test/pca_mse", "test/mse_over_pca"):
        assert key in metrics and metrics[key] == metrics[key]  # present and not NaN
    assert metrics["test/mse_over_pca"] == pytest.approx(
        metrics["test/mse"] / metrics["test/pca_mse"], rel=1e-4
    )
    run_dir = Path(result["output_dir"])
    assert run_dir.parent == tmp_path / "outputs"
    log_dir = Path(result["tensorboard_dir"])  # named by model, data and eta
    assert log_dir == run_dir / "model=mlp,data=terrain,eta=0.05"
    tags = tensorboard_tags(log_dir)
    assert {"train/loss", "val/mse", "test/mse", "test/pca_mse"} <= tags["scalars"]
    assert "epoch" not in tags["scalars"]  # Lightning's counter is no chart of its own
    assert "val/reconstructions" in tags["images"]
    assert result["hparams"] == {  # the HParams session: what ran, not a preset's name
        "model": "mlp",
        "data": "terrain",
        "regularizer": "none",
        "ordered": "none",
        "eta": 0.05,
        "m": 5,
        "n": 100,
        "seed": 42,
        "lr": pytest.approx(checkpoint_lr(result)),
    }
    best, last = result["best"], result["last"]
    assert result["tested"] == "best" and best["checkpoint"] == result["checkpoint"]
    assert last["epoch"] == 1 and -1 <= best["epoch"] <= 1  # -1: the PCA start
    assert best["metrics"]["val/mse"] == metrics["val/mse"] <= last["metrics"]["val/mse"]
    assert best["metrics"]["test/mse"] == metrics["test/mse"]
    checkpoint = torch.load(result["checkpoint"], weights_only=True)
    assert checkpoint["aelab_config"]["model"]["_target_"].endswith("MLPAutoencoder")
    assert checkpoint["hyper_parameters"]["latent_dim"] == 5
    assert "tensorboard --logdir" in done.stdout and str(run_dir) in done.stdout


def checkpoint_lr(result: dict) -> float:
    return torch.load(result["checkpoint"], weights_only=True)["aelab_config"]["model"]["lr"]


def test_multirun_writes_one_result_per_job(tmp_path):
    done = run_cli(
        "-m",
        "model=linear,mlp",
        "compression.ratio=0.02,0.1",
        *TINY_TERRAIN,
        "trainer.max_epochs=1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = load_results(tmp_path / "outputs" / "multirun")
    assert len(results) == 4 and all(r["status"] == "ok" for r in results)
    assert {(r["model"], r["latent_dim"]) for r in results} == {
        ("linear", 2),
        ("linear", 10),
        ("mlp", 2),
        ("mlp", 10),
    }


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [  # the console script's exit code and stderr; every other bad input: test_bad_input.py
        (["model=transformer"], "model must be one of conv, linear, mlp, vae"),
        (["compression.ratio=abc"], "compression.ratio must be a finite number"),
    ],
)
def test_bad_input_gets_one_clear_message(tmp_path, overrides, expected):
    done = run_cli(*overrides, *TINY_TERRAIN, cwd=tmp_path, process=True)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("aelab: error: ") and expected in lines[0], lines
    assert all(result["status"] == "failed" for result in load_results(tmp_path))
