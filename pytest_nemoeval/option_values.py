"""Converters of option values (flags, ini keys, recipe keys): each a one-line usage error on a bad value."""

from __future__ import annotations

import math
from typing import Any, Callable

import pytest

from pytest_nemoeval.compare.policy import PolicyError


def positive_int(name: str) -> Callable[[Any], int]:
    return _whole_number(name, 1, "at least 1")


def non_negative_int(name: str) -> Callable[[Any], int]:
    return _whole_number(name, 0, "0 or more")


def _whole_number(name: str, least: int, wording: str) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise pytest.UsageError(f"{name} must be a whole number, got {value!r}") from None
        if number < least:
            raise pytest.UsageError(f"{name} must be {wording}, got {number}")
        return number

    return convert


def positive_float(name: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise pytest.UsageError(f"{name} must be a number of seconds, got {value!r}") from None
        if number <= 0:
            raise pytest.UsageError(f"{name} must be more than 0, got {number}")
        return number

    return convert


def fraction(name: str) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not 0.0 <= number <= 1.0:  # also NaN
            raise pytest.UsageError(f"{name} must be a fraction in [0, 1] (0.01 = 1%), got {value!r}")
        return number

    return convert


def policy(name: str, check: Callable[[Any, str], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        try:
            return check(value, name)
        except PolicyError as exc:
            raise pytest.UsageError(str(exc)) from None

    return convert


def choice(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if str(value) not in choices:
            raise pytest.UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    return convert


def text(value: Any) -> str:
    return str(value)


def arguments(value: Any) -> list[str]:
    """--deploy-arg values (or a recipe list): each split like a shell would, so '--x 1' is two arguments."""
    import shlex

    values = [value] if isinstance(value, str) else list(value)
    return [token for text in values for token in shlex.split(str(text))]


def json_object(name: str) -> Callable[[Any], dict[str, Any]]:
    """A mapping: from a recipe as it is, from the command line as JSON text."""
    def convert(value: Any) -> dict[str, Any]:
        import json

        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise pytest.UsageError(f"{name} must be a JSON object, e.g. '{{\"rope_scaling\": {{...}}}}': {exc}") from None
        if not isinstance(value, dict):
            raise pytest.UsageError(f"{name} must be a JSON object (a mapping), got {type(value).__name__}")
        return value

    return convert


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
