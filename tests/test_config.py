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
def test_datamodules_instantiate_without_touching_files(data, file_overrides):
    dm = instantiate(compose_config(f"data={data}", *file_overrides(data)).data)  # array: a header
    assert dm.input_dim == dm.input_shape[0] * dm.input_shape[1] * dm.input_shape[2]


def test_per_dataset_model_defaults():
    mnist = compose_config("model=mlp", "data=mnist")
    assert mnist.model.output_activation == "unit_clip"
    assert (mnist.data.batch_size, mnist.trainer.max_steps) == (128, 2000)  # a recipe
    assert compose_config("model=mlp", "data=terrain").trainer.max_steps == 3000  # the default
    assert compose_config("model=mlp", "data=terrain").model.output_activation == "identity"
    # the command line, experiments and debug presets still win over the per-dataset recipe
    cfg = compose_config("model=mlp", "data=mnist", "model.output_activation=identity")
    assert cfg.model.output_activation == "identity"
    assert compose_config("data=mnist", "debug=tiny").trainer.max_epochs == 2
    assert compose_config("data=mnist", "trainer.max_epochs=3").trainer.max_epochs == 3
    assert compose_config("data=mnist", "trainer.max_steps=50").trainer.max_steps == 50


def test_unknown_option_fails_with_hydras_message():
    with pytest.raises(MissingConfigException, match="model/foo"):
        compose_config("model=foo")
