"""Nothing a run does, nor a kill, loses work or leaves a result that lies."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from aelab.callbacks.guard import NonFiniteGuard
from aelab.checkpoint_io import AtomicCheckpointIO
from aelab.data.terrain import TerrainDataModule
from aelab.errors import NonFiniteLossError
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.atomic import atomic_write_text
from tests.conftest import load_results, run_cli

SMALL = ["data.val_size=64", "data.test_size=64", "data.batch_size=64", "~logger"]


def metrics_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())["metrics"]


def test_same_seed_same_metrics_other_seed_other_metrics(tmp_path):
    """In one process, one run after another: nothing a run leaves behind (RNG states, torch
    settings) reaches the next."""
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        done = run_cli(
            *SMALL,
            "data.train_size=256",
            "trainer.max_epochs=2",
            f"seed={seed}",
            f"hydra.run.dir=outputs/{name}",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        runs[name] = metrics_of(tmp_path / "outputs" / name)
    assert runs["a"] == runs["b"]
    # training itself, since the tested checkpoint may be the PCA start, the same for every seed
    assert runs["a"]["train/loss"] != runs["c"]["train/loss"]


def test_killed_run_resumes_to_the_same_final_metrics(tmp_path):
    settings = [*SMALL, "data.train_size=4096", "trainer.max_epochs=3"]
    # the uninterrupted run and the resume in this process; the killed run is a real process
    done = run_cli(*settings, "hydra.run.dir=outputs/whole", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]

    command = [
        str(Path(sys.executable).with_name("aelab-train")),
        *settings,
        "hydra.run.dir=outputs/killed",
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # last.ckpt is written after epoch000.ckpt: waiting for the latter alone let the kill land
    # between the two, leaving nothing to resume from
    first = tmp_path / "outputs/killed/checkpoints/last.ckpt"
    deadline = time.time() + 240
    while not first.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # in the second of three epochs (64 steps each)
    process.wait()
    checkpoints = {p.name for p in (tmp_path / "outputs/killed/checkpoints").glob("*.ckpt")}
    assert "epoch002.ckpt" not in checkpoints, "the kill came after training had finished"
    assert not (tmp_path / "outputs/killed/result.json").exists()

    resumed = run_cli(*settings, "ckpt_path=outputs/killed", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads((tmp_path / "outputs/killed/result.json").read_text())
    assert result["resumed_from"].endswith("last.ckpt")
    # CPU arithmetic is deterministic here: same batches, same order, same RNG: exact equality
    assert result["metrics"] == metrics_of(tmp_path / "outputs/whole")


def test_resume_from_a_truncated_checkpoint_is_refused(tmp_path):
    run_dir = tmp_path / "outputs" / "broken"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 not really a checkpoint")
    done = run_cli(*SMALL, "data.train_size=128", f"ckpt_path={run_dir}", cwd=tmp_path)
    assert done.returncode == 2
    assert "cannot read checkpoint" in done.stderr and "Traceback" not in done.stderr


class PoisonAtEpoch(L.Callback):
    """Makes the weights NaN when the given epoch starts."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                next(module.parameters()).fill_(float("nan"))


def test_divergence_stops_at_once_and_keeps_the_last_good_checkpoint(tmp_path):
    dm = TerrainDataModule(train_size=256, val_size=64, test_size=64, batch_size=64)
    model = MLPAutoencoder(list(dm.input_shape), 5, hidden_sizes=[16])
    checkpoints = ModelCheckpoint(dirpath=tmp_path, monitor="val/mse", save_last=True)
    trainer = L.Trainer(
        max_epochs=5,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        callbacks=[NonFiniteGuard(), PoisonAtEpoch(2), checkpoints],
        plugins=[AtomicCheckpointIO()],
    )
    with pytest.raises(NonFiniteLossError, match="epoch 2"):
        trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 2 * 4 + 1  # two clean epochs of 4 batches, one poisoned step
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())


def test_diverging_run_is_recorded_as_failed(tmp_path):
    done = run_cli(*SMALL, "data.train_size=256", "model.lr=1e30", cwd=tmp_path)
    assert done.returncode == 1
    (result,) = load_results(tmp_path / "outputs")
    assert result["status"] == "failed"
    assert "became" in result["reason"] or "no longer finite" in result["reason"]
    assert result["error_type"] == "NonFiniteLossError"


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left behind


def test_ddp_cpu_inside_a_multirun_gives_one_result_per_job(tmp_path):
    """Two spawned processes per job; the sweep is not re-run by the children."""
    done = run_cli(
        "-m",
        "accelerator=ddp_cpu",
        "compression.ratio=0.05,0.1",
        *SMALL,
        "data.train_size=256",
        "trainer.max_epochs=1",
        cwd=tmp_path,  # the sweep in this process, the DDP workers spawned
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = load_results(tmp_path / "outputs")
    assert len(results) == 2 and all(r["status"] == "ok" for r in results)
    assert sorted(r["latent_dim"] for r in results) == [5, 10]
    assert all(r["config"]["trainer"]["strategy"] == "ddp_spawn" for r in results)
    assert all("test/pca_mse" in r["metrics"] for r in results)
    job_dirs = {Path(r["output_dir"]) for r in results}
    assert len(job_dirs) == 2 and all(d.parent.parent.name == "multirun" for d in job_dirs)
