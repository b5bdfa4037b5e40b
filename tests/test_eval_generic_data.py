"""Every evaluation task on plain labelled data, as a user's dataset brings it.

The data: three named classes (cat, dog, bird), images of any channel count or vectors
(N, 1, 1, d), values in a declared range ([0, 1] or a standardised one such as [-3, 5]); no units,
no intrinsic parameters, no second test split. The tasks must run on them, name the classes, keep
the channels, and put their noise within the data's range.
"""

import math
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

import aelab.eval as registry
from aelab.data.base import InMemoryDataModule
from aelab.errors import ConfigError
from aelab.eval import (
    Outputs,
    anomaly,
    denoising,
    embedding,
    generation,
    interpolation,
    reconstruction,
)
from aelab.metrics import denoising as noise
from aelab.models.mlp import MLPAutoencoder
from aelab.models.vae import VariationalAutoencoder
from aelab.runs.build import run_callbacks
from aelab.runs.checkpoints import LoadedRun
from tests.conftest import RecordingOutputs, compose_config

CLASSES = ["cat", "dog", "bird"]
SIZES = {"train": 120, "val": 24, "test": 60}


class Pets(InMemoryDataModule):
    """Three classes, each a fixed random pattern plus noise, scaled into `value_range`.

    ``trained`` keeps only those class ids in the training and validation splits (a one-class
    run); the test split holds every class.
    """

    def __init__(
        self,
        shape: tuple[int, int, int] = (3, 6, 6),
        value_range: tuple[float, float] = (0.0, 1.0),
        trained: list[int] | None = None,
        render: str = "rgb",
        seed: int = 0,
    ) -> None:
        super().__init__(batch_size=32, seed=seed)
        self.shape, self.range, self.trained, self.render = shape, value_range, trained, render

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self.shape

    @property
    def class_names(self) -> list[str]:
        return CLASSES

    @property
    def value_range(self) -> tuple[float, float]:
        return self.range

    @property
    def trained_classes(self) -> list[int]:
        return self.trained if self.trained is not None else [0, 1, 2]

    def build_splits(self) -> dict[str, dict[str, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        patterns = torch.rand(len(CLASSES), *self.shape, generator=generator)
        low, high = self.range
        splits = {}
        for name, size in SIZES.items():
            kept = self.trained if self.trained is not None and name != "test" else [0, 1, 2]
            labels = torch.tensor(kept)[torch.arange(size) % len(kept)]
            noisy = patterns[labels] + 0.1 * torch.randn(size, *self.shape, generator=generator)
            splits[name] = {"x": low + (high - low) * noisy.clamp(0, 1), "label": labels}
        return splits


def loaded(model, datamodule) -> LoadedRun:
    datamodule.setup()
    return LoadedRun(model.eval(), datamodule, {}, Path("x"), torch.device("cpu"), batch_size=64)


def fitted(datamodule, latent_dim: int = 3, steps: int = 150) -> LoadedRun:
    """An MLP autoencoder fitted to the training split by a few full-batch Adam steps."""
    torch.manual_seed(0)
    datamodule.setup()
    model = MLPAutoencoder(
        list(datamodule.input_shape), latent_dim, hidden_sizes=[16], linear_path=False
    )
    x = datamodule.split("train")["x"]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimiser.zero_grad()
        ((model(x) - x) ** 2).mean().backward()
        optimiser.step()
    return loaded(model, datamodule)


@pytest.fixture(scope="module")
def one_class_colour() -> LoadedRun:
    """3-channel images trained on cats alone, by a Lightning trainer with aelab's callbacks."""
    L.seed_everything(0, verbose=False)
    dm = Pets(trained=[0])
    model = MLPAutoencoder(
        [3, 6, 6], 3, hidden_sizes=[16], lr=1e-2, scheduler="none", linear_path=False
    )
    trainer = L.Trainer(
        max_epochs=25,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=run_callbacks({}),
    )
    trainer.fit(model, datamodule=dm)
    (metrics,) = trainer.test(model, datamodule=dm, verbose=False)
    assert math.isfinite(metrics["test/noise_mse_over_mean"])  # noise over the data's range
    return loaded(model, dm)


@pytest.fixture
def cfg():
    return OmegaConf.merge(
        compose_config("ckpt_path=x", config_name="eval"),
        {"interpolation": {"pairs": 3, "traversal_steps": 5, "max_dims": 3}},
    )


def run_task(name: str, run: LoadedRun, cfg, folder: Path) -> dict:
    out = Outputs(folder)
    try:
        result = registry.TASKS[name].run(run, cfg, out)
    finally:
        out.close()
    assert result["figures"] and all((folder / f).stat().st_size > 500 for f in result["figures"])
    return result


def finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


# --- every task at once: what task=all selects, and that each runs ------------------------------
def test_task_all_runs_every_task_a_one_class_colour_model_supports(
    one_class_colour, cfg, tmp_path
):
    tasks = registry.select_tasks("all", one_class_colour, cfg)
    assert tasks == ["reconstruction", "anomaly", "embedding", "denoising", "interpolation"]
    results = {name: run_task(name, one_class_colour, cfg, tmp_path) for name in tasks}
    metrics = registry.headline_metrics(results)
    assert metrics and finite(metrics.values())

    recon = results["reconstruction"]
    assert list(recon["per_class"]) == CLASSES
    assert sum(c["count"] for c in recon["per_class"].values()) == SIZES["test"]
    assert not [k for k in recon if k.startswith("rmse_")]  # no units, no error in them
    # trained on cats: they reconstruct best
    mse = {name: c["mse"] for name, c in recon["per_class"].items()}
    assert mse["cat"] < min(mse["dog"], mse["bird"])

    found = results["anomaly"]
    assert found["description"] == "normal: cat" and found["num_anomalies"] == 40
    assert found["model"]["auroc"] > 0.9 and found["pca"]["auroc"] > 0.9

    embedded = results["embedding"]
    assert "r2" not in embedded and "r2_per_class" not in embedded  # no intrinsics
    assert not (tmp_path / "probe_r2.png").exists()
    accuracy = embedded["label_accuracy"]
    assert accuracy["model"] > accuracy["majority"] and accuracy["pca_m3"] > accuracy["majority"]
    assert embedded["probe_fit_on"] == "test_half"  # the training split lacks dog and bird

    assert results["denoising"]["value_range"] == [0.0, 1.0]
    assert results["interpolation"]["nearest_test_rms"]["path"] > 0


def test_grids_keep_three_channels(one_class_colour, cfg):
    out = RecordingOutputs()
    reconstruction.run(one_class_colour, cfg, out)
    denoising.run(one_class_colour, cfg, out)
    interpolation.run(one_class_colour, cfg, out)
    assert set(out.grids) == {
        "reconstruction",
        "denoising",
        "interpolation_traversals",
        "interpolation_pairs",
    }
    for name, rows in out.grids.items():
        assert all(row.shape[1:] == (3, 6, 6) for row in rows), name


# --- anomaly: normal classes by name or by id -----------------------------------------------------
def test_normal_classes_by_name_and_by_id_agree(one_class_colour, cfg, tmp_path):
    by_name = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": ["cat"]}})
    by_id = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": [0]}})
    a = run_task("anomaly", one_class_colour, by_name, tmp_path)
    b = run_task("anomaly", one_class_colour, by_id, tmp_path)
    assert a["description"] == b["description"] == "normal: cat"
    assert a["model"] == b["model"] and a["pca"] == b["pca"]
    two = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": ["dog", 2]}})
    _, is_anomaly, description = anomaly.anomaly_test_set(one_class_colour, two.anomaly)
    assert description == "normal: dog,bird" and int(is_anomaly.sum()) == 20


def test_unknown_normal_class_names_the_known_ones(one_class_colour, cfg):
    bad = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": ["fish"]}})
    with pytest.raises(ConfigError) as error:
        anomaly.available(one_class_colour, bad)
    message = str(error.value)
    assert "'fish'" in message and "cat, dog, bird" in message and "\n" not in message
    assert "anomaly.normal_classes=[cat]" in message
    with pytest.raises(ConfigError, match="unknown class 3"):
        anomaly.class_ids([3], CLASSES)


def test_anomaly_without_anomalies_says_how_to_name_normal_classes(cfg):
    run = loaded(MLPAutoencoder([1, 1, 12], 2, hidden_sizes=[8]), Pets((1, 1, 12), render="gray"))
    reason = anomaly.available(run, cfg)  # trained on every class it is tested on
    assert "no anomalies" in reason and "anomaly.normal_classes=[cat]" in reason
    assert "\n" not in reason
    named = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": ["bird"]}})
    assert anomaly.available(run, named) is None


# --- vectors and standardised values ------------------------------------------------------------
def test_every_task_runs_on_standardised_vectors(cfg, tmp_path):
    dm = Pets(shape=(1, 1, 12), value_range=(-3.0, 5.0), render="gray")
    run = fitted(dm)
    named = OmegaConf.merge(cfg, {"anomaly": {"normal_classes": ["cat"]}})
    tasks = registry.select_tasks("all", run, named)
    assert tasks == ["reconstruction", "anomaly", "embedding", "denoising", "interpolation"]
    results = {name: run_task(name, run, named, tmp_path) for name in tasks}
    assert list(results["reconstruction"]["per_class"]) == CLASSES
    # 150 full-batch steps end 1.06x PCA here; a scale or offset lost on the way is far above
    assert results["reconstruction"]["mse_over_pca"] < 1.15
    accuracy = results["embedding"]["label_accuracy"]
    assert accuracy["model"] > accuracy["majority"]
    assert results["denoising"]["value_range"] == [-3.0, 5.0]
    rows = results["denoising"]["levels"]
    assert finite(r["psnr_noisy"] for r in rows) and finite(r["ssim_noisy"] for r in rows)
    assert rows[0]["psnr_noisy"] > rows[-1]["psnr_noisy"]
    assert results["interpolation"]["num_codes"] == SIZES["test"]


def test_interpolation_paths_of_vectors_and_images_have_their_shape(cfg):
    for shape in [(1, 1, 12), (1, 6, 6), (3, 6, 6)]:
        model = MLPAutoencoder(list(shape), 2, hidden_sizes=[8], linear_path=False)
        run = loaded(model, Pets(shape))
        out = RecordingOutputs()
        result = interpolation.run(run, cfg, out)
        steps = cfg.interpolation.steps
        assert all(r.shape == (steps + 2, *shape) for r in out.grids["interpolation_pairs"])
        assert len(out.grids["interpolation_traversals"]) == 2  # m = 2 latents
        assert result["path_over_blend"] > 0


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-3.0, 5.0), (0.5, 1.0)])
def test_noise_stays_in_the_data_range(value_range):
    low, high = value_range
    x = low + (high - low) * torch.rand(64, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    pepper = noise.corrupt(x, "salt_and_pepper", 0.3, value_range, seed=1)
    changed = pepper != x
    assert 0.2 < float(changed.double().mean()) < 0.4
    assert set(pepper[changed].unique().tolist()) <= {low, high}
    masked = noise.corrupt(x, "masking", 0.3, value_range, seed=1)
    fill = masked[masked != x].unique().tolist()
    assert fill == [0.0 if low <= 0 <= high else low]
    assert low <= float(masked.min()) and float(masked.max()) <= high


def test_denoising_scores_do_not_depend_on_the_range_of_the_values():
    """Salt and pepper in [0, 1] and in [-3, 5]: the same picture, the same PSNR and SSIM."""
    unit = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    wide = -3 + 8 * unit

    def blur(x):  # any affine-equivariant reconstruction
        return torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)

    a, _ = noise.denoising_curve(blur, unit, [0.1, 0.3], "salt_and_pepper", (0.0, 1.0), seed=2)
    b, _ = noise.denoising_curve(blur, wide, [0.1, 0.3], "salt_and_pepper", (-3.0, 5.0), seed=2)
    for row_a, row_b in zip(a, b, strict=True):
        for key in ("psnr_noisy", "psnr_denoised", "ssim_noisy", "ssim_denoised"):
            assert row_a[key] == pytest.approx(row_b[key], rel=1e-4, abs=1e-4), key


def test_masking_levels_above_one_are_refused():
    with pytest.raises(ConfigError, match="fractions of pixels"):
        noise.check_noise("masking", [0.5, 2.0])
    noise.check_noise("gaussian", [0.5, 2.0])  # sigma in data units may exceed 1


# --- generation -----------------------------------------------------------------------------------
def test_generation_is_refused_for_a_plain_autoencoder_in_one_line(cfg):
    run = loaded(MLPAutoencoder([3, 6, 6], 2, hidden_sizes=[8]), Pets())
    reason = generation.available(run, cfg)
    assert "model=vae" in reason and "MLPAutoencoder" in reason and "\n" not in reason
    with pytest.raises(ConfigError, match="task=generation"):
        registry.select_tasks(["generation"], run, cfg)


def test_generation_of_a_colour_vae_keeps_three_channels(cfg, tmp_path):
    torch.manual_seed(0)
    run = loaded(VariationalAutoencoder([3, 6, 6], 2, hidden_sizes=[8]), Pets())
    small = OmegaConf.merge(cfg, {"generation": {"num_samples": 8, "per_row": 4}})
    result = run_task("generation", run, small, tmp_path)
    assert result["num_samples"] == 8 and result["traversal_dims"] == 2
    i, j = result["interpolation_between"]
    labels = run.datamodule.split("test")["label"]
    assert labels[i] != labels[j]


def test_score_histogram_takes_negative_scores_as_they_are():
    """A -ELBO under a continuous likelihood can be negative: no log axis, nothing clamped."""
    scores = torch.cat([torch.randn(40) - 5, torch.randn(20) + 5]).double()
    is_anomaly = torch.arange(60) >= 40
    figure = anomaly.score_histogram(
        {"model": scores, "pca": scores.exp()}, is_anomaly, {"model": 0.0, "pca": 1.0}, "t"
    )
    model_axis, pca_axis = figure.axes[:2]
    assert model_axis.get_xlabel() == "score (model)" and model_axis.get_xlim()[0] < -5
    assert pca_axis.get_xlabel() == "log10 score (pca)"


@pytest.mark.parametrize("shape", [(3, 5, 9), (1, 1, 12)])
def test_embedding_runs_on_oblong_images_and_vectors(shape, cfg, tmp_path):
    """The projector's sprite wants square thumbnails; vectors get none."""
    model = MLPAutoencoder(list(shape), 2, hidden_sizes=[8], linear_path=False)
    run = loaded(model, Pets(shape))
    result = run_task("embedding", run, cfg, tmp_path)
    assert result["map"]["axes"] == ["z1", "z2"] and "label_accuracy" in result
    thumbnails = embedding.projector_thumbnails(run.datamodule.split("test")["x"], run.datamodule)
    if shape[1] == 1:
        assert thumbnails is None
    else:
        assert thumbnails.shape == (SIZES["test"], 3, 9, 9)


def test_large_thumbnails_are_shrunk_to_fit_the_projector(tmp_path):
    images = torch.rand(20, 3, 100, 80)
    thumbnails = embedding.projector_thumbnails(images, Pets((3, 100, 80)))
    side = embedding.THUMBNAIL_SIZE
    assert thumbnails.shape == (20, 3, side, side)
    assert float(thumbnails[..., :, :6].min()) == 1.0  # white padding beside the narrower side
    out = Outputs(tmp_path)
    try:
        embedding.add_projector(
            out.writer, torch.randn(20, 2), torch.arange(20) % 3, CLASSES, thumbnails
        )
    finally:
        out.close()
