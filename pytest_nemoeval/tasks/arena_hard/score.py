"""Arena-Hard's score: the model's win rate against the baseline, with a bootstrap 95 % interval.

As NeMo Skills computes it (nemo_skills/evaluation/evaluator/arena.py `get_aggregate_score`, adapted from
arena-hard-auto show_result.py; metrics/arena_metrics.py for the categories):
- battles (`get_battles_from_judgment`, WEIGHT 3): per answer, the gen-base game then the base-gen game; a
  slight verdict is one battle, a significant one (>>) three, a tie one tie; any other label or none is
  invalid: no battle, counted in `invalid_scores`.
- rating (`compute_mle_elo`): a Bradley-Terry fit of candidate against baseline (logistic regression on the
  battles doubled, a tie a win in the first copy and a loss in the second), read back as the win rate against
  the anchored baseline (`predict_win_rate`). With two players that fit has a closed form: the win rate is
  (wins + ties / 2) / battles, which is what is computed here (tests/test_arena_hard.py checks it against the
  reference's code).
- interval (`get_bootstrap_result`): `np.random.seed(42)`, 100 rounds of `battles.sample(frac=1.0,
  replace=True)` (numpy's `choice(n, n)` on the global stream), the 2.5th and 97.5th percentiles of the ratings
  (Elo scale, linear interpolation) turned into win rates.
- categories: the overall score pools every battle (both baselines); with more than one category each also
  gets its own score.
Differences: values are fractions (the reference reports percent rounded to 2 decimals, the interval as
offsets); where every battle of a fit goes one way the reference's fit fails (one class), here the win rate is
0 or 1. An item that errored (generation or judge request failed) is a loss: both games at the baseline's
significant win, as an empty answer would be judged (NeMo Skills has no rule for it; its jobs stop instead).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from pytest_nemoeval.metrics import SampleOutcome

WEIGHT = 3
ROUNDS = 100
SEED = 42
EDGE = 1e-12
# label -> (battles, outcome for the model) in each game; the model is A in gen-base and B in base-gen
GEN_BASE = {"A>>B": (WEIGHT, 1.0), "A>B": (1, 1.0), "A=B": (1, 0.5), "B>A": (1, 0.0), "B>>A": (WEIGHT, 0.0)}
BASE_GEN = {"A>>B": (WEIGHT, 0.0), "A>B": (1, 0.0), "A=B": (1, 0.5), "B>A": (1, 1.0), "B>>A": (WEIGHT, 1.0)}
LOST = ("B>>A", "A>>B")  # an errored item's games


def battles(games: list[tuple[str | None, str | None]]) -> tuple[list[float], int]:
    """Each battle's outcome for the model (1 win, 0.5 tie, 0 loss) in the reference's order, and how many
    verdicts were invalid."""
    outcomes: list[float] = []
    invalid = 0
    for gen_base, base_gen in games:
        for label, table in ((gen_base, GEN_BASE), (base_gen, BASE_GEN)):
            if label not in table:
                invalid += 1
                continue
            count, outcome = table[label]
            outcomes.extend([outcome] * count)
    return outcomes, invalid


def win_rate(games: list[tuple[str | None, str | None]]) -> dict[str, Any]:
    """{"value", "ci95", "battles", "invalid_scores"} of these (gen-base, base-gen) verdict pairs."""
    import numpy as np

    outcomes, invalid = battles(games)
    if not outcomes:
        return {"value": 0.0, "ci95": [0.0, 0.0], "battles": 0, "invalid_scores": invalid}
    won = np.array(outcomes)
    rng = np.random.RandomState(SEED)  # the reference seeds numpy's global stream; same draws
    ratings = [_rating(won[rng.choice(len(won), size=len(won), replace=True)].mean()) for _ in range(ROUNDS)]
    low, high = (_share(float(np.percentile(ratings, q))) for q in (2.5, 97.5))
    return {"value": float(won.mean()), "ci95": [low, high], "battles": len(outcomes), "invalid_scores": invalid}


def _rating(share: float) -> float:
    """The model's Bradley-Terry rating on the Elo scale (baseline 0) for a share of the battles won; a share
    of 0 or 1 (no finite fit) is held just inside, so the interval's percentiles stay finite."""
    share = min(max(share, EDGE), 1 - EDGE)
    return 400 * math.log10(share / (1 - share))


def _share(rating: float) -> float:
    return 1 / (1 + 10 ** (-rating / 400))


def games_of(outcomes: list[SampleOutcome]) -> dict[str, list[tuple[str | None, str | None]]]:
    """Category -> the (gen-base, base-gen) verdicts of its items, an errored item's as a loss."""
    games: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
    for outcome in outcomes:
        for repeat, inputs in enumerate(outcome.inputs):
            if not inputs:
                continue
            pair = LOST if outcome.errored(repeat) else tuple(inputs["games"])
            games[inputs["category"]].append(pair)  # type: ignore[arg-type]
    return games


def metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """`win_rate` over every battle, `win_rate_<category>` per category (with more than one), and
    `judge_unparseable`: the share of judgements without a valid verdict (their battles are left out)."""
    by_category = games_of(outcomes)
    if not by_category:
        return {}
    pooled = [pair for pairs in by_category.values() for pair in pairs]
    result = {"win_rate": {**win_rate(pooled), "samples": len(outcomes)}}
    if len(by_category) > 1:
        for category, pairs in sorted(by_category.items()):
            result[f"win_rate_{category}"] = {**win_rate(pairs), "samples": len(pairs) // max(repeats, 1)}
    unparseable = result["win_rate"]["invalid_scores"]
    result["judge_unparseable"] = {"value": unparseable / (2 * len(pooled)), "count": unparseable,
                                   "of": 2 * len(pooled)}
    return result
