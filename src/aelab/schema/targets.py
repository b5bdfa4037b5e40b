"""The schema of a ``_target_`` class: the `SCHEMA` it and its bases declare, and its
constructor's type annotations for the keys none of them declares.

A class declares its keys in its own module, as a class attribute ``SCHEMA = Target(...)``; a
subclass declares only what it adds. The effective schema is the union over the class's MRO:
the first declaration of a key wins (the class's own, then its bases' in order), rules and size
keys add up, data sizes come from the nearest class that gives them. A class that declares
nothing (a variant in a user's own package) is still checked: its keys by its signature, their
values by its constructor's annotations (`FromAnnotation`).
"""

import dataclasses
import functools
import inspect
from typing import Any

from aelab.schema.annotations import FromAnnotation
from aelab.schema.keys import Key, Target
from aelab.schema.signatures import config_keys, constructor_annotations

NO_EXAMPLE = "..."  # the example of an undeclared key without a default


def own_schema(cls: type) -> Target | None:
    """The `SCHEMA` `cls` declares itself (not one it inherits), if any."""
    schema = vars(cls).get("SCHEMA")
    return schema if isinstance(schema, Target) else None


@functools.cache
def declared_schema(cls: type) -> Target:
    """What `cls` and its bases declare, merged (the first declaration of a key wins)."""
    schemas = [schema for klass in cls.__mro__ if (schema := own_schema(klass)) is not None]
    keys: dict[str, Key] = {}
    for schema in schemas:
        for key in schema.keys:
            keys.setdefault(key.name, key)
    return Target(
        keys=tuple(keys.values()),
        rules=tuple(dict.fromkeys(rule for s in schemas for rule in s.rules)),
        size_keys=tuple(dict.fromkeys(name for s in schemas for name in s.size_keys)),
        split_sizes=next((s.split_sizes for s in schemas if s.split_sizes), None),
        sample_bytes=next((s.sample_bytes for s in schemas if s.sample_bytes), None),
    )


def annotation_key(name: str, annotation: Any, default: Any) -> Key:
    """An undeclared key: its type from its annotation, its example its default.

    A default of None allows null, whether or not the annotation says so.
    """
    value_type = FromAnnotation(annotation)
    if default is inspect.Parameter.empty:
        example = NO_EXAMPLE
    else:
        example = list(default) if isinstance(default, tuple) else default
    nullable = default is None and not value_type.fits(None)
    return Key(name, value_type, example, nullable=nullable)


@functools.cache
def class_schema(group: str, cls: type) -> Target:
    """Every key `cls` takes as a ``group`` config: as declared, else from its annotation.

    Keys without a declaration or an annotation are left out (any value fits them).
    """
    declared = declared_schema(cls)
    annotations = constructor_annotations(cls)
    keys = []
    for name, parameter in config_keys(group, cls).items():
        if name in declared.by_name:
            keys.append(declared.by_name[name])
        elif annotations.get(name, Any) is not Any:
            keys.append(annotation_key(name, annotations[name], parameter.default))
    names = {key.name for key in keys}
    return dataclasses.replace(
        declared,
        keys=tuple(keys),
        size_keys=tuple(name for name in declared.size_keys if name in names),
    )
