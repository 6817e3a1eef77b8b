"""BFCL v3: function calling through the OpenAI tools API, graded by the official bfcl-eval checkers.

Data: bfcl-eval's bfcl_eval/data (single-turn non-live and live, multi-turn; 4,441 entries); one item per
entry and repeat, its id naming the entry (`-k "bfcl_v3 and multi_turn"` selects categories).
Settings: NeMo Skills' published recipe (temperature 0.6, top_p 0.95, server-side tool parsing).
Score: the v3 leaderboard's overall (see pytest_nemoeval/tasks/bfcl/scores.py), per category and per group.
"""

from pytest_nemoeval import Suite
from pytest_nemoeval.tasks.bfcl import BfclData, converse, failed_inputs, item_label, prompt, score, skip
from pytest_nemoeval.tasks.bfcl.scores import bfcl_v3

suite = Suite(
    name="bfcl_v3",
    data=BfclData("bfcl_v3"),
    required_fields=("id", "category", "question", "function"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95},
    repeats=1,
    primary_metric="overall",
    per_sample={"overall": "category_weights"},  # compared with a baseline entry by entry, each weighted
    category_field="category",
    metrics=[bfcl_v3],
    failed_inputs=failed_inputs,
    id_field="id",
    driver=converse,
    item_label=item_label,
    skip=skip,
)


def test_bfcl_v3(sample, response, verdict):
    score(sample, response, verdict)
