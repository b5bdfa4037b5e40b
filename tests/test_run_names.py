"""TensorBoard run names and HParams descriptions, as pure functions (the served dashboard is
checked in tests/test_sweeps.py)."""

import pytest
from omegaconf import OmegaConf

from aelab.runs.hparams import experiment, plain, run_hparams, sweep_metrics
from aelab.runs.naming import job_values, run_name, safe, sweep_overrides, varied_keys

CHOICES = {"model": "conv", "data": "mnist", "regularizer": "none", "ordered": "none"}


def test_a_sweep_names_its_jobs_by_what_varies_in_command_line_order():
    task = [
        "model=mlp,conv",
        "data.train_size=512",
        "compression.ratio=0.05,0.1",
        "seed=range(1,3)",
    ]
    assert varied_keys(task, {}) == ["model", "compression.ratio", "seed"]
    assert varied_keys(["data.train_size=512"], {"model.lr": "0.1,0.2"}) == ["model.lr"]
    own = job_values(["model=conv", "data.train_size=512", "compression.ratio=0.1", "seed=2"])
    varied = {key: own[key] for key in varied_keys(task, {})}
    assert run_name(CHOICES, 0.1, 78, varied) == "model=conv,eta=0.1,seed=2"
    # a preset and a ratio both varied give one eta; a fixed m is named as such
    assert run_name(CHOICES, 0.05, 39, {"compression": "twentieth"}) == "eta=0.05"
    assert run_name(CHOICES, 0.02, 16, {"compression.latent_dim": "16"}) == "m=16"
    assert run_name(CHOICES, 0.02, 16, {"model.lr": "0.003"}) == "lr=0.003"


def test_a_single_run_is_named_by_model_data_and_eta():
    assert run_name(CHOICES, 0.0204, 16, None) == "model=conv,data=mnist,eta=0.0204"
    assert run_name(CHOICES, 0.0204, 16, {}) == "model=conv,data=mnist,eta=0.0204"


def test_names_are_safe_folder_names_of_bounded_length():
    assert safe("data.path=/home/me/x y:z") == "data.path=_home_me_x_y_z"
    assert safe("hidden_sizes=[128,64]") == "hidden_sizes=[128,64]"
    long = safe("x=" + "a" * 300)
    assert len(long) == 120 and long != safe("x=" + "a" * 301)  # the hash keeps them apart
    assert safe("..") == "run"


def test_the_sweep_overrides_come_from_multirun_yaml(tmp_path):
    saved = {"hydra": {"overrides": {"task": ["model=mlp,conv"]}, "sweeper": {"params": None}}}
    OmegaConf.save(OmegaConf.create(saved), tmp_path / "multirun.yaml")
    assert sweep_overrides(tmp_path) == (["model=mlp,conv"], {})
    assert sweep_overrides(tmp_path / "missing") == ([], {})


def test_hparams_say_what_ran_not_the_preset():
    cfg = OmegaConf.create({"seed": 3, "model": {"lr": 0.002}})
    varied = {"compression": "twentieth", "data.train_size": "512", "model": "conv"}
    hparams = run_hparams(cfg, {**CHOICES, "compression": "twentieth"}, 784, 78, varied)
    assert hparams == {
        "data.train_size": 512,
        "model": "conv",
        "data": "mnist",
        "regularizer": "none",
        "ordered": "none",
        "eta": pytest.approx(78 / 784),
        "m": 78,
        "n": 784,
        "seed": 3,
        "lr": 0.002,
    }
    assert "compression" not in hparams
    assert (plain("0.5"), plain("[1, 2]"), plain(True)) == (0.5, "[1, 2]", True)


def test_the_experiment_lists_varied_columns_first_and_prefix_metrics_by_size():
    from tensorboard.plugins.hparams import metadata

    sessions = [
        {"data": "terrain", "model": "mlp", "eta": 0.05},
        {"data": "terrain", "model": "conv", "eta": 0.1},
    ]
    summary = experiment(sessions, ["test/mse"])
    described = metadata.parse_experiment_plugin_data(summary.value[0].metadata.plugin_data.content)
    columns = [(h.name, h.differs) for h in described.hparam_infos]
    assert columns == [("model", True), ("eta", True), ("data", False)]
    assert list(described.hparam_infos[0].domain_discrete.values) != []
    results = [{"metrics": {"test/mse": 1, "test/mse@10": 1, "test/mse@2": 1, "train/loss": 1}}]
    assert sweep_metrics(results) == ["test/mse", "test/mse@2", "test/mse@10"]
