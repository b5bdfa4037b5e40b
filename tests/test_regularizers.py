"""Regularizers: denoising noise, the KL / L1 / TopK sparsity, their config errors, and a smoke
sweep of every model x regularizer on both datasets."""

import math
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from aelab.config import CONFIG_DIR
from aelab.errors import ConfigError
from aelab.models.mlp import MLPAutoencoder
from aelab.regularizers.base import Step
from aelab.regularizers.noise import Denoising
from aelab.regularizers.sparsity import SparseKL, SparseL1, TopK
from tests.conftest import TINY_TERRAIN, compose_config, load_results, run_cli

REGULARIZERS = sorted(p.stem for p in (Path(CONFIG_DIR) / "regularizer").glob("*.yaml"))
SPARSE = {"sparse_kl", "sparse_l1", "topk"}
# every model config present when the tests are collected (conv and vae once they exist)
MODELS = sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml"))


# --- sparse_kl -----------------------------------------------------------------------------------
def test_kl_penalty_equals_hand_computed_value():
    # two latents whose batch means are rho_hat = (0.2, 0.5); target rho = 0.1, lam = 2
    z = torch.tensor([[0.1, 0.2], [0.3, 0.8]])
    penalty = SparseKL(rho=0.1, lam=2.0).penalty(Step(z=z))["sparse_kl"]
    kl_02 = 0.1 * math.log(0.1 / 0.2) + 0.9 * math.log(0.9 / 0.8)  # 0.036690
    kl_05 = 0.1 * math.log(0.1 / 0.5) + 0.9 * math.log(0.9 / 0.5)  # 0.368064
    assert penalty.item() == pytest.approx(2.0 * (kl_02 + kl_05), rel=1e-5)
    assert penalty.item() == pytest.approx(0.809508, rel=1e-5)


def test_kl_penalty_is_finite_at_zero_and_one():
    z = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # rho_hat = 0 and 1: clamped into (eps, 1 - eps)
    penalty = SparseKL(rho=0.05, lam=1.0).penalty(Step(z=z))["sparse_kl"]
    assert torch.isfinite(penalty) and penalty > 0


def test_kl_statistics_report_mean_activation_and_distance_to_rho():
    z = torch.full((8, 4), 0.25)
    stats = SparseKL(rho=0.05).statistics(z)
    assert stats["mean_activation"].item() == pytest.approx(0.25)
    assert stats["rho_abs_error"].item() == pytest.approx(0.20)


def test_sparse_kl_rejects_an_unbounded_latent_activation():
    with pytest.raises(ConfigError, match="model.latent_activation=sigmoid"):
        SparseKL().check(latent_dim=5, latent_activation="relu")
    with pytest.raises(
        ConfigError, match="latent_activation must be sigmoid with regularizer=sparse_kl"
    ):
        MLPAutoencoder([1, 4, 4], 3, regularizer=SparseKL(), latent_activation="identity")
    SparseKL().check(latent_dim=5, latent_activation="sigmoid")  # the composed default is fine


def test_sparse_kl_config_composes_a_sigmoid_latent():
    cfg = compose_config("regularizer=sparse_kl")
    assert cfg.model.latent_activation == "sigmoid"
    assert cfg.regularizer._target_.endswith("SparseKL")
    assert compose_config("regularizer=sparse_kl", "model=linear").model.latent_activation == (
        "sigmoid"
    )


def test_sparse_kl_with_relu_latent_fails_cleanly_on_the_command_line(tmp_path):
    result = run_cli("regularizer=sparse_kl", "model.latent_activation=relu", cwd=tmp_path)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("aelab: error:")]
    assert len(errors) == 1, result.stderr
    assert "model.latent_activation" in errors[0] and "sigmoid" in errors[0]
    assert "Traceback" not in result.stderr


# --- sparse_l1 -----------------------------------------------------------------------------------
def test_l1_penalty_is_lam_times_mean_absolute_latent():
    z = torch.tensor([[1.0, -2.0], [0.0, 3.0]])
    assert SparseL1(lam=0.5).penalty(Step(z=z))["sparse_l1"].item() == pytest.approx(0.5 * 6 / 4)


# --- topk ----------------------------------------------------------------------------------------
def test_topk_keeps_exactly_k_largest_per_sample():
    torch.manual_seed(0)
    z = torch.randn(64, 20)
    kept = TopK(k=3).sparsify(z)
    assert ((kept != 0).sum(dim=1) == 3).all()
    assert torch.equal(kept.max(dim=1).values, z.max(dim=1).values)
    nonzero = kept != 0
    assert torch.equal(kept[nonzero], z[nonzero])  # kept values are untouched
    # every kept value is >= every dropped one, sample by sample
    smallest_kept = kept.masked_fill(~nonzero, math.inf).min(dim=1).values
    largest_dropped = z.masked_fill(nonzero, -math.inf).max(dim=1).values
    assert (smallest_kept >= largest_dropped).all()


def test_topk_statistics_count_k_active_latents():
    z = TopK(k=2).sparsify(torch.randn(16, 6))
    assert TopK(k=2).statistics(z)["l0"].item() == pytest.approx(2.0)


def test_dead_fraction_counts_a_latent_that_never_fires():
    topk = TopK(k=1, dead_window=100)
    z = torch.zeros(32, 4)
    z[:16, 1] = 1.0  # latent 1 fires in every batch
    z[16:, 2] = 1.0  # latent 2 too; latents 0 and 3 never do
    z[0, 3] = 1.0  # ...latent 3 fires once, in the last batch only
    quiet = z.clone()
    quiet[0, 3] = 0.0
    assert topk.statistics(quiet)["dead_frac"].item() == 0.0  # 32 samples: too early to say
    for _ in range(3):
        stats = topk.statistics(quiet)
    assert stats["dead_frac"].item() == pytest.approx(0.5)  # 128 samples: 0 and 3 are dead
    assert topk.statistics(z)["dead_frac"].item() == pytest.approx(0.25)  # 3 fired: alive
    assert topk.samples_since_fired.tolist() == [160, 0, 0, 0]


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: Denoising(sigma=-0.1), "regularizer.sigma"),
        (lambda: Denoising(kind="masking", p=1.5), "regularizer.p"),
        (lambda: Denoising(kind="salt_and_pepper", p=-0.1), "regularizer.p"),
        (lambda: Denoising(kind="blur"), "regularizer.kind"),
        (lambda: Denoising(kind="salt_and_pepper", low=1.0, high=0.0), "regularizer.low"),
        (lambda: SparseKL(rho=0.0), "regularizer.rho"),
        (lambda: SparseKL(rho=1.0), "regularizer.rho"),
        (lambda: SparseKL(rho=-0.2), "regularizer.rho"),
        (lambda: SparseKL(lam=-1.0), "regularizer.lam"),
        (lambda: SparseL1(lam=-1.0), "regularizer.lam"),
        (lambda: TopK(k=0), "regularizer.k"),
        (lambda: TopK(k=-3), "regularizer.k"),
        (lambda: TopK(k=6).check(latent_dim=5, latent_activation="identity"), "regularizer.k"),
        (lambda: TopK(dead_window=0), "regularizer.dead_window"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(make, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make()


# --- denoising -----------------------------------------------------------------------------------
def test_gaussian_noise_has_std_sigma():
    torch.manual_seed(0)
    x = torch.rand(1000, 1, 28, 28)
    noise = Denoising(kind="gaussian", sigma=0.3).corrupt(x) - x
    assert noise.mean().item() == pytest.approx(0.0, abs=2e-3)
    assert noise.std().item() == pytest.approx(0.3, rel=1e-2)
    assert Denoising(kind="gaussian", sigma=0.0).corrupt(x).equal(x)


def test_masking_zeroes_a_fraction_p():
    torch.manual_seed(0)
    x = torch.rand(1000, 1, 28, 28) + 1.0  # no zero to begin with
    x_tilde = Denoising(kind="masking", p=0.2).corrupt(x)
    zeroed = x_tilde == 0
    assert zeroed.float().mean().item() == pytest.approx(0.2, abs=3e-3)
    assert torch.equal(x_tilde[~zeroed], x[~zeroed])  # the rest is untouched


def test_salt_and_pepper_sets_a_fraction_p_to_low_or_high():
    torch.manual_seed(0)
    x = torch.full((1000, 1, 28, 28), 0.5)
    x_tilde = Denoising(kind="salt_and_pepper", p=0.3, low=-2.0, high=3.0).corrupt(x)
    assert (x_tilde == 3.0).float().mean().item() == pytest.approx(0.15, abs=3e-3)
    assert (x_tilde == -2.0).float().mean().item() == pytest.approx(0.15, abs=3e-3)
    assert (x_tilde == 0.5).float().mean().item() == pytest.approx(0.70, abs=3e-3)
    assert (x == 0.5).all()  # the clean input is not modified in place


def test_corruption_is_reproducible_with_a_generator():
    x = torch.rand(4, 1, 8, 8)
    noise = Denoising(kind="gaussian", sigma=1.0)
    a = noise.corrupt(x, generator=torch.Generator().manual_seed(3))
    b = noise.corrupt(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)


def test_denoising_corrupts_training_inputs_only():
    """Masking with p = 1 turns every corrupted input into zeros: the encoder must see zeros in
    training steps and the clean (non-zero) inputs in validation and test steps."""
    cfg = compose_config(*TINY_TERRAIN)
    datamodule = instantiate(cfg.data)
    model = MLPAutoencoder(
        list(datamodule.input_shape), 4, regularizer=Denoising(kind="masking", p=1.0)
    )
    seen: dict[str, list[bool]] = {"train": [], "val": [], "test": []}
    encode = model._encode

    def spy(x):
        stage = "train" if model.trainer.training else "val" if model.trainer.validating else None
        stage = stage or ("test" if model.trainer.testing else "other")
        seen.setdefault(stage, []).append(bool((x == 0).all()))
        return encode(x)

    model._encode = spy
    trainer = L.Trainer(
        max_epochs=1,
        limit_train_batches=2,
        limit_val_batches=1,
        limit_test_batches=1,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    trainer.test(model, datamodule=datamodule, verbose=False)
    assert seen["train"] == [True, True]
    assert seen["val"] == [False]
    assert seen["test"] and not any(seen["test"])


# --- every model x regularizer on both datasets --------------------------------------------------
FEW_STEPS = [
    "trainer.max_epochs=1",
    "+trainer.limit_train_batches=2",
    "+trainer.limit_val_batches=1",
    "+trainer.limit_test_batches=1",
    "data.batch_size=64",
    "data.val_size=64",
    "data.test_size=64",
    "torch_threads=1",  # small ops: one thread avoids oversubscribing a shared CPU
]


def mnist_pairs() -> list[tuple[str, str]]:
    """On MNIST images, every regularizer with the conv AE (the model whose shapes images
    change) and every model with every regularizer at least once: the full matrix runs on
    terrain."""
    others = [m for m in MODELS if m != "conv"]
    pairs = {("conv", r) for r in REGULARIZERS}
    pairs |= {(others[i % len(others)], r) for i, r in enumerate(REGULARIZERS)}
    return sorted(pairs)


@pytest.mark.parametrize("dataset", ["terrain", "mnist"])
def test_every_model_and_regularizer_composes_trains_and_reports(dataset, tmp_path, request):
    if dataset == "mnist":
        mnist_dir = request.getfixturevalue("mnist_dir")
        data = [
            "data=mnist",
            "data.split=t10k",
            "data.download=false",
            f"data.data_dir={mnist_dir}",
        ]
        pairs = mnist_pairs()
    else:
        data = ["data=terrain", "data.train_size=256"]
        pairs = [(m, r) for m in MODELS for r in REGULARIZERS]
    for model in sorted({m for m, _ in pairs}):  # one multirun per model
        regularizers = [r for m, r in pairs if m == model]
        result = run_cli(
            "-m",
            f"model={model}",
            f"regularizer={','.join(regularizers)}",
            *data,
            *FEW_STEPS,
            f"hydra.sweep.dir=outputs/{model}",
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    results = load_results(tmp_path / "outputs")
    done = {(r["model"], r["regularizer"]): r for r in results}
    assert sorted(done) == sorted(pairs)
    failed = {key: r.get("reason") for key, r in done.items() if r["status"] != "ok"}
    assert not failed, failed
    for (model, regularizer), r in done.items():
        metrics = r["metrics"]
        assert math.isfinite(metrics["test/mse"]), (model, regularizer)
        assert "test/noise_mse" in metrics, (model, regularizer)
        if regularizer in SPARSE:
            stats = {"latent/l0", "latent/mean_activation", "latent/dead_frac"}
            assert stats <= set(metrics), (model, regularizer, sorted(metrics))
        if regularizer == "denoising":
            gain = metrics["val/psnr_denoised"] - metrics["val/psnr_noisy"]
            assert metrics["val/denoise_gain_db"] == pytest.approx(gain, abs=1e-4)
