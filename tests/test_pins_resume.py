"""A run stopped after its first epoch and resumed ends exactly like an uninterrupted one: torch's
random stream (denoising noise, VAE posterior samples) and the dead-latent counters of the
sparsity regularizers continue across the resume."""

import json
from pathlib import Path

import torch

from tests.conftest import run_cli

# 4 steps of 64 samples per epoch; no learning-rate schedule, whose length would depend on
# trainer.max_epochs and so differ between the stopped run and the uninterrupted one
TINY = [
    "data.train_size=256",
    "data.val_size=64",
    "data.test_size=64",
    "data.batch_size=64",
    "model.scheduler=none",
    "torch_threads=1",
    "~logger",
]


def train(cwd: Path, name: str, epochs: int, *overrides: str, resume: bool = False) -> Path:
    """A sweep of `overrides` into outputs/<name>, each job resumed from its last.ckpt if asked."""
    extra = ["ckpt_path=last"] if resume else []
    done = run_cli(
        "-m",
        *overrides,
        *TINY,
        f"trainer.max_epochs={epochs}",
        f"hydra.sweep.dir=outputs/{name}",
        *extra,
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return cwd / "outputs" / name


def result_of(job: Path) -> dict:
    return json.loads((job / "result.json").read_text())


def stop_and_resume(cwd: Path, *overrides: str) -> Path:
    """The sweep folder of 1 epoch resumed to 2 (from last.ckpt: epoch 0, the first best)."""
    stopped = train(cwd, "stopped", 1, *overrides)
    for last in stopped.glob("*/checkpoints/last.ckpt"):
        assert torch.load(last, weights_only=True)["epoch"] == 0
    return train(cwd, "stopped", 2, *overrides, resume=True)


def test_denoising_and_vae_runs_resume_their_random_stream(tmp_path):
    """Each training step draws from torch's global generator (the noise, the posterior sample):
    without its state restored, the resumed epochs would see other draws."""
    runs = ["model=mlp,vae", "regularizer=denoising"]
    whole = train(tmp_path, "whole", 2, *runs)
    resumed = stop_and_resume(tmp_path, *runs)
    differ = []
    for job in ("0", "1"):
        expected, found = result_of(whole / job), result_of(resumed / job)
        assert found["status"] == "ok" and found["resumed_from"].endswith("last.ckpt")
        assert found["model"] == expected["model"] and found["epochs"] == 2
        if found["metrics"] != expected["metrics"]:  # CPU arithmetic: exactly equal
            differ.append(found["model"])
    assert not differ, f"resumed runs differ from uninterrupted ones: {differ}"


def test_sparse_run_resumes_its_dead_latent_counters(tmp_path):
    """No latent is ever active (threshold 1e6), so each latent's count of samples since it last
    fired is the number of training samples seen. With a window of 300, the second epoch's
    steps (counts 320, 384, 448, 512) are all dead only if the first epoch's 256 carried over
    the resume (counted afresh: 64 .. 256, none dead)."""
    sparse = ["model=mlp", "regularizer=sparse_l1", "regularizer.threshold=1e6"]
    resumed = stop_and_resume(tmp_path, *sparse, "regularizer.dead_window=300")
    found = result_of(resumed / "0")
    assert found["resumed_from"].endswith("last.ckpt") and found["epochs"] == 2
    assert found["metrics"]["latent/dead_frac"] == 1.0
    last = torch.load(resumed / "0/checkpoints/last.ckpt", weights_only=True)
    counts = last["regularizer_state"]["samples_since_fired"]
    assert counts.tolist() == [256 * (last["epoch"] + 1)] * 5  # m = 5 latents, 256 per epoch
