"""KMNIST (Kuzushiji-MNIST) as an in-memory DataModule: 1 x 28 x 28 images of cursive Japanese
characters, pixels in [0, 1].

The files are MNIST's four IDX files (same names, ``.gz`` or not), looked up in ``data_dir`` and
in torchvision's layout ``data_dir/KMNIST/raw``, and downloaded with torchvision's mirrors where
there is a network. Splits as MNIST's: ``official`` (60k train, validation carved from it, 10k
test) or ``t10k`` (train/val/test carved from the 10k test images). ``classes`` (ids or names)
keeps only those classes in train/val, for one-class runs.
"""

from aelab.data.idx import IDX_IMAGES, IDXDataModule
from aelab.data.image_files import classes_key, files_schema

CLASS_NAMES = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")  # one hiragana each


class KMNISTDataModule(IDXDataModule):
    """Ten hiragana classes; batches are dicts with ``x`` (N, 1, 28, 28) and ``label``."""

    NAME = "KMNIST"
    TORCHVISION = "KMNIST"
    CLASS_NAMES = CLASS_NAMES
    SCHEMA = files_schema("data/kmnist", IDX_IMAGES, classes_key(CLASS_NAMES))

    def __init__(self, data_dir: str = "data/kmnist", **kwargs) -> None:
        super().__init__(data_dir=data_dir, **kwargs)
