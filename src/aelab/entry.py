"""Hydra's own composition errors as aelab's one line, for the command-line entry points.

Hydra refuses an unknown key (``model.hidden_dims=[]`` where model=mlp has no such key) in four
lines of its own, before any aelab code runs. `run_app` holds what is written to stderr until
the app's function starts (`app_started`). When Hydra stops before that with a "not in struct"
error, the held text is replaced by one line naming the key, the option that lacks it and its
closest keys (`aelab.schema.message.unknown_key`), and the process exits 2. Anything else
written to stderr is passed on unchanged, in order.
"""

import difflib
import io
import re
import sys
from collections.abc import Callable
from typing import Any

EXIT_BAD_INPUT = 2
STRUCT_ERROR = re.compile(r"is not in struct.*?full_key: (\S+)", re.DOTALL)
MISSING_OPTION = re.compile(
    r"Could not find '([\w/]+)/([^']+)'\s+Available options in '[^']+':\n((?:\t.*\n)+)"
)


class HeldStream(io.TextIOBase):
    """A text stream that holds what is written until released, then writes through."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.held: list[str] = []
        self.released = False

    def write(self, text: str) -> int:
        if self.released:
            return self.real.write(text)
        self.held.append(text)
        return len(text)

    def flush(self) -> None:
        if self.released:
            self.real.flush()

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.real.write("".join(self.held))
            self.held.clear()
            self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")


_held: HeldStream | None = None


def app_started() -> None:
    """Called first thing in the app's function: Hydra composed the config, stderr flows."""
    if _held is not None:
        _held.release()


def run_app(main: Callable[[], Any], app: str, config_name: str) -> None:
    """Run a Hydra main (`app`: e.g. aelab-train), with its unknown-key errors as one line."""
    global _held
    real = sys.stderr
    _held = HeldStream(real)
    sys.stderr = _held
    try:
        main()
    except SystemExit as stop:
        if not _held.released and stop.code not in (0, None):
            text = "".join(_held.held)
            line = unknown_option_line(text) or unknown_key_line(
                text, sys.argv[1:], app, config_name
            )
            if line is not None:
                _held.held.clear()
                _held.release()
                print(f"aelab: error: {line}", file=real)
                raise SystemExit(EXIT_BAD_INPUT) from None
        raise
    finally:
        _held.release()
        sys.stderr = real
        _held = None


def _override_key(arg: str) -> str:
    return arg.split("=", 1)[0].lstrip("+~")


def _first_values(args: list[str]) -> list[str]:
    """The overrides with each sweep (a,b or range(...)) replaced by its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    kept = []
    for override in OverridesParser.create().parse_overrides(args):
        if not override.is_sweep_override():
            kept.append(override.input_line)
            continue
        values = list(override.sweep_string_iterator())
        if values:
            kept.append(f"{override.get_key_element()}={values[0]}")
    return kept


def unknown_option_line(text: str) -> str | None:
    """One line for Hydra's "Could not find 'group/option'" error in `text`, or None."""
    found = MISSING_OPTION.search(text)
    if found is None:
        return None
    from aelab.schema.message import violation

    group, option = found[1], found[2]
    options = [line.strip() for line in found[3].splitlines() if line.strip()]
    close = difflib.get_close_matches(option, options, n=1, cutoff=0.5)
    must = f"one of {', '.join(options)} (the files in conf/{group}/)"
    return str(violation(group, must, repr(option), (close or options)[0]))


def unknown_key_line(text: str, argv: list[str], app: str, config_name: str) -> str | None:
    """One line for Hydra's "not in struct" error in `text`, or None when it is another error."""
    found = STRUCT_ERROR.search(text)
    if found is None:
        return None
    full_key = found[1]
    args = [a for a in argv if "=" in a and not a.startswith("-")]
    bad = next((a for a in args if _override_key(a).startswith(full_key)), None)
    value = bad.split("=", 1)[1] if bad else None
    try:
        cfg = _compose([a for a in args if a is not bad], config_name)
    except Exception:  # noqa: BLE001 - the other overrides may be wrong too: no suggestions
        cfg = None
    return str(_unknown(full_key, value, cfg, app))


def _compose(overrides: list[str], config_name: str):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from aelab.config import CONFIG_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        return compose(config_name, overrides=_first_values(overrides), return_hydra_config=True)


def _unknown(full_key: str, value: Any, cfg: Any, app: str):
    """The `ConfigError` for `full_key`, with the keys that exist where it was given."""
    from omegaconf import DictConfig

    from aelab.errors import ConfigError
    from aelab.schema.message import unknown_key
    from aelab.schema.signatures import config_keys, target_class
    from aelab.schema.targets import class_schema
    from aelab.schema.validate import GROUPS

    group, _, rest = full_key.partition(".")
    if cfg is None:
        return ConfigError(
            f"{full_key} must be a key of {app}'s config, got unknown key {full_key!r}; "
            f"`{app} --cfg job` lists every key"
        )
    if not rest:  # a key at the top
        known = {k: None for k in cfg if k != "hydra"}
        return unknown_key("", full_key, value, known, f"{app}'s config", fallback="seed")
    name = rest.split(".")[0]
    choice = cfg.hydra.runtime.choices.get(group)
    owner = f"{group}={choice}" if choice else group
    node = cfg.get(group)
    if group in GROUPS and isinstance(node, DictConfig) and "_target_" in node:
        cls = target_class(group, node["_target_"])
        target = class_schema(group, cls)
        known = {k: target.by_name.get(k) for k in config_keys(group, cls)}
    elif isinstance(node, DictConfig):
        known = {k: None for k in node}
    else:
        known = {}
    return unknown_key(group, name, value, known, owner)
