"""Capitals: the worked example of docs/writing-a-suite.md; five countries, the capital asked for.

Data: a made-up dataset in the hub's layout (fields country, capital, region); docs/examples/data/capitals.jsonl
holds its rows for --data-dir. Scoring: the capital named in the last \\boxed{} of the reply (or, when there is
none, anywhere in the reply: a small model seldom boxes), without case.
"""

from pytest_nemoeval import HubDataset, Suite, last_boxed

suite = Suite(
    name="capitals",                                    # --data-dir reads DIR/capitals.jsonl
    data=HubDataset("my-org/capitals", split="test"),   # without --data-dir: loaded with `datasets`
    required_fields=("country", "capital", "region"),   # a row without them is one clear ERROR line
    prompt=lambda row: f"What is the capital of {row['country']}? Put only its name in \\boxed{{}}.",
    generation={"temperature": 0.0, "max_new_tokens": 64},
    repeats=1,
    primary_metric="pass@1",
    category_field="region",                            # results broken down by region
)


def test_capitals(sample, response, verdict):
    answer = last_boxed(response.text) or response.text.strip()
    verdict(sample["capital"].casefold() in answer.casefold(), answer=answer, expected=sample["capital"])
