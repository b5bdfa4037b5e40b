"""aelab-eval end to end on a tiny trained run, its refusals, and the checkpoint loader."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from aelab import evaluate
from aelab.callbacks.checkpoint_metrics import read_checkpoint_metrics
from aelab.errors import ConfigError
from aelab.eval import Outputs, anomaly, embedding
from aelab.models.mlp import MLPAutoencoder
from aelab.runs.checkpoints import LoadedRun, load_run, resolve_checkpoint
from tests.conftest import TINY_TERRAIN, compose_config, run_cli

NO_URBAN = "data.classes={flat:1,sea:1,hills:1,mountain:1,urban:0}"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    """A tiny terrain MLP AE trained without the urban class (for the novelty protocol)."""
    root = tmp_path_factory.mktemp("train")
    done = run_cli(*TINY_TERRAIN, NO_URBAN, "hydra.run.dir=run", cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    return root / "run"


def _eval(run_dir: Path, *args: str, cwd: Path):
    return run_cli(
        f"ckpt_path={run_dir}", "hydra.run.dir=eval", *args, cwd=cwd, command="aelab-eval"
    )


def test_eval_writes_every_requested_task_and_its_figures(trained_run, tmp_path):
    tasks = ["reconstruction", "anomaly", "embedding", "denoising"]
    done = _eval(trained_run, f"task=[{','.join(tasks)}]", "anomaly=terrain_novelty", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "eval"
    report = json.loads((out / "eval.json").read_text())
    assert list(report["tasks"]) == tasks
    assert report["latent_dim"] == 5 and report["input_dim"] == 100
    for task in tasks:
        figures = report["tasks"][task]["figures"]
        assert figures, task
        assert all((out / name).stat().st_size > 1000 for name in figures), figures
    assert any((out / "tensorboard").glob("events.out.tfevents.*"))
    assert (out / "tensorboard" / "projector_config.pbtxt").is_file()

    found = report["tasks"]["anomaly"]
    urban = found["num_anomalies"]
    assert 0 < urban < found["num_test"]  # urban windows came back into the test split
    assert 0 <= found["model"]["auroc"] <= 1 and 0 <= found["pca"]["auroc"] <= 1
    assert found["model"]["train_flagged_fraction"] == pytest.approx(0.1, abs=0.01)
    recon = report["tasks"]["reconstruction"]
    assert recon["mse"] > 0 and recon["pca_mse"] > 0 and "urban" in recon["per_class"]
    r2 = report["tasks"]["embedding"]["r2"]["model"]
    assert {"mean_altitude", "slope_x", "slope_y", "peak_height"} <= set(r2)
    levels = report["tasks"]["denoising"]["levels"]
    assert [row["level"] for row in levels] == [0.1, 0.2, 0.3, 0.5]
    assert report["tasks"]["denoising"]["clean_reconstruction"]["psnr"] > 0
    result = json.loads((out / "result.json").read_text())
    assert (
        result["status"] == "ok" and result["metrics"]["anomaly/auroc"] == found["model"]["auroc"]
    )


# --- refusals: the same Hydra app in process (a subprocess each would cost ~10 s of imports) ---
@pytest.fixture
def eval_in_process(monkeypatch, capsys, tmp_path):
    """Run aelab-eval's main() with these arguments; return its one error line (exit code 2)."""

    def run(*args: str) -> str:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", ["aelab-eval", "hydra.run.dir=eval", *args])
        try:
            with pytest.raises(SystemExit) as exited:
                evaluate.main()
        finally:
            GlobalHydra.instance().clear()
        assert exited.value.code == 2
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("aelab: error:")]
        assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
        return lines[0]

    return run


def test_eval_refuses_another_input_shape(trained_run, eval_in_process):
    line = eval_in_process(f"ckpt_path={trained_run}", "data.resolution=20")
    assert "[1, 20, 20]" in line and "[1, 10, 10]" in line and "data.resolution" in line


def test_eval_refuses_a_truncated_checkpoint(trained_run, tmp_path, eval_in_process):
    checkpoint = resolve_checkpoint(trained_run)
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    line = eval_in_process(f"ckpt_path={broken}")
    assert "broken.ckpt" in line and "truncated" in line


def test_eval_refuses_generation_on_a_plain_autoencoder(trained_run, eval_in_process):
    line = eval_in_process(f"ckpt_path={trained_run}", "task=[generation]")
    assert "generation" in line and "MLPAutoencoder" in line and "model=vae" in line


def test_eval_refuses_anomaly_without_anomalies(trained_run, eval_in_process):
    line = eval_in_process(f"ckpt_path={trained_run}", "task=anomaly")  # no urban in the test
    assert "task=anomaly" in line and "terrain_novelty" in line


# --- the checkpoint loader, in process ----------------------------------------------------------
def test_run_dir_resolves_to_its_best_checkpoint(trained_run, tmp_path):
    best = json.loads((trained_run / "result.json").read_text())["checkpoint"]
    assert resolve_checkpoint(trained_run) == Path(best)
    moved = tmp_path / "moved"
    shutil.copytree(trained_run / "checkpoints", moved / "checkpoints")
    assert resolve_checkpoint(moved).name == Path(best).name  # no result.json: best by name


def test_missing_and_foreign_checkpoints_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_checkpoint(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="ckpt_path is required"):
        resolve_checkpoint(None)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}}, foreign)
    with pytest.raises(ConfigError, match="no aelab_config"):
        load_run(foreign)


def test_loaded_run_reproduces_the_training_test_error(trained_run):
    run = load_run(trained_run, {"data_dir": None, "test_size": 32})
    assert len(run.datamodule.split("test")["x"]) == 32  # override applied, null ignored
    x = run.datamodule.split("val")["x"]
    sse = ((run.reconstruct(x) - x) ** 2).flatten(1).sum(dim=1)
    _, logged = read_checkpoint_metrics(run.checkpoint)  # the val metrics it was saved with
    assert float(sse.mean() / 100) == pytest.approx(logged["val/mse"], rel=1e-4)
    with pytest.raises(ConfigError, match="data.digits is not an option"):
        load_run(trained_run, {"digits": [1]})
    with pytest.raises(ConfigError, match="not a whole data=<option>"):
        load_run(trained_run, {"_target_": "aelab.data.mnist.MNISTDataModule"})


# --- MNIST one-class: anomaly and embedding tasks in process ------------------------------------
def test_mnist_one_class_anomaly_and_embedding(one_class_mnist, tmp_path):
    cfg = compose_config("ckpt_path=x", config_name="eval")
    datamodule = one_class_mnist
    torch.manual_seed(0)
    model = MLPAutoencoder(
        [1, 28, 28], 4, hidden_sizes=[32], output_activation="sigmoid", linear_path=False
    )
    run = LoadedRun(model.eval(), datamodule, {}, Path("x"), torch.device("cpu"))
    out = Outputs(tmp_path)
    try:
        found = anomaly.run(run, cfg, out)
        assert found["description"] == "normal: 3"
        labels = datamodule.split("test")["label"]
        assert found["num_anomalies"] == int((labels != 3).sum()) > 0
        # the PCA detector fitted on digit 3 alone tells the bar positions apart
        assert found["pca"]["auroc"] > 0.9
        result = embedding.run(run, OmegaConf.merge(cfg, {"probe": {"max_fit": 1000}}), out)
    finally:
        out.close()
    assert result["probe_fit_on"] == "test_half"  # training split holds only digit 3
    assert result["label_accuracy"]["pca_m4"] > result["label_accuracy"]["majority"]
    assert "r2" not in result
    assert (tmp_path / "embedding_map.png").is_file() and (
        tmp_path / "anomaly_scores.png"
    ).is_file()
    sprite = list((tmp_path / "tensorboard").rglob("sprite.png"))
    assert sprite, "projector thumbnails missing"
