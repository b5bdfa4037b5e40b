"""`seed` sets the model's initialisation and the training batch order; `data.seed` the data."""

import torch

from aelab.runs.build import build_run
from tests.conftest import TINY_TERRAIN, compose_config


def data_and_order(*overrides: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs, and the order of the first epoch's batches (sample indices)."""
    datamodule = build_run(compose_config(*TINY_TERRAIN, *overrides)).datamodule
    datamodule.setup()
    train = datamodule.splits["train"]
    train["index"] = torch.arange(len(train["x"]))
    order = torch.cat([batch["index"] for batch in datamodule.train_dataloader()])
    return train["x"], order


def test_run_seed_sets_the_batch_order_and_data_seed_the_data():
    x, order = data_and_order("seed=1")
    x_seed, order_seed = data_and_order("seed=2")
    x_data, order_data = data_and_order("seed=1", "data.seed=7")
    assert torch.equal(x, x_seed) and not torch.equal(order, order_seed)
    assert not torch.equal(x, x_data) and torch.equal(order, order_data)
    assert sorted(order.tolist()) == list(range(len(x)))
