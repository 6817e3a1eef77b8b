"""The sequential test of `--until-decided`: a group-sequential design over looks (the run, then each extra repeat
of an undecided benchmark's samples), whose boundaries spend the one-sided error alpha of each side (GO and NO-GO)
over the looks with a Lan-DeMets alpha-spending function, so that looking again after each extra repeat keeps the
error rate at alpha (no peeking).

Spending functions (Lan & DeMets 1983, "Discrete sequential boundaries for clinical trials", Biometrika 70(3),
659-663; the Pocock type as Kim & DeMets 1987, Biometrics 43(4), 857-864), for a one-sided alpha at information
fraction t in (0, 1]:
    O'Brien-Fleming type  alpha(t) = 2 - 2 * Phi(z_{1 - alpha/2} / sqrt(t))
    Pocock type           alpha(t) = alpha * ln(1 + (e - 1) * t)
The boundary c_k of look k solves P(Z_1 < c_1, ..., Z_{k-1} < c_{k-1}, Z_k >= c_k) = alpha(t_k) - alpha(t_{k-1})
under no change, where the Z_k are the canonical joint normal statistics (Z_k * sqrt(t_k) a Brownian motion at
t_k); computed by the recursive numerical integration of Armitage, McPherson & Rowe (1969), as in Jennison &
Turnbull (2000), "Group Sequential Methods with Applications to Clinical Trials", chapter 19.

The statistic of a look is the gate's own: z = (delta + max_drop) / stderr of the paired per-sample differences
(the sign of delta flipped for a lower-is-better metric): GO when z >= c_k, NO-GO when z <= -c_k. The information
fractions are the planned ones, t_k = (repeats + k) / (repeats + max extra repeats): the candidate's repeats per
sample. The true information grows more slowly (the baseline's noise and the samples' spread do not shrink), so
the looks are more correlated than planned, and by Slepian's inequality the error is then at most alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any, Callable

from pytest_nemoeval.compare.stats import ALPHA_ONE_SIDED, GO, INCONCLUSIVE, NO_GO, PairedDelta

SPENDING = ("pocock", "obrien-fleming")
_NORMAL = NormalDist()
_STEPS_PER_SD = 40  # grid points per standard deviation of the smallest increment between two looks
_TAIL = 9.0  # the grid reaches this many standard deviations below zero


def spent(t: float, alpha: float, spending: str) -> float:
    """The error spent up to information fraction t (Lan-DeMets; see the module docstring)."""
    if t <= 0:
        return 0.0
    if spending == "obrien-fleming":
        return min(alpha, 2 - 2 * _NORMAL.cdf(_NORMAL.inv_cdf(1 - alpha / 2) / math.sqrt(t)))
    if spending == "pocock":
        return min(alpha, alpha * math.log(1 + (math.e - 1) * t))
    raise ValueError(f"unknown spending function {spending!r} (known: {', '.join(SPENDING)})")


@lru_cache(maxsize=64)
def boundaries(fractions: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    """One-sided boundaries c_1..c_K (Z scale) of looks at these increasing information fractions."""
    import numpy as np

    found: list[float] = []
    # the sub-density of the score S = Z sqrt(t) over the paths not stopped yet, on a grid (none before look 1)
    grid, density = np.zeros(0), np.zeros(0)
    previous_t, previous_spent = 0.0, 0.0
    increments = [b - a for a, b in zip((0.0, *fractions), fractions)]
    step = math.sqrt(min(increments)) / _STEPS_PER_SD
    for t in fractions:
        target = spent(t, alpha, spending) - previous_spent
        sd = math.sqrt(t - previous_t)
        weights = density * _trapezoid(grid) if len(grid) else None
        bound = _solve(lambda c, w=weights, g=grid, t=t, sd=sd: _crossing(c, t, sd, g, w), target)
        found.append(bound)
        top = _TAIL * math.sqrt(t) if math.isinf(bound) else bound * math.sqrt(t)  # inf: nothing stops here
        points = max(2, math.ceil((top + _TAIL * math.sqrt(t)) / step) + 1)
        new_grid = np.linspace(-_TAIL * math.sqrt(t), top, points)
        if weights is None:
            density = np.exp(-new_grid ** 2 / (2 * t)) / math.sqrt(2 * math.pi * t)
        else:  # S_k = S_{k-1} + an independent normal increment of variance t_k - t_{k-1}
            kernel = np.exp(-(new_grid[:, None] - grid[None, :]) ** 2 / (2 * sd * sd)) / (sd * math.sqrt(2 * math.pi))
            density = kernel @ weights
        grid = new_grid
        previous_t, previous_spent = t, previous_spent + target
    return tuple(found)


def _crossing(c: float, t: float, sd: float, grid: Any, weights: Any) -> float:
    """P(not stopped before, Z >= c at this look): at the first look (no weights) the normal tail."""
    if weights is None:
        return 1 - _NORMAL.cdf(c)
    return float(weights @ _upper_tail((c * math.sqrt(t) - grid) / sd))


def _trapezoid(grid: Any) -> Any:
    import numpy as np

    if len(grid) == 0:
        return grid
    weights = np.full(len(grid), grid[1] - grid[0])
    weights[0] = weights[-1] = (grid[1] - grid[0]) / 2
    return weights


def _upper_tail(x: Any) -> Any:
    import numpy as np

    return np.fromiter((0.5 * math.erfc(value / math.sqrt(2)) for value in x), float, len(x))


def _solve(crossing: Callable[[float], float], target: float) -> float:
    """The c with crossing(c) = target (crossing decreases in c), by bisection; inf when nothing is to be spent."""
    if target <= 1e-15:
        return math.inf
    low, high = -10.0, 40.0
    for _ in range(50):  # 50 / 2^50: far below what the integration resolves
        middle = (low + high) / 2
        if crossing(middle) > target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass(frozen=True)
class Design:
    """The looks of one benchmark: after the run (look 0) and after each of up to `extra` extra repeats."""

    repeats: int  # the run's repeats per sample
    extra: int  # the most extra repeats (--max-extra-repeats)
    alpha: float  # one-sided, per side (GO and NO-GO)
    spending: str

    @property
    def fractions(self) -> tuple[float, ...]:
        total = self.repeats + self.extra
        return tuple((self.repeats + k) / total for k in range(self.extra + 1))

    @property
    def boundaries(self) -> tuple[float, ...]:
        return boundaries(self.fractions, self.alpha, self.spending)

    def as_dict(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "spending": self.spending, "looks_planned": self.extra + 1,
                "information_fractions": [round(t, 6) for t in self.fractions],
                "boundaries": [round(c, 6) for c in self.boundaries]}


def design(repeats: int, extra: int, spending: str = "pocock", family: int = 1) -> Design:
    """The design of a benchmark; `family` > 1: Bonferroni across that many critical benchmarks (the first step of
    Holm's correction, which the group-sequential boundaries cannot take afterwards)."""
    return Design(repeats, extra, ALPHA_ONE_SIDED / max(1, family), spending)


def z_statistic(delta: PairedDelta, max_drop: float, higher_is_better: bool = True) -> float:
    """The standardized distance of the change from -max_drop: positive on the GO side."""
    gain = delta.mean if higher_is_better else -delta.mean
    distance = gain + max_drop
    if delta.stderr == 0:
        return math.copysign(math.inf, distance) if distance else 0.0
    return distance / delta.stderr


def decide(z: float, look: int, plan: Design) -> str:
    """GO / NO-GO when z crosses look `look`'s boundary (0: the run itself), else INCONCLUSIVE (undecided: at a
    look before the last one, go on)."""
    bound = plan.boundaries[look]
    if z >= bound:
        return GO
    if z <= -bound:
        return NO_GO
    return INCONCLUSIVE


def sequential_verdict(delta: PairedDelta, max_drop: float, higher_is_better: bool,
                       record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The verdict of a candidate benchmark run with --until-decided (its results entry's `until_decided` record:
    the design and the look reached) and what the comparison reports of it."""
    plan = Design(int(record["repeats"]), int(record["max_extra_repeats"]), float(record["alpha"]),
                  str(record["spending"]))
    look = int(record["look"])
    z = z_statistic(delta, max_drop, higher_is_better)
    shown = {key: record[key] for key in ("look", "looks", "extra_repeats", "extra_requests", "decided_at", "stopped")
             if key in record}
    return decide(z, look, plan), {**shown, **plan.as_dict(), "z": z if math.isfinite(z) else None,
                                   "boundary": round(plan.boundaries[look], 6)}
