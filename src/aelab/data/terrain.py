"""Terrain patches as a DataModule: splits drawn by `TerrainGenerator`, in standardised metres.

The generator and its names live in `aelab.data.terrain_generator`; they are imported here too.
"""

from typing import Any

import numpy as np
import torch

from aelab.data.base import (
    FLOAT_BYTES,
    LABEL_BYTES,
    HeightsInMetres,
    Split,
    loader_keys,
    split_keys,
)
from aelab.data.images import plain
from aelab.data.terrain_generator import (
    CHUNK,
    CLASS_NAMES,
    DESCRIPTOR_NAMES,
    FINE_GRID,
    MAX_BUILDINGS,
    MAX_WAVENUMBER,
    OFFSETS,
    PARAM_NAMES,
    WAVES,
    Patches,
    TerrainGenerator,
    cell_centres,
    grid_points,
)
from aelab.errors import ConfigError
from aelab.schema.keys import Key, Target
from aelab.schema.types import Choice, Integer, Number, Weights

__all__ = [
    "CHUNK",
    "CLASS_NAMES",
    "DESCRIPTOR_NAMES",
    "FINE_GRID",
    "MAX_BUILDINGS",
    "MAX_WAVENUMBER",
    "OFFSETS",
    "PARAM_NAMES",
    "WAVES",
    "Patches",
    "TerrainDataModule",
    "TerrainGenerator",
    "cell_centres",
    "grid_points",
]

#: settings ``alternative_test_split`` may change
TEST_SPLIT_CHANGES = ("classes", "mountain_offset", "roughness_scale")
SAMPLING_BIAS_CLASSES = {"mountain": 1.0}  # the windows of `offset_windows`


# --- the config schema's sizes ----------------------------------------------------------------
def _split_sizes(values: dict[str, Any]) -> dict[str, int]:
    return {key: values[key] for key in ("train_size", "val_size", "test_size")}


def _sample_bytes(input_dim: int) -> int:
    """Heights, then parameters and descriptors (float32), and the label."""
    return FLOAT_BYTES * (input_dim + len(PARAM_NAMES) + len(DESCRIPTOR_NAMES)) + LABEL_BYTES


CLASS_WEIGHTS = Weights(CLASS_NAMES, "terrain class", "terrain classes")
EVERY_CLASS = dict.fromkeys(CLASS_NAMES, 1.0)  # the default mixture (conf/data/terrain.yaml)


class TerrainDataModule(HeightsInMetres):
    """Terrain patches as a (1, r, r) image per sample, standardised with training statistics.

    Batches are dicts: ``x`` (standardised heights), ``label`` (class id), ``params`` and
    ``descriptors`` (in physical units, columns as ``PARAM_NAMES`` / ``DESCRIPTOR_NAMES``).
    ``altitude_mean`` and ``altitude_std`` map ``x`` back to metres.
    """

    SCHEMA = Target(
        keys=(
            Key("resolution", Integer(ge=2), 10, note="(grid points per side)"),
            Key("classes", CLASS_WEIGHTS, dict.fromkeys(CLASS_NAMES, 1), nullable=True),
            Key("mountain_offset", Choice(OFFSETS), "uniform"),
            Key("roughness_scale", Number(ge=0), 1.0),
            *split_keys(20000, nullable_train=False),
            *loader_keys(128),
            Key("test_mountain_offset", Choice(OFFSETS), "summit", nullable=True),
            Key("test_classes", CLASS_WEIGHTS, dict.fromkeys(CLASS_NAMES, 1), nullable=True),
        ),
        split_sizes=_split_sizes,
        sample_bytes=_sample_bytes,
    )

    def __init__(
        self,
        resolution: int = 10,
        classes: dict[str, float] | None = EVERY_CLASS,
        mountain_offset: str = "uniform",
        roughness_scale: float = 1.0,
        train_size: int = 20000,
        val_size: int = 2000,
        test_size: int = 2000,
        batch_size: int = 128,
        eval_batch_size: int | None = None,
        seed: int = 1234,
        test_mountain_offset: str | None = None,
        test_classes: dict[str, float] | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed, eval_batch_size=eval_batch_size)
        classes, test_classes = plain(classes), plain(test_classes)
        settings = {
            "resolution": resolution,
            "classes": classes,
            "mountain_offset": mountain_offset,
            "roughness_scale": roughness_scale,
            "train_size": train_size,
            "val_size": val_size,
            "test_size": test_size,
            "test_mountain_offset": test_mountain_offset,
            "test_classes": test_classes,
        }
        TerrainDataModule.SCHEMA.check_values("data", settings)
        classes = None if classes is None else dict(classes)  # a copy: never the default itself
        self.classes = classes  # the training mixture, as given (None: every class alike)
        self.generator = TerrainGenerator(resolution, classes, mountain_offset, roughness_scale)
        # The test split may come from another distribution (anomaly protocols).
        self.test_generator = TerrainGenerator(
            resolution,
            classes if test_classes is None else test_classes,
            test_mountain_offset or mountain_offset,
            roughness_scale,
        )
        self.resolution = resolution
        self.sizes = {"train": train_size, "val": val_size, "test": test_size}

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (1, self.resolution, self.resolution)

    @property
    def class_names(self) -> list[str]:
        return CLASS_NAMES

    # --- what evaluation may ask ---------------------------------------------------------------
    @property
    def trained_classes(self) -> list[int]:
        """Class ids with a positive weight in the training mixture."""
        return [i for i, p in enumerate(self.generator.probabilities) if p > 0]

    @property
    def intrinsics(self) -> dict[str, list[str]]:
        return {"descriptors": list(DESCRIPTOR_NAMES), "params": list(PARAM_NAMES)}

    def alternative_test_split(self, size: int, seed: int | list[int], **changes) -> Split:
        """`size` patches drawn with the training settings but for `changes`, standardised alike.

        `changes` may set ``classes`` (weights per class), ``mountain_offset`` and
        ``roughness_scale``; a change of None keeps the training setting.
        """
        unknown = sorted(set(changes) - set(TEST_SPLIT_CHANGES))
        if unknown:
            raise ConfigError(
                f"cannot change {unknown[0]!r} in a terrain test split; the settings that can "
                f"change are {', '.join(TEST_SPLIT_CHANGES)}"
            )
        if not isinstance(size, int) or size < 0:
            raise ConfigError(f"a test split's size must be an integer >= 0, got {size!r}")
        settings = {
            "classes": self.classes,
            "mountain_offset": self.generator.mountain_offset,
            "roughness_scale": self.generator.roughness_scale,
        }
        settings.update({k: v for k, v in changes.items() if v is not None})
        generator = TerrainGenerator(
            self.resolution,
            settings["classes"],
            settings["mountain_offset"],
            settings["roughness_scale"],
        )
        self.setup()  # the training statistics
        return self._to_split(generator.generate(size, seed=seed))

    def offset_windows(self, size: int, seed: int | list[int], offset: str) -> Split:
        """`size` mountain windows at `offset` from the summit (summit, wall or uniform)."""
        return self.alternative_test_split(
            size, seed, classes=SAMPLING_BIAS_CLASSES, mountain_offset=offset
        )

    def build_splits(self) -> dict[str, Split]:
        generated = {name: self._generate(name) for name in self.sizes}
        train_heights = generated["train"].heights
        self.altitude_mean = float(train_heights.mean())
        self.altitude_std = float(train_heights.std()) or 1.0
        return {name: self._to_split(patches) for name, patches in generated.items()}

    def _generate(self, name: str, points: np.ndarray | None = None) -> Patches:
        generator = self.test_generator if name == "test" else self.generator
        index = list(self.sizes).index(name)
        return generator.generate(self.sizes[name], seed=[self.seed, index], points=points)

    def resample(self, name: str, points: np.ndarray) -> torch.Tensor:
        """A split's inputs ``x``, the same ground sampled at other points (km, (r * r, 2)).

        Standardised with the training statistics, like the split itself.
        """
        self.setup()
        heights = self._generate(name, points).heights
        x = (heights - self.altitude_mean) / self.altitude_std
        return torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)

    def _to_split(self, patches: Patches) -> Split:
        x = (patches.heights - self.altitude_mean) / self.altitude_std
        return {
            "x": torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
            "label": torch.as_tensor(patches.labels, dtype=torch.int64),
            "params": torch.as_tensor(patches.params, dtype=torch.float32),
            "descriptors": torch.as_tensor(patches.descriptors, dtype=torch.float32),
        }
