"""Where the Hydra configs live: inside the installed package, or `conf/` in a source checkout."""

from pathlib import Path

_PACKAGED = Path(__file__).parent / "conf"
CONFIG_DIR = str(_PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "conf")
