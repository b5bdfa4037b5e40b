"""Type annotations as value types: whether a plain config value fits ``int | None``,
``Literal["32-true", ...]`` or ``list[int]``, and how to say what fits. Used for the arguments
of lightning.Trainer, whose annotations are the most precise description there is.

A config cannot hold objects: where an annotation names a class (an Accelerator, a Profiler, a
plugin), a mapping with a ``_target_`` fits, since Hydra builds the object from it.
"""

import collections.abc
import datetime
import os
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from aelab.schema.types import ValueType, is_integer, is_number

_SEQUENCES = (list, tuple, collections.abc.Sequence, collections.abc.Iterable)
_MAPPINGS = (dict, collections.abc.Mapping)
_PATHS = (Path, os.PathLike)
_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    datetime.timedelta: "a duration",
}


def _flatten(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for arg in get_args(annotation) for a in _flatten(arg)]
    return [annotation]


def fits(value: Any, annotation: Any) -> bool:
    """Whether the plain config `value` fits `annotation` (unknown annotations accept all)."""
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin is Literal:
        return any(type(value) is type(option) and value == option for option in args)
    if origin in _SEQUENCES:
        items = args[0] if args and origin is not tuple else Any
        return isinstance(value, list | tuple) and all(fits(v, items) for v in value)
    if origin in _MAPPINGS or annotation in _MAPPINGS:
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return is_integer(value)
    if annotation is float:
        return is_number(value)
    if annotation is str or annotation in _PATHS:
        return isinstance(value, str)
    if isinstance(annotation, type):
        return (isinstance(value, dict) and "_target_" in value) or isinstance(value, annotation)
    return True


def describe(annotation: Any) -> str:
    """What fits `annotation`, in words: e.g. "an integer or null", "one of 16-mixed, 32-true"."""
    kinds: list[str] = []
    choices: list[str] = []
    nullable = False
    for part in _flatten(annotation):
        origin = get_origin(part)
        if part is None or part is type(None):
            nullable = True
        elif origin is Literal:
            choices += [str(option) for option in get_args(part)]
        elif origin in _SEQUENCES or part in (list, tuple):
            kinds.append("a list")
        elif origin in _MAPPINGS or part in _MAPPINGS:
            kinds.append("a mapping")
        elif part in _PATHS:
            kinds.append("a path")
        elif part in _NAMES:
            kinds.append(_NAMES[part])
        elif isinstance(part, type):
            kinds.append(f"a {part.__name__} (a mapping with _target_)")
        else:
            kinds.append(str(part))
    if choices and _NAMES[bool] in kinds:  # true, false and the literals are one list
        kinds.remove(_NAMES[bool])
        choices = ["true", "false", *choices]
    if choices:
        kinds.append("one of " + ", ".join(dict.fromkeys(choices)))
    kinds = list(dict.fromkeys(kinds)) + (["null"] if nullable else [])
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " or " + kinds[-1]


class FromAnnotation(ValueType):
    """The value type an annotation describes."""

    def __init__(self, annotation: Any) -> None:
        self.annotation = annotation
        self.phrase = describe(annotation)

    def fits(self, value: Any) -> bool:
        return fits(value, self.annotation)
