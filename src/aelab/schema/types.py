"""Value types of config keys: each says whether a plain value fits and, if not, what it must be.

A type's ``problem(value)`` returns None for a good value, else a `Violation`: the requirement
(``must``, read after "<key> must be") and how to show what was given (``got``). Numbers never
accept booleans (``true`` is not 1) nor NaN or infinities.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Violation:
    must: str  # e.g. "a positive integer"
    got: str  # e.g. "-1" or "unknown terrain class 'volcano'"
    part: str = ""  # what of the key is wrong, e.g. "weights" -> "data.classes weights must be"


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class ValueType:
    """A key's type; subclasses set `phrase` and implement `fits`."""

    phrase = "a value"

    def fits(self, value: Any) -> bool:
        raise NotImplementedError

    def problem(self, value: Any) -> Violation | None:
        return None if self.fits(value) else Violation(self.phrase, repr(value))


class Integer(ValueType):
    """An int (not a bool), at least `ge` when given."""

    def __init__(self, ge: int | None = None) -> None:
        self.ge = ge
        if ge is None:
            self.phrase = "an integer"
        elif ge == 1:
            self.phrase = "a positive integer"
        else:
            self.phrase = f"an integer >= {ge}"

    def fits(self, value: Any) -> bool:
        return is_integer(value) and (self.ge is None or value >= self.ge)


class Number(ValueType):
    """A finite int or float (not a bool) within the given bounds.

    `phrase` replaces the generated requirement; `type_phrase` is the requirement shown when the
    value is not a finite number at all (default: `phrase`).
    """

    def __init__(
        self,
        gt: float | None = None,
        ge: float | None = None,
        lt: float | None = None,
        le: float | None = None,
        phrase: str | None = None,
        type_phrase: str | None = None,
    ) -> None:
        self.gt, self.ge, self.lt, self.le = gt, ge, lt, le
        self.phrase = phrase or self._describe()
        self.type_phrase = type_phrase or self.phrase

    def _describe(self) -> str:
        low = f"({_bound(self.gt)}" if self.gt is not None else None
        low = f"[{_bound(self.ge)}" if self.ge is not None else low
        high = f"{_bound(self.lt)})" if self.lt is not None else None
        high = f"{_bound(self.le)}]" if self.le is not None else high
        if low and high:
            return f"a number in {low}, {high}"
        if self.gt == 0 and not high:
            return "a positive number"
        if self.gt is not None:
            return f"a number > {_bound(self.gt)}"
        if self.ge is not None:
            return f"a number >= {_bound(self.ge)}"
        if high:
            return f"a number {'<' if self.lt is not None else '<='} {high[:-1]}"
        return "a finite number"

    def fits(self, value: Any) -> bool:
        return (
            is_number(value)
            and (self.gt is None or value > self.gt)
            and (self.ge is None or value >= self.ge)
            and (self.lt is None or value < self.lt)
            and (self.le is None or value <= self.le)
        )

    def problem(self, value: Any) -> Violation | None:
        if not is_number(value):
            return Violation(self.type_phrase, repr(value))
        return super().problem(value)


class Flag(ValueType):
    phrase = "true or false"

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)


class Text(ValueType):
    phrase = "a string"

    def fits(self, value: Any) -> bool:
        return isinstance(value, str)


class Choice(ValueType):
    """One of a fixed set of values (compared with their type: 32 is not "32")."""

    def __init__(self, options: Sequence[Any]) -> None:
        self.options = tuple(options)
        self.phrase = f"one of {', '.join(str(o) for o in self.options)}"

    def fits(self, value: Any) -> bool:
        return any(type(value) is type(o) and value == o for o in self.options)


class Sizes(ValueType):
    """A list of positive integers (layer widths, channels); at least one unless `allow_empty`."""

    def __init__(self, allow_empty: bool = True) -> None:
        self.allow_empty = allow_empty
        self.phrase = "a list of positive integers" + ("" if allow_empty else " (at least one)")

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and (self.allow_empty or len(value) > 0)
            and all(is_integer(v) and v > 0 for v in value)
        )


class Numbers(ValueType):
    """A list of numbers, each fitting `item` (e.g. ratios in (0, 1])."""

    def __init__(self, item: Number, phrase: str) -> None:
        self.item = item
        self.phrase = phrase

    def fits(self, value: Any) -> bool:
        return isinstance(value, list | tuple) and all(self.item.fits(v) for v in value)


class Members(ValueType):
    """A non-empty list of values from `options` (e.g. digits 0..9)."""

    def __init__(self, options: Sequence[Any], phrase: str) -> None:
        self.options = tuple(options)
        self.phrase = phrase

    def fits(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) > 0
            and all(is_integer(v) and v in self.options for v in value)
        )


class Weights(ValueType):
    """A mapping of known names to weights >= 0 with a positive sum (e.g. class mixtures)."""

    def __init__(self, names: Sequence[str], noun: str, plural: str) -> None:
        self.names = tuple(names)
        self.noun = noun
        self.phrase = f"a mapping of {plural} ({', '.join(self.names)}) to weights >= 0"

    def fits(self, value: Any) -> bool:
        return self.problem(value) is None

    def problem(self, value: Any) -> Violation | None:
        if not isinstance(value, dict):
            return Violation(self.phrase, repr(value))
        unknown = sorted(set(value) - set(self.names), key=str)
        if unknown:
            return Violation(self.phrase, f"unknown {self.noun} {unknown[0]!r}")
        weights = list(value.values())
        if not all(is_number(w) and w >= 0 for w in weights) or sum(weights) <= 0:
            return Violation(">= 0 with a positive sum", repr(value), part="weights")
        return None


class AnyOf(ValueType):
    """A value that fits any of `types`, described by `phrase`."""

    def __init__(self, *types: ValueType, phrase: str) -> None:
        self.types = types
        self.phrase = phrase

    def fits(self, value: Any) -> bool:
        return any(t.fits(value) for t in self.types)
