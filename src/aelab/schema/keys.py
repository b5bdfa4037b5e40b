"""The schema's building blocks: a declared `Key`, a declared `Target` class, and the `Context`
that rules across keys and groups read."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aelab.schema.message import violation
from aelab.schema.types import ValueType


@dataclass(frozen=True)
class Key:
    """One config key: its type (with range or choices), an example value, and a note."""

    name: str
    type: ValueType
    example: Any
    nullable: bool = False  # null is allowed (the constructor then picks a default)
    note: str = ""  # what the key means, shown after the requirement, e.g. "(grid points per side)"

    def check(self, group: str, value: Any) -> None:
        """Raise `ConfigError` naming ``group.name`` when `value` does not fit."""
        self._check(f"{group}.{self.name}", value)

    def check_top_level(self, value: Any) -> None:
        """The same for a key outside any group (``seed``)."""
        self._check(self.name, value)

    def _check(self, path: str, value: Any) -> None:
        if value is None and self.nullable:
            return
        problem = self.type.problem(value)
        if problem is None:
            return
        must = problem.must + (" or null" if self.nullable and not problem.part else "")
        must += f" {self.note}" if self.note else ""
        raise violation(path, must, problem.got, self.example, part=problem.part)


@dataclass
class Context:
    """What rules see: each group's values (constructor defaults filled in) and the sizes."""

    groups: dict[str, dict[str, Any]]
    input_dim: int = 0
    latent_dim: int = 0

    def __getitem__(self, path: str) -> Any:
        group, key = path.split(".", 1)
        return self.groups.get(group, {}).get(key)


Rule = Callable[[Context], None]  # raises `ConfigError` (through `violation`) when broken


@dataclass(frozen=True)
class Target:
    """The declared keys of one ``_target_`` class and the rules between them.

    Models name their ``size_keys`` (what to lower when the model does not fit in memory); data
    give ``split_sizes`` (samples per split, by size key) and ``sample_bytes`` (per sample, from
    the input dimension) so their memory is known before anything is generated.
    """

    keys: tuple[Key, ...]
    rules: tuple[Rule, ...] = ()
    size_keys: tuple[str, ...] = ()
    split_sizes: Callable[[dict[str, Any]], dict[str, int]] | None = None
    sample_bytes: Callable[[int], int] | None = None
    by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {key.name: key for key in self.keys})

    def check_values(self, group: str, values: dict[str, Any]) -> None:
        """Each of `values` against its declared key (a constructor used directly gets the
        command line's messages); the first that does not fit raises `ConfigError`."""
        for name, value in values.items():
            self.by_name[name].check(group, value)
