"""MNIST as an in-memory DataModule: 1 x 28 x 28 images with pixels in [0, 1].

Files are the four standard IDX files (``.gz`` or uncompressed), looked up in ``data_dir`` and in
torchvision's layout ``data_dir/MNIST/raw``. ``split=official`` uses the 60k training images
(validation carved from them) and the 10k test images; ``split=t10k`` carves train/val/test,
seeded, from the 10k test images alone.

``classes`` (e.g. [3]) keeps only those digits in train/val, for one-class runs; ``digits`` is
its former name, still read with a one-line deprecation warning.
"""

import logging
from typing import Any

from aelab.data.idx import IDX_IMAGES, IDXDataModule
from aelab.data.image_files import files_schema
from aelab.data.images import plain
from aelab.errors import ConfigError
from aelab.schema.keys import Key
from aelab.schema.types import Members

log = logging.getLogger(__name__)

DIGITS = Members(range(10), "a non-empty list of digits 0..9")


class MNISTDataModule(IDXDataModule):
    """MNIST digits; batches are dicts with ``x`` (N, 1, 28, 28) in [0, 1] and ``label``."""

    NAME = "MNIST"
    CLASS_NAMES = tuple(str(d) for d in range(10))
    SCHEMA = files_schema(
        "data/mnist",
        IDX_IMAGES,
        Key("classes", DIGITS, [3], nullable=True, note="(null: every digit)"),
        Key("digits", DIGITS, [3], nullable=True, note="(deprecated: the former data.classes)"),
    )

    def __init__(
        self,
        data_dir: str = "data/mnist",
        classes: list[int] | None = None,
        digits: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data_dir=data_dir, classes=renamed_digits(classes, digits), **kwargs)


def renamed_digits(classes: Any, digits: Any) -> Any:
    """``classes``, or the deprecated ``digits`` in its place (with a one-line warning)."""
    classes, digits = plain(classes), plain(digits)
    if digits is None:
        return classes
    if classes is not None and list(classes) != list(digits):
        raise ConfigError(
            f"data.digits={list(digits)} and data.classes={list(classes)} disagree; "
            "data.digits is the former name of data.classes: give data.classes alone"
        )
    log.warning("data.digits is deprecated: write data.classes=%s (same meaning)", list(digits))
    return digits
