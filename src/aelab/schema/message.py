"""The one line every violation gives: ``<key> must be ..., got ...; e.g. <key>=<good value>``.

The task runner prints a `ConfigError` as ``aelab: error: <message>`` and exits with code 2, so
the message itself carries no prefix.
"""

import difflib
from collections.abc import Mapping
from typing import Any

from aelab.errors import ConfigError


def override_text(value: Any) -> str:
    """`value` as a Hydra command-line override writes it: null, true, [128,64], {a:1,b:0}."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{override_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def one_line(text: str) -> str:
    """`text` on one line: whitespace runs (newlines included) become single spaces."""
    return " ".join(str(text).split())


def violation(
    key: str,
    must: str,
    got: str,
    example: Any,
    example_key: str | None = None,
    part: str = "",
) -> ConfigError:
    """The `ConfigError` for `key`; the example sets `example_key` (default: `key`) to `example`."""
    subject = f"{key} {part}" if part else key
    hint = f"{example_key or key}={override_text(example)}"
    return ConfigError(one_line(f"{subject} must be {must}, got {got}; e.g. {hint}"))


def unknown_key(
    group: str,
    name: str,
    value: Any,
    known: Mapping[str, Any],
    owner: str,
    fallback: str | None = None,
) -> ConfigError:
    """The `ConfigError` for ``group.name``, a key `owner` does not take, with close matches.

    `known` maps the keys that exist to their `Key` declarations (their ``example``) or None;
    without a close match the example sets `fallback` (default: the first key).
    """
    path = f"{group}.{name}" if group else name  # no group: a key at the top of the config
    if not known:  # nothing to suggest but removing it
        return ConfigError(
            f"{path} must be a key of {owner}, got unknown key {name!r} ({owner} takes "
            f"no keys); e.g. ~{path}"
        )
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    if close:
        must = f"a key of {owner} (closest: {', '.join(close)})"
        hint, example = close[0], value
    else:
        listed = f"keys: {', '.join(known)}" if len(known) <= 20 else "see its arguments"
        must = f"a key of {owner} (none is close; {listed})"
        hint = fallback if fallback in known else next(iter(known))
        example = getattr(known[hint], "example", value)
    return violation(
        path,
        must,
        f"unknown key {name!r}",
        example,
        example_key=f"{group}.{hint}" if group else hint,
    )
