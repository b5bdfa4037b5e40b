"""The one place a run is built from its config: the DataModule, the latent size, the model.

`aelab-train` builds a fresh run with it, `aelab-eval` rebuilds a trained run from the config
saved in its checkpoint (`aelab.runs.checkpoints`), and the benchmarks build theirs with it, so
the three can never disagree about what a config means.
"""

import math
from dataclasses import dataclass
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from aelab.compression import latent_size
from aelab.errors import ConfigError


@dataclass
class Run:
    datamodule: Any  # an InMemoryDataModule
    model: Any  # an AutoencoderModule
    input_dim: int  # n
    latent_dim: int  # m


def build_run(
    cfg: DictConfig | dict[str, Any],
    latent_dim: int | None = None,
    input_shape: list[int] | None = None,
) -> Run:
    """DataModule and model of a run config (``data``, ``model``, ``regularizer``, ...).

    The data are generated and split by ``data.seed`` and batched in the order of ``seed``.
    The latent size comes from ``compression``. A trained model is rebuilt with its own
    `latent_dim` and `input_shape`; data that no longer give that shape are refused.
    """
    cfg = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    datamodule = instantiate(cfg.data, _convert_="all")
    if cfg.get("seed") is not None:
        datamodule.order_seed = cfg.seed
    n = datamodule.input_dim
    if input_shape is not None and list(input_shape) != list(datamodule.input_shape):
        raise ConfigError(
            f"the data give inputs of shape {list(datamodule.input_shape)} but the model was "
            f"trained on {list(input_shape)} ({math.prod(input_shape)} inputs); drop the data "
            "override that changes it (e.g. data.resolution) or use a model trained on that data"
        )
    if latent_dim is None:
        compression = cfg.compression
        latent_dim = latent_size(compression.ratio, n, compression.get("latent_dim"))
    regularizer = instantiate(cfg.regularizer, _convert_="all")
    ordering = instantiate(cfg.ordered, _convert_="all") if cfg.get("ordered") else None
    model = instantiate(
        cfg.model,
        input_shape=list(datamodule.input_shape),
        latent_dim=latent_dim,
        regularizer=regularizer,
        ordering=ordering,
        _convert_="all",
    )
    return Run(datamodule, model, n, latent_dim)


def run_callbacks(config: dict[str, Any]) -> list[Any]:
    """The callbacks every training run needs, whatever ``callbacks=`` selects.

    The step budget in whole epochs, the model's start from the training split, the test-time
    baselines beside it, the error of each reported prefix of the code, the metrics each
    checkpoint records, and the resolved config saved in every checkpoint.
    """
    from aelab.callbacks.baselines import BaselineMetrics
    from aelab.callbacks.budget import StepBudget
    from aelab.callbacks.checkpoint_metrics import CheckpointMetrics
    from aelab.callbacks.data_start import DataStart
    from aelab.callbacks.prefix_metrics import PrefixMetrics
    from aelab.callbacks.run_config import RunConfig

    return [
        StepBudget(),
        DataStart(),
        BaselineMetrics(),
        PrefixMetrics(),
        CheckpointMetrics(),
        RunConfig(config),
    ]
