import torch

from aelab.data.loaders import TensorBatches


def _data(n=10):
    return {"x": torch.arange(n).float()[:, None], "label": torch.arange(n)}


def test_every_sample_once_per_epoch_in_a_seeded_order():
    epoch = {"value": 0}
    loader = TensorBatches(
        _data(), batch_size=4, shuffle=True, seed=7, epoch=lambda: epoch["value"]
    )
    first = torch.cat([b["label"] for b in loader])
    again = torch.cat([b["label"] for b in loader])
    epoch["value"] = 1
    second = torch.cat([b["label"] for b in loader])
    assert len(loader) == 3
    assert sorted(first.tolist()) == list(range(10))
    assert torch.equal(first, again)  # same epoch, same order (resume replays it)
    assert not torch.equal(first, second)


def test_unshuffled_batches_are_in_order_and_aligned():
    batches = list(TensorBatches(_data(), batch_size=4, shuffle=False))
    assert [len(b["x"]) for b in batches] == [4, 4, 2]
    for batch in batches:
        assert torch.equal(batch["x"][:, 0].long(), batch["label"])


def test_ranks_share_the_data_in_equal_parts():
    shards = [
        torch.cat([b["label"] for b in TensorBatches(_data(), 2, True, rank=r, world_size=3)])
        for r in range(3)
    ]
    assert {len(s) for s in shards} == {4}
    assert set(torch.cat(shards).tolist()) == set(range(10))
