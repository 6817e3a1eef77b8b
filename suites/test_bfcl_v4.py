"""BFCL v4: function calling through the OpenAI tools API, graded by the official bfcl-eval checkers.

Data: bfcl-eval's bfcl_eval/data: the v3 categories plus web search and memory (agentic). One item per
entry and repeat, its id naming the entry (`-k "bfcl_v4 and multi_turn"` selects categories).
Memory (key-value and recursive summary backends): each scenario's prerequisite conversations run first, in
order, and its questions start from the memory they left. Web search runs with SERPAPI_API_KEY set (the
official backend, on the internet). Vector memory (needs an embedding model from the hub), and web search
without a key, are collected and skipped with their reason; the overall score says which categories it covers.
Settings: NeMo Skills' published recipe (max new tokens 8192, server-side tool parsing).
Score: the v4 leaderboard's weighted overall (see pytest_nemoeval/tasks/bfcl/scores.py), per category and per group.
"""

from pytest_nemoeval import Suite
from pytest_nemoeval.tasks.bfcl import BfclData, converse, failed_inputs, item_label, prompt, score, skip
from pytest_nemoeval.tasks.bfcl.scores import bfcl_v4

suite = Suite(
    name="bfcl_v4",
    data=BfclData("bfcl_v4"),
    required_fields=("id", "category", "question", "function"),
    prompt=prompt,
    generation={"max_new_tokens": 8192},
    repeats=1,
    primary_metric="overall",
    per_sample={"overall": "category_weights"},  # compared with a baseline entry by entry, each weighted
    category_field="category",
    metrics=[bfcl_v4],
    failed_inputs=failed_inputs,
    id_field="id",
    driver=converse,
    item_label=item_label,
    skip=skip,
)


def test_bfcl_v4(sample, response, verdict):
    score(sample, response, verdict)
