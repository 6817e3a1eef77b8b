"""IFBench: 294 prompts with 58 kinds of verifiable output constraints, zero-shot, 8 repeats.

Prompt: the row's prompt as the only user message (NeMo Skills `generic/default`, the `ns_ifbench` task).
Grading: IFBench's official instruction registry through `if-verifiable`, strict and loose
(pytest_nemoeval/tasks/ifbench.py); an item is correct when every instruction is followed (loose), so that
`accuracy` is the primary `prompt_loose` (NeMo Skills' pass@1[avg-of-8] prompt_loose_accuracy).
`words:start_verb` needs NLTK's tagger, which no package ships: it is fetched once into
~/.cache/pytest-nemoeval/nltk_data at collection; where that is impossible, those prompts are skipped with
the reason, and the metrics say how many samples they cover.
"""

import pytest

from pytest_nemoeval import HubDataset, Suite
from pytest_nemoeval.tasks.ifbench import UngradableInstruction, failed_inputs, follows, metrics, skip_reason

REVISION = "2e8a48de45ff3bf41242f927254ca81b59ca3ae2"  # see docs/fidelity.md

suite = Suite(
    name="ifbench",
    data=HubDataset("allenai/IFBench_test", split="train", revision=REVISION),
    required_fields=("key", "prompt", "instruction_id_list", "kwargs"),
    prompt=lambda row: row["prompt"],
    generation={"temperature": 0.0, "max_new_tokens": 4096},
    repeats=8,
    primary_metric="prompt_loose",
    metrics=[metrics],
    per_sample={"prompt_loose": "verdict"},  # the verdict is all(loose): a baseline compares it per item
    failed_inputs=failed_inputs,  # an item that errored followed none of its instructions
    id_field="key",
    requires={"if_verifiable": "pytest-nemoeval[ifbench]"},
    skip=skip_reason,  # words:start_verb (6 of 294 prompts) without NLTK's tagger: skipped, said in results
)


def test_ifbench(sample, response, verdict):
    try:
        strict, loose = follows(response.text, sample)
    except UngradableInstruction as error:
        pytest.fail(str(error), pytrace=False)
    failed = [instruction for instruction, ok in zip(sample["instruction_id_list"], loose) if not ok]
    followed = f"{sum(loose)}/{len(loose)} followed" if response.text.strip() else None  # empty: no answer
    verdict(all(loose), answer=followed, expected=sample["instruction_id_list"], strict=strict, loose=loose,
            failed=failed, metric_inputs={"strict": strict, "loose": loose})
