"""The comparison policy: per benchmark its metric, direction, `max_drop` and tier (recipe `benchmarks.<name>.gate`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

TIERS = ("critical", "supporting", "advisory")  # critical decides the exit status; supporting warns; advisory shows
DIRECTIONS = ("higher", "lower")
INCONCLUSIVE_MODES = ("status", "pass", "fail")
INCONCLUSIVE_STATUS = 6  # outside pytest's own 0-5
DEFAULT_MAX_DROP = 0.01  # one point: a smaller drop is within what we accept as equal
GATE_KEYS = {"metric", "direction", "max_drop", "max_relative_drop", "tier", "max_tokens_increase",
             "max_latency_p95_increase"}
CORRECTIONS = ("holm", "none")  # across the critical tier: Holm's family-wise error control, or each at 95 % alone


class PolicyError(ValueError):
    """A bad policy value: the message is the one line the user sees."""


@dataclass(frozen=True)
class BenchmarkPolicy:
    metric: str | None = None  # None: the benchmark's primary metric
    direction: str = "higher"
    max_drop: float | None = None  # None: the run's --max-drop
    tier: str = "critical"
    max_relative_drop: float | None = None  # a drop of more than this share of the baseline's value is NO-GO
    # cost and latency: completion tokens per paired item, p95 latency of the paired items, at most this share
    # above the baseline's (0.10: 10 % more), else NO-GO
    max_tokens_increase: float | None = None
    max_latency_p95_increase: float | None = None


def max_drop_value(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0.0 <= number <= 1.0:  # also NaN
        raise PolicyError(f"{where} must be a fraction in [0, 1] (0.01 = one point), got {value!r}")
    return number


def increase_value(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number >= 0.0:  # also NaN
        raise PolicyError(f"{where} must be a fraction >= 0 (0.10 = 10 % more than the baseline), got {value!r}")
    return number


def parse_gate(section: Any, where: str) -> BenchmarkPolicy:
    if not isinstance(section, dict):
        raise PolicyError(f"{where} must be a mapping (keys: {', '.join(sorted(GATE_KEYS))})")
    unknown = sorted(set(section) - GATE_KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown key '{unknown[0]}' (known: {', '.join(sorted(GATE_KEYS))})")
    tier = str(section.get("tier", "critical"))
    if tier not in TIERS:
        raise PolicyError(f"{where}.tier: unknown tier {tier!r} (known: {', '.join(TIERS)})")
    direction = str(section.get("direction", "higher"))
    if direction not in DIRECTIONS:
        raise PolicyError(f"{where}.direction: {direction!r}, expected higher or lower")
    fractions = {key: None if section.get(key) is None else max_drop_value(section[key], f"{where}.{key}")
                 for key in ("max_drop", "max_relative_drop")}
    increases = {key: None if section.get(key) is None else increase_value(section[key], f"{where}.{key}")
                 for key in ("max_tokens_increase", "max_latency_p95_increase")}
    return BenchmarkPolicy(section.get("metric"), direction, fractions["max_drop"], tier,
                           fractions["max_relative_drop"], **increases)


def policy_from_recipe(recipe: dict[str, Any], where: str) -> dict[str, BenchmarkPolicy]:
    benchmarks = recipe.get("benchmarks") or {}
    return {name: parse_gate(section["gate"], f"{where}: benchmarks.{name}.gate")
            for name, section in benchmarks.items() if isinstance(section, dict) and section.get("gate") is not None}


def inconclusive_mode(value: Any, where: str) -> str:
    mode = str(value)
    if mode not in INCONCLUSIVE_MODES:
        raise PolicyError(f"{where} must be one of {', '.join(INCONCLUSIVE_MODES)}, got {value!r}")
    return mode


def correction_method(value: Any, where: str) -> str:
    method = str(value)
    if method not in CORRECTIONS:
        raise PolicyError(f"{where} must be one of {', '.join(CORRECTIONS)}, got {value!r}")
    return method
