"""Every config group option composes and instantiates; bad choices fail with Hydra's message."""

from pathlib import Path

import pytest
from hydra.errors import MissingConfigException
from hydra.utils import instantiate

from aelab.config import CONFIG_DIR
from tests.conftest import compose_config

GROUPS = [
    "data",
    "model",
    "regularizer",
    "compression",
    "accelerator",
    "trainer",
    "logger",
    "callbacks",
    "paths",
    "experiment",
    "debug",
]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "override", [f"{group}={option}" for group in GROUPS for option in options(group)]
)
def test_every_group_option_composes(override):
    cfg = compose_config(override)
    group, option = override.split("=")
    assert cfg.hydra.runtime.choices[group] == option
    assert cfg.compression.ratio > 0 or cfg.compression.latent_dim


@pytest.mark.parametrize("data", options("data"))
def test_datamodules_instantiate_without_touching_files(data):
    dm = instantiate(compose_config(f"data={data}").data)
    assert dm.input_dim == dm.input_shape[0] * dm.input_shape[1] * dm.input_shape[2]


def test_per_dataset_model_defaults():
    assert compose_config("model=mlp", "data=mnist").model.output_activation == "sigmoid"
    assert compose_config("model=mlp", "data=terrain").model.output_activation == "identity"
    # the command line still wins over the per-dataset defaults
    cfg = compose_config("model=mlp", "data=mnist", "model.output_activation=identity")
    assert cfg.model.output_activation == "identity"


def test_unknown_option_fails_with_hydras_message():
    with pytest.raises(MissingConfigException, match="model/foo"):
        compose_config("model=foo")
