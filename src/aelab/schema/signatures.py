"""Which keys a ``_target_`` class takes: its constructor's arguments, read with `inspect`.

A constructor with ``**kwargs`` passes them to its base class, so the bases' arguments count
too. Arguments that aelab-train passes itself (`INJECTED`) are not config keys.
"""

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from aelab.errors import ConfigError

#: arguments aelab-train passes to a group's class: where their value comes from, an example
INJECTED: dict[str, dict[str, tuple[str, str, Any]]] = {
    "model": {
        "input_shape": ("the data", "data.resolution", 10),
        "latent_dim": ("compression", "compression.latent_dim", 5),
        "regularizer": ("the regularizer group", "regularizer", "sparse_l1"),
        "ordering": ("the ordered group", "ordered", "nested"),
    },
}

_SKIPPED = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _constructors(cls: type) -> Iterator[tuple[Callable, list[inspect.Parameter]]]:
    """Each ``__init__`` that `cls(...)` reaches, with its arguments (without self): the class's
    own, then its bases' for as long as each passes ``**kwargs`` on."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        if init is object.__init__:
            return
        own = list(inspect.signature(init).parameters.values())[1:]
        yield init, own
        if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in own):
            return


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """The named arguments of `cls(...)`, following ``**kwargs`` up the base classes."""
    parameters: dict[str, inspect.Parameter] = {}
    for _, own in _constructors(cls):
        for parameter in own:
            if parameter.kind not in _SKIPPED:
                parameters.setdefault(parameter.name, parameter)
    return parameters


def constructor_annotations(cls: type) -> dict[str, Any]:
    """The type annotation of each named argument of `cls(...)`; `Any` where there is none
    (or where it names something that does not resolve)."""
    annotations: dict[str, Any] = {}
    for init, own in _constructors(cls):
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 - a forward reference that does not resolve
            hints = {}
        for parameter in own:
            annotation = hints.get(parameter.name, parameter.annotation)
            if annotation is inspect.Parameter.empty or isinstance(annotation, str):
                annotation = Any
            if parameter.kind not in _SKIPPED:
                annotations.setdefault(parameter.name, annotation)
    return annotations


def config_keys(group: str, cls: type) -> dict[str, inspect.Parameter]:
    """The keys a ``group`` config of class `cls` may set (injected arguments left out)."""
    injected = INJECTED.get(group, {})
    return {k: p for k, p in constructor_parameters(cls).items() if k not in injected}


def defaults(parameters: dict[str, inspect.Parameter]) -> dict[str, Any]:
    """The constructor's default values, as plain values (tuples become lists)."""
    plain = {}
    for name, parameter in parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            value = parameter.default
            plain[name] = list(value) if isinstance(value, tuple) else value
    return plain


def target_class(group: str, target: Any) -> type:
    """The class named by ``<group>._target_``; a `ConfigError` when it is not one."""
    example = {
        "data": "data=terrain",
        "model": "model=mlp",
        "regularizer": "regularizer=none",
        "ordered": "ordered=none",
    }
    cls = locate(str(target))
    if not isinstance(cls, type):
        raise ConfigError(
            f"{group}._target_ must be an importable class, got {target!r}; "
            f"e.g. {example.get(group, group + '=...')}"
        )
    return cls


def locate(path: str) -> Any:
    """The object at dotted `path` (a module, then attributes), or None if there is none."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name, None)
        return found
    return None
