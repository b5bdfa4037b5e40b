"""Ordered latents (`aelab.ordered`): the prefix maths, the orderings' losses and draws, the
linear case finding PCA's axes in order, every variant and regularizer composing with an
ordering, and the prefix metrics and checkpoint criterion of a real run."""

import json
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from aelab.callbacks.prefix_metrics import CRITERION, pca_prefix_sse
from aelab.config import CONFIG_DIR
from aelab.metrics.pca import fit_pca
from aelab.metrics.subspace import axis_report, eigengaps
from aelab.models.linear import LinearAutoencoder
from aelab.models.mlp import MLPAutoencoder
from aelab.ordered.base import (
    Ordering,
    pad_code,
    prefix_codes,
    prefix_sse,
    resolve_sizes,
    truncate,
)
from aelab.ordered.matryoshka import Matryoshka
from aelab.ordered.nested import NestedDropout
from aelab.runs.build import build_run
from tests.conftest import compose_config, run_train_in_process
from tests.test_models import fit

ETA_GRID = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5]


# --- prefix maths -------------------------------------------------------------------------------
def test_prefix_codes_zero_the_tail_of_each_block():
    z = torch.arange(1.0, 7.0).view(2, 3)  # B = 2, m = 3
    codes = prefix_codes(z, [1, 3])
    assert codes.tolist() == [[1, 0, 0], [4, 0, 0], [1, 2, 3], [4, 5, 6]]
    assert truncate(z, 2).tolist() == [[1, 2, 0], [4, 5, 0]]
    assert pad_code(z[:, :2], 4).tolist() == [[1, 2, 0, 0], [4, 5, 0, 0]]
    with pytest.raises(ValueError, match="longer than the model's m=2"):
        pad_code(z, 2)


def test_the_whole_prefix_is_the_unordered_reconstruction_and_a_prefix_ignores_the_tail():
    torch.manual_seed(0)
    model = MLPAutoencoder([1, 4, 4], 6, hidden_sizes=[16], linear_path=False)
    x = torch.randn(5, 1, 4, 4)
    z = model.encode(x)
    errors = prefix_sse(model.reconstruction, z, x, [2, 6])
    whole = ((model.decode(z) - x) ** 2).flatten(1).sum(1)
    assert torch.allclose(errors[1], whole)
    changed = z.clone()
    changed[:, 2:] = torch.randn(5, 4)  # another tail: the 2-prefix does not see it
    assert torch.allclose(prefix_sse(model.reconstruction, changed, x, [2])[0], errors[0])
    assert torch.allclose(model.reconstruct(x, k=2), model.decode_prefix(model.embed(x, k=2)))
    assert model.embed(x, k=2).shape == (5, 2)


@pytest.mark.parametrize(
    ("n", "m", "expected"),
    [
        (100, 50, [1, 2, 5, 10, 20, 50]),  # terrain at eta = 0.5
        (784, 392, [8, 16, 39, 78, 157, 392]),  # MNIST at eta = 0.5
        (100, 5, [1, 2, 5]),  # the default run
        (100, 7, [1, 2, 5, 7]),  # m itself is always reported
        (25, 5, [1, 2, 5]),  # eta * n rounds to the same k: reported once
    ],
)
def test_default_prefix_sizes_are_the_compression_curve_grid_below_m(n, m, expected):
    assert resolve_sizes(None, ETA_GRID, m, n) == expected
    assert resolve_sizes([3, 4], ETA_GRID, m, n) == [3, 4]  # given sizes win
    assert resolve_sizes(None, [], m, n) == []  # ordered=none reports no prefix


def test_the_default_grid_is_the_compression_curve_grid():
    """The ordered options report the prefixes of the documented per-eta sweep: one grid."""
    sweep = OmegaConf.load(Path(CONFIG_DIR) / "experiment/compression_curve.yaml")
    grid = [float(v) for v in str(sweep.hydra.sweeper.params["compression.ratio"]).split(",")]
    for option in ("nested", "matryoshka"):
        cfg = compose_config(f"ordered={option}")
        assert list(cfg.ordered.prefix_ratios) == grid
        assert list(instantiate(cfg.ordered).prefix_ratios) == grid  # the class's default too


def test_the_ordered_options_set_the_prefix_criterion_and_none_keeps_val_mse():
    assert compose_config().callbacks.model_checkpoint.monitor == "val/mse"
    for option in ("nested", "matryoshka"):
        assert compose_config(f"ordered={option}").callbacks.model_checkpoint.monitor == CRITERION


# --- the orderings --------------------------------------------------------------------------------
def test_nested_dropout_draws_kept_counts_from_its_distribution():
    torch.manual_seed(0)
    uniform = NestedDropout("uniform")
    uniform.bind(8, 100)
    b = uniform.draw(40_000, torch.device("cpu"))
    assert b.min() == 1 and b.max() == 8
    assert torch.bincount(b, minlength=9)[1:].float().div(len(b)).sub(1 / 8).abs().max() < 0.01
    geometric = NestedDropout("geometric", p=0.3)
    geometric.bind(4, 100)
    b = geometric.draw(40_000, torch.device("cpu"))
    expected = [0.3, 0.3 * 0.7, 0.3 * 0.7**2, 0.7**3]  # the tail folded onto b = m
    assert torch.bincount(b, minlength=5)[1:].float().div(len(b)).tolist() == pytest.approx(
        expected, abs=0.01
    )
    prefixes = NestedDropout("prefixes", prefix_ratios=ETA_GRID)
    prefixes.bind(50, 100)
    assert set(prefixes.draw(1000, torch.device("cpu")).tolist()) == {1, 2, 5, 10, 20, 50}


def test_nested_dropout_decodes_each_sample_truncated_at_its_draw():
    seen = {}

    def reconstruct(z, x):
        seen["z"] = z
        return z.sum(1), z.sum(1)

    nested = NestedDropout("uniform")
    nested.bind(6, 36)
    torch.manual_seed(1)
    nested.reconstruction(reconstruct, torch.ones(500, 6), torch.zeros(500, 1))
    kept = seen["z"].sum(1)
    assert torch.equal(seen["z"], (torch.arange(6)[None] < kept[:, None]).float())
    assert set(kept.long().tolist()) == set(range(1, 7))


def _per_prefix_reconstruct(z, x):
    """A stand-in decoder whose error is the number of zeroed latents times the input."""
    missing = (z == 0).sum(1).float()
    return missing * x[:, 0], missing * x[:, 0]


def test_matryoshka_loss_is_the_weighted_sum_over_prefixes_all_or_split():
    x = torch.arange(1.0, 13.0)[:, None]  # 12 samples, a per-sample scale
    z = torch.ones(12, 4)
    for samples in ("all", "split"):
        loss = Matryoshka(weights="uniform", samples=samples, prefix_sizes=[1, 2, 4])
        loss.bind(4, 16)
        torch.manual_seed(0)
        nll, _ = loss.reconstruction(_per_prefix_reconstruct, z, x)
        if samples == "all":  # each sample at k = 1, 2, 4: 3, 2, 0 latents zeroed, weights 1/3
            assert nll.tolist() == pytest.approx((x[:, 0] * 5 / 3).tolist())
        else:  # each sample at one prefix: the batch mean is sum_k w_k * mean over its group
            torch.manual_seed(0)
            offset = int(torch.randint(3, ()))
            group = (torch.arange(12) + offset) % 3
            missing = torch.tensor([3.0, 2.0, 0.0])[group]
            means = [(missing * x[:, 0])[group == g].mean() for g in range(3)]
            assert nll.mean().item() == pytest.approx(float(sum(means)) / 3)


def test_relative_weights_are_inverse_to_pca_training_error():
    torch.manual_seed(0)
    x = torch.randn(2000, 6) * torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.2])
    loss = Matryoshka(weights="relative", prefix_sizes=[1, 3, 5])
    loss.bind(5, 6)
    loss.start_from_data(x)
    pca = fit_pca(x, 5)
    errors = torch.tensor([pca.eigenvalues[k:].sum().item() for k in (1, 3, 5)])
    expected = (1 / errors) / (1 / errors).sum()
    assert loss.weight.tolist() == pytest.approx(expected.tolist(), rel=1e-5)
    assert loss.weight.sum().item() == pytest.approx(1.0)


def test_pca_prefix_errors_equal_pca_with_k_components():
    torch.manual_seed(0)
    x = torch.randn(300, 8) @ torch.randn(8, 8)
    pca = fit_pca(x, 6)
    errors = pca_prefix_sse(pca, x, [1, 3, 6])
    for row, k in zip(errors, (1, 3, 6), strict=True):
        assert torch.allclose(row, fit_pca(x, k).reconstruction_sse(x), rtol=1e-6, atol=1e-9)


# --- the linear case: PCA's axes, in order ------------------------------------------------------
def spectrum_data(eigenvalues, n_samples=4000, seed=0) -> torch.Tensor:
    """Data whose sample covariance has exactly these eigenvalues, along a random basis."""
    g = torch.Generator().manual_seed(seed)
    dim = len(eigenvalues)
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    noise = torch.randn(n_samples, dim, generator=g, dtype=torch.float64)
    columns, _ = torch.linalg.qr(noise - noise.mean(0))  # centred, orthonormal columns
    scale = (torch.tensor(eigenvalues, dtype=torch.float64) * n_samples).sqrt()
    return (columns * scale @ basis.T + 1.0).float().view(n_samples, 1, 1, dim)


# gaps of at least 30 % between the first four, then a near-degenerate pair (5th, 6th)
EIGENVALUES = [9.0, 5.0, 3.0, 1.8, 1.0, 0.98, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]


@pytest.mark.parametrize(
    "ordering",
    [
        lambda: NestedDropout("uniform"),
        lambda: Matryoshka(train_sizes="all"),
    ],
    ids=["nested", "matryoshka_all"],
)
def test_an_ordered_linear_ae_finds_the_principal_axes_in_order(ordering):
    torch.manual_seed(0)
    x = spectrum_data(EIGENVALUES)
    model = LinearAutoencoder([1, 1, 12], 6, ordering=ordering())
    model.start_from_data(x, (0.0, 1.0))
    model.ordering.start_from_data(x)
    fit(model, x, steps=2500, lr=0.02)
    pca = fit_pca(x.flatten(1), 6)
    axes = axis_report(model, pca)
    resolved = [a for a in axes if a["resolved"]]
    assert [a["axis"] for a in resolved] == [1, 2, 3, 4]  # 5 and 6 are 2 % apart
    assert max(a["angle_deg"] for a in resolved) < 5.0, axes
    errors = prefix_sse(model.reconstruction, model.encode(x), x, [1, 2, 3, 4, 6]).mean(1)
    bound = pca_prefix_sse(pca, x, [1, 2, 3, 4, 6]).mean(1).float()
    assert (errors / bound).max() < 1.01, (errors / bound).tolist()


def test_an_unordered_linear_ae_finds_the_subspace_but_not_the_axes():
    torch.manual_seed(0)
    x = spectrum_data(EIGENVALUES)
    model = LinearAutoencoder([1, 1, 12], 4)
    model.start_from_data(x, (0.0, 1.0))
    fit(model, x, steps=2500, lr=0.02)
    axes = axis_report(model, fit_pca(x.flatten(1), 4))
    assert all(a["resolved"] for a in axes)
    assert max(a["angle_deg"] for a in axes) > 20.0, axes  # any rotation of the code is optimal


def test_eigengaps_are_relative_to_the_nearest_neighbour():
    gaps = eigengaps(torch.tensor([10.0, 5.0, 4.0, 1.0]), 3)
    assert gaps.tolist() == pytest.approx([0.5, 0.2, 0.25])


# --- every variant and regularizer composes with an ordering -------------------------------------
PAIRS = [  # each variant and each regularizer at least once, under both orderings
    ("nested", "linear", "none"),
    ("matryoshka", "mlp", "topk"),
    ("nested", "conv", "denoising"),
    ("matryoshka", "vae", "sparse_kl"),
    ("nested", "mlp", "contractive"),
    ("matryoshka", "conv", "sparse_l1"),
    ("nested", "vae", "denoising"),
]


@pytest.mark.parametrize(("ordered", "model", "regularizer"), PAIRS)
def test_every_variant_and_regularizer_trains_ordered(ordered, model, regularizer):
    cfg = compose_config(
        f"ordered={ordered}",
        f"model={model}",
        f"regularizer={regularizer}",
        "compression.ratio=0.1",
        "data.train_size=64",
        "data.val_size=32",
        "data.test_size=32",
    )
    run = build_run(cfg)
    run.datamodule.setup()
    batch = run.datamodule.split("train")
    batch = {"x": batch["x"][:16]}
    net = run.model
    net.start_from_data(batch["x"], run.datamodule.value_range)
    net.ordering.start_from_data(batch["x"])
    assert net.ordering.sizes == [1, 2, 5, 10]
    terms, _, _ = net.loss_terms(batch, train=True)
    terms["loss"].backward()
    assert math.isfinite(terms["loss"].item())
    outputs = net._step_outputs(batch, *net.loss_terms(batch, train=False)[1:])
    assert outputs["prefix_sse"].shape == (4, 16)
    assert torch.allclose(outputs["prefix_sse"][-1], outputs["sse"], rtol=1e-5, atol=1e-6)


# --- a real run: prefix metrics, the criterion, the PCA start ------------------------------------
SMALL = [
    "data.train_size=512",
    "data.val_size=128",
    "data.test_size=128",
    "data.batch_size=64",
    "torch_threads=1",
    "~logger",
]


def test_an_ordered_run_reports_every_prefix_beside_pca(tmp_path, monkeypatch, capsys):
    small = [a for a in SMALL if a != "~logger"]  # with TensorBoard: the curve is charted too
    args = ["ordered=nested", "compression.ratio=0.1", "trainer.max_epochs=2", *small]
    code, err = run_train_in_process(
        [*args, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path, monkeypatch, capsys
    )
    assert code == 0, err
    result = json.loads((tmp_path / "run/result.json").read_text())
    metrics = result["metrics"]
    assert result["ordered"] == "nested" and result["prefix_sizes"] == [1, 2, 5, 10]
    for k in (1, 2, 5, 10):
        for name in ("test/mse@", "test/pca_mse@", "test/mse_over_pca@", "val/mse@"):
            assert f"{name}{k}" in metrics, (name, k, sorted(metrics))
        ratio = metrics[f"test/mse@{k}"] / metrics[f"test/pca_mse@{k}"]
        assert metrics[f"test/mse_over_pca@{k}"] == pytest.approx(ratio, rel=1e-5)
    assert metrics["test/mse@10"] == pytest.approx(metrics["test/mse"], rel=1e-5)  # k = m
    assert metrics["test/pca_mse@10"] == pytest.approx(metrics["test/pca_mse"], rel=1e-5)
    ratios = [metrics[f"val/mse@{k}"] / metrics[f"val/pca_mse@{k}"] for k in (1, 2, 5, 10)]
    assert metrics[CRITERION] == pytest.approx(sum(ratios) / 4, rel=1e-4)
    # the tested checkpoint is the best on the criterion (the PCA start scores exactly 1)
    best = result["best"]
    assert best["metrics"][CRITERION] <= 1.0 + 1e-4
    if best["epoch"] == -1:
        assert Path(best["checkpoint"]).name == "start.ckpt"
    # TensorBoard: the run's own curve, error against k beside PCA, on one custom chart
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(result["tensorboard_dir"], size_guidance={"scalars": 0})
    events.Reload()
    curve = {e.step: e.value for e in events.Scalars("curve/test/mse")}
    bound = {e.step: e.value for e in events.Scalars("curve/test/pca_mse")}
    assert sorted(curve) == sorted(bound) == [1, 2, 5, 10]
    for k in (1, 2, 5, 10):
        assert curve[k] == pytest.approx(metrics[f"test/mse@{k}"], rel=1e-5)
        assert bound[k] == pytest.approx(metrics[f"test/pca_mse@{k}"], rel=1e-5)
    assert "custom_scalars__config__" in events.Tags()["tensors"]


def test_unordered_runs_report_prefixes_only_when_asked():
    plain = build_run(compose_config("data.train_size=64")).model
    assert isinstance(plain.ordering, Ordering) and plain.ordering.sizes == []
    asked = compose_config("data.train_size=64", "ordered.prefix_sizes=[1,3]")
    assert build_run(asked).model.ordering.sizes == [1, 3]
