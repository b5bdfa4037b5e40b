"""The README's table of config groups and their options, generated from ``conf/``.

Each row lists a group's option files as they are on disk, marks the one ``train.yaml`` picks by
default, and gives a compression preset its ratio, so the table cannot drift from the configs.
``python -m aelab.options README.md`` rewrites the section between the markers
``<!-- aelab:begin options -->`` and ``<!-- aelab:end options -->``; a test fails when it is stale.
"""

import sys
from pathlib import Path

from omegaconf import OmegaConf

from aelab.config import CONFIG_DIR

SECTION = "options"
# (what the group is for, the group): the rows in the order a reader meets them. The groups left
# out are parts of every run, not choices: callbacks, paths, hydra, tuning (recipes per pair).
INTERNAL = ("callbacks", "paths", "hydra", "tuning")
GROUPS = (
    ("data", "data"),
    ("model", "model"),
    ("regularizer", "regularizer"),
    ("ordered latents (the first k latents a k-dimensional code)", "ordered"),
    ("compression ratio η = m/n", "compression"),
    ("accelerator", "accelerator"),
    ("training budget", "trainer"),
    ("logger", "logger"),
    ("anomaly definition (`aelab-eval task=[anomaly]`)", "anomaly"),
    ("experiment (a whole recipe)", "experiment"),
    ("debug", "debug"),
    ("hyperparameter search", "hparams_search"),
)


def options(group: str, config_dir: str = CONFIG_DIR) -> list[str]:
    """The options of `group`: its ``.yaml`` files, sorted."""
    return sorted(path.stem for path in (Path(config_dir) / group).glob("*.yaml"))


def defaults(config_dir: str = CONFIG_DIR, config: str = "train.yaml") -> dict[str, str]:
    """The option each group takes when none is given (`config`'s defaults list)."""
    listed = OmegaConf.to_container(OmegaConf.load(Path(config_dir) / config))["defaults"]
    return {
        group: option
        for entry in listed
        if isinstance(entry, dict)
        for group, option in entry.items()
        if isinstance(option, str) and "$" not in option  # not `optional tuning: ${model}_...`
    }


def note(group: str, option: str, config_dir: str = CONFIG_DIR) -> str:
    """What an option sets in one glance: a compression preset's ratio, a trainer's budget."""
    if group == "compression" and ratio(option, config_dir) != float("inf"):
        return f" ({ratio(option, config_dir):g})"
    if group == "trainer":
        steps = OmegaConf.load(Path(config_dir) / group / f"{option}.yaml").get("max_steps")
        return f" ({steps} optimiser steps)" if steps and steps > 0 else ""
    return ""


def ratio(option: str, config_dir: str = CONFIG_DIR) -> float:
    """A compression preset's η (inf for one that sets m instead)."""
    value = OmegaConf.load(Path(config_dir) / "compression" / f"{option}.yaml").get("ratio")
    return float("inf") if value is None else float(value)


def table(config_dir: str = CONFIG_DIR) -> str:
    """The markdown table: one row per group, its options, the default marked."""
    chosen = defaults(config_dir, "eval.yaml") | defaults(config_dir)  # aelab-train's first
    lines = ["| concern | config group | options |", "| --- | --- | --- |"]
    for concern, group in GROUPS:
        listed = options(group, config_dir)
        if group == "compression":  # by ratio, not by name
            listed.sort(key=lambda option: ratio(option, config_dir))
        cells = []
        for option in listed:
            mark = " (default)" if chosen.get(group) == option else ""
            cells.append(f"`{option}`{note(group, option, config_dir)}{mark}")
        lines.append(f"| {concern} | `{group}=` | {', '.join(cells)} |")
    return "\n".join(lines)


def write(readme: Path) -> bool:
    """Rewrite the options section of `readme`; True when it changed."""
    from aelab.experiments._docs import BEGIN, END, section

    text = readme.read_text()
    old = section(text, SECTION, str(readme))
    new = f"\n{table()}\n"
    if old == new:
        return False
    start = text.index(BEGIN.format(name=SECTION)) + len(BEGIN.format(name=SECTION))
    readme.write_text(text[:start] + new + text[text.index(END.format(name=SECTION)) :])
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    print(f"{target}: {'updated' if write(target) else 'already current'}")
