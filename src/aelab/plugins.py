"""Hydra plugins that come with an extra: one line naming the extra when the plugin is missing.

Hydra itself stops at composition with "Could not load 'hydra/launcher/submitit_slurm'", before
any aelab code runs; the entry points check the command line first.
"""

import importlib.util
import sys

# text in a command-line argument -> (the plugin's module, the extra that installs it)
PLUGINS = {
    "hydra/launcher=slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hydra/launcher=submitit_": ("hydra_plugins.hydra_submitit_launcher", "slurm"),
    "hparams_search=": ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
    "hydra/sweeper=optuna": ("hydra_plugins.hydra_optuna_sweeper", "optuna"),
}


def require_plugins(argv: list[str]) -> None:
    """Exit 2 with one line if an argument needs a Hydra plugin that is not installed."""
    for arg in argv:
        for text, (module, extra) in PLUGINS.items():
            if text in arg and importlib.util.find_spec(module) is None:
                print(
                    f"aelab: error: {arg} needs the {extra} extra, which is not installed; "
                    f"pip install 'aelab[{extra}]'",
                    file=sys.stderr,
                )
                sys.exit(2)
