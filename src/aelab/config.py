"""Where the Hydra configs live, and the resolvers they use.

Configs are inside the installed package (wheel) or in `conf/` of a source checkout.
"""

from pathlib import Path

from omegaconf import OmegaConf

from aelab.runs.resume import run_dir

_PACKAGED = Path(__file__).parent / "conf"
CONFIG_DIR = str(_PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[2] / "conf")

if not OmegaConf.has_resolver("aelab_run_dir"):
    OmegaConf.register_new_resolver("aelab_run_dir", run_dir)
