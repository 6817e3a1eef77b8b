"""MMLU as NeMo Evaluator's `adlr_mmlu` runs it on base models: 5-shot, two greedy tokens, exact match.

Task: `mmlu_str` of NVIDIA's nvidia-lm-eval 26.3 (lm_eval/tasks/mmlu/str_default), run by the `adlr_mmlu`
type with --num_fewshot 5 and gen_kwargs temperature 0, top_p 1e-05: the prompt of lm-eval's MMLU (subject
description, the subject's first 5 dev questions with their letters, the question and "Answer:") sent as a raw
completion; `max_gen_toks` 2, `until` the few-shot delimiter "\\n\\n". The reply is filtered as the task's
filter_list does (leading whitespace off, the first character by the regex "(.).*", "[invalid]" when there is
none) and must equal the letter. exact_match over all questions (the group's weight_by_size), with the four
groups and every subject. The instruction line in the YAML is only added with --add_instruction, which NeMo
Evaluator does not pass. The log-likelihood form is suites/test_mmlu_logits.py.
"""

import re

from pytest_nemoeval import Suite
from pytest_nemoeval.harness import HarnessTask
from pytest_nemoeval.tasks import mmlu

task = HarnessTask(text=mmlu.text, target=lambda row: mmlu.LETTERS[int(row["answer"])],
                   description=mmlu.description, fewshot=mmlu.FEWSHOT)

suite = Suite(
    name="mmlu",
    harness=task,
    **mmlu.dataset_fields(),
    generation={"temperature": 0.0, "top_p": 1e-05, "max_new_tokens": 2, "stop": ["\n\n"]},
    primary_metric="exact_match",
    metrics=(mmlu.exact_match, mmlu.group_metrics),
)


def letter(reply):
    """filter_list: remove_whitespace, then regex "(.).*" group 0, fallback "[invalid]"."""
    found = re.findall("(.).*", reply.lstrip())
    return found[0].strip() if found else "[invalid]"


def test_mmlu(sample, response, verdict):
    answer, expected = letter(response.text), task.target(sample)
    verdict(answer == expected, answer=answer, expected=expected, metric_inputs=mmlu.subject_of(sample))
