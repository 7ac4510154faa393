"""The value types of the schema: each a pydantic field type whose validator says, in one
phrase, what a key expects (``expected an integer ≥ 1, got 0``); and :class:`Node`, the base of
every config node."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import torch
from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

MISSING = "???"


class Node(BaseModel):
    """A config node: every key known, none missing, values as composed."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _checked(check: Callable[[Any], str | None], optional: bool, quote: bool = True) -> Any:
    """A field type whose value ``check`` judges: it returns what was expected (followed by
    ``, got <value>`` unless not ``quote``), or ``None`` when the value is right; ``optional``
    also admits ``null``."""

    def validate(value: Any) -> Any:
        refuse_unknowable(value)
        if value is None and optional:
            return value
        expected = check(value)
        if expected is not None:
            raise ValueError(f"{expected}, got {value!r}" if quote else expected)
        return value

    return Annotated[Any, PlainValidator(validate)]


class Unresolved:
    """A value whose interpolation could not be resolved, and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def refuse_unknowable(value: Any) -> None:
    """Raise for a missing (``???``) or unresolvable value, which no check can judge."""
    if isinstance(value, Unresolved):
        raise ValueError(f"cannot be resolved ({value.reason})")
    if value == MISSING:
        raise ValueError(MISSING)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def integer(minimum: int = 0, optional: bool = False) -> Any:
    """An integer ≥ ``minimum``."""
    expected = f"expected an integer ≥ {minimum}"
    return _checked(lambda v: None if _is_int(v) and v >= minimum else expected, optional)


def number(
    low: float | None = 0,
    high: float | None = None,
    *,
    low_open: bool = True,
    high_open: bool = False,
    optional: bool = False,
) -> Any:
    """A finite number between ``low`` and ``high`` (either end open or closed)."""
    if high is None:
        expected = f"expected a number {'>' if low_open else '≥'} {low:g}"
    else:
        expected = (
            f"expected a number in {'(' if low_open else '['}{low:g}, {high:g}"
            f"{')' if high_open else ']'}"
        )

    def within(value: Any) -> bool:
        above = low is None or (value > low if low_open else value >= low)
        below = high is None or (value < high if high_open else value <= high)
        return above and below

    return _checked(lambda v: None if _is_number(v) and within(v) else expected, optional)


def choice(values: Sequence[Any], optional: bool = False) -> Any:
    """One of ``values`` (booleans are not the integers 0 and 1 here)."""

    def check(value: Any) -> str | None:
        known = not isinstance(value, bool) and value in values
        return None if known else f"unknown value {value!r}; expected one of {tuple(values)}"

    return _checked(check, optional, quote=False)


def flag(optional: bool = False) -> Any:
    """``true`` or ``false``."""
    return _checked(lambda v: None if isinstance(v, bool) else "expected true or false", optional)


def text(optional: bool = False) -> Any:
    """A string that is not empty (a name or a path)."""
    expected = "expected a non-empty string"
    return _checked(lambda v: None if isinstance(v, str) and v else expected, optional)


def names(optional: bool = True) -> Any:
    """A list of non-empty strings."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        return None if ok else "expected a list of names"

    return _checked(check, optional)


def integers(minimum: int = 0) -> Any:
    """A list of integers ≥ ``minimum``."""

    def validate(value: Any) -> Any:
        refuse_unknowable(value)
        if not isinstance(value, list):
            raise ValueError(f"expected a list of integers ≥ {minimum}, got {value!r}")
        for item in value:
            if not (_is_int(item) and item >= minimum):
                raise ValueError(f"expected integers ≥ {minimum}, got {item!r}")
        return value

    return Annotated[Any, PlainValidator(validate)]


def positive_numbers() -> Any:
    """A non-empty list of finite numbers > 0."""

    def validate(value: Any) -> Any:
        refuse_unknowable(value)
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list of numbers > 0, got {value!r}")
        for item in value:
            if not (_is_number(item) and item > 0):
                raise ValueError(f"expected numbers > 0, got {item!r}")
        return value

    return Annotated[Any, PlainValidator(validate)]


def probabilities(count: int) -> Any:
    """A list of ``count`` numbers in [0, 1]."""

    def check(value: Any) -> str | None:
        ok = isinstance(value, list) and len(value) == count
        ok = ok and all(_is_number(v) and 0 <= v <= 1 for v in value)
        return None if ok else f"expected a list of {count} numbers in [0, 1]"

    return _checked(check, optional=False)


def device() -> Any:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` of a GPU this machine has."""

    def check(value: Any) -> str | None:
        if value == "auto":
            return None
        try:
            chosen = torch.device(value)
        except (RuntimeError, TypeError):
            chosen = None
        if chosen is None or chosen.type not in ("cpu", "cuda"):
            return "unknown device; expected auto, cpu, cuda or cuda:N"
        if chosen.type == "cuda" and not torch.cuda.is_available():
            return "this machine has no CUDA GPU; expected auto or cpu"
        count = torch.cuda.device_count() if chosen.type == "cuda" else 0
        if chosen.type == "cuda" and (chosen.index or 0) >= count:
            return f"this machine has {count} CUDA GPU(s)"
        return None

    return _checked(check, optional=False)


def _each_positive(value: Any) -> Any:
    refuse_unknowable(value)
    if not isinstance(value, list) or not all(_is_int(v) and v >= 1 for v in value):
        raise ValueError(f"expected a list of integers ≥ 1, got {value!r}")
    return value


def positive_integers() -> Any:
    """A list of integers ≥ 1."""
    return Annotated[Any, PlainValidator(_each_positive)]


def inconsistent(key: str, message: str) -> PydanticCustomError:
    """The error of a check across the keys of a node, naming ``key`` within it."""
    return PydanticCustomError("inconsistent", "{key}: {message}", {"key": key, "message": message})
