"""lm-evaluation-harness task definitions: few-shot prompts, log-likelihood requests and their scores.

A base-model suite declares `harness=HarnessTask(...)` with the harness task's own fields (`doc_to_text`,
`doc_to_choice`, `doc_to_target`, `description`, delimiters, few-shot split and sampler). The prompt is then
built as lm-evaluation-harness 0.4 builds it (lm_eval/api/task.py `fewshot_context`, `construct_requests`;
lm_eval/api/samplers.py `ContextSampler.get_context`), and scored as its `process_results` does:

- few-shot context: the description, then each example as text + target_delimiter + target + fewshot_delimiter,
  then the sample's text;
- examples: `first_n` takes the first n rows of the few-shot split (of the sample's group, e.g. MMLU's subject);
  the default sampler draws `random.Random(1234).sample(examples, n)` once per sample in dataset order, from
  one stream (the harness seeds it once per task, `fewshot_random_seed` 1234), so --limit-samples keeps each
  sample's examples;
- multiple choice: one (context, target_delimiter + choice) request per choice; with `multiple_input`
  (Winogrande's partial evaluation) one (context + choice, target_delimiter + target) per choice;
- acc: the choice with the highest summed log-likelihood (first one on ties, as numpy.argmax); acc_norm: the
  highest log-likelihood divided by the choice's length in characters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from pytest_nemoeval.data import DataSource
from pytest_nemoeval.metrics import SampleOutcome, summarize
from pytest_nemoeval.scoring import Response

Row = dict[str, Any]
FEWSHOT_SEED = 1234  # lm_eval.evaluator.simple_evaluate(fewshot_random_seed=1234)


@dataclass(frozen=True)
class FewShot:
    """Where a task's examples come from (`source`, or DIR/<suite>.fewshot.jsonl with --data-dir) and how many."""

    source: DataSource
    shots: int
    sampler: str = "default"  # lm-eval's samplers: "default" (seeded stream) or "first_n"
    group: str | None = None  # examples only from rows with the sample's value of this field (a subject)
    # draw shots + 1 and drop the sample itself: the harness does so when fewshot_split == test_split, which
    # holds when neither is set (HellaSwag, Winogrande), and the extra draw moves the seeded stream on
    draw_extra: bool = False
    seed: int = FEWSHOT_SEED

    def __post_init__(self) -> None:
        if self.sampler not in ("default", "first_n"):
            raise ValueError(f"unknown few-shot sampler {self.sampler!r} (known: default, first_n)")

    def choose(self, rows: Sequence[Row], examples: Sequence[Row]) -> list[list[int]]:
        """The indices into `examples` of every row's examples, in row order (one seeded stream)."""
        stream = random.Random(self.seed)
        by_group: dict[Any, list[int]] = {}
        for index, example in enumerate(examples):
            by_group.setdefault(example.get(self.group) if self.group else None, []).append(index)
        chosen = []
        for row in rows:
            pool = by_group.get(row.get(self.group) if self.group else None, [])
            if len(pool) < self.shots:
                raise ValueError(f"{self.shots} examples needed, the few-shot split has {len(pool)}"
                                 + (f" for {self.group} {row.get(self.group)!r}" if self.group else ""))
            if self.sampler == "first_n":
                chosen.append(pool[:self.shots])
            elif self.draw_extra:  # `[x for x in sample(docs, n + 1) if x != doc][:n]` (samplers.get_context)
                drawn = stream.sample(pool, self.shots + 1)
                chosen.append([index for index in drawn if examples[index] != row][:self.shots])
            else:
                chosen.append(stream.sample(pool, self.shots))
        return chosen


@dataclass(frozen=True)
class HarnessTask:
    """One lm-evaluation-harness task. `text(row)` is doc_to_text, `choices(row)` doc_to_choice, `target(row)`
    doc_to_target (an index into the choices, or a string for a generative task or Winogrande's shared
    continuation); `description` is a string or a function of the row."""

    text: Callable[[Row], Any]
    target: Callable[[Row], Any]
    choices: Callable[[Row], list[str]] | None = None
    description: str | Callable[[Row], str] = ""
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    fewshot: FewShot | None = None
    multiple_input: bool = False  # doc_to_text gives the gold index and the choices are the contexts

    @property
    def generative(self) -> bool:
        return self.choices is None

    def context(self, row: Row, examples: Sequence[Row] = ()) -> str:
        """The prompt: description, examples, then the sample (without its text when multiple_input)."""
        description = self.description(row) if callable(self.description) else self.description
        shown = "".join(self._example(example) for example in examples)
        if self.multiple_input:
            return description + shown
        text = self.text(row)
        return description + shown + (text if isinstance(text, str) else self._choices(row)[text])

    def _example(self, example: Row) -> str:
        text, target = self.text(example), self.target(example)
        shown = text if isinstance(text, str) else self._choices(example)[text]
        if target != "":
            if isinstance(target, list):
                target = target[0]
            shown += self.target_delimiter + (target if isinstance(target, str) else self._choices(example)[target])
        return shown + self.fewshot_delimiter

    def requests(self, row: Row, examples: Sequence[Row] = ()) -> list[tuple[str, str]]:
        """The (context, continuation) pairs whose log-likelihoods score the row, one per choice."""
        context = self.context(row, examples)
        if self.multiple_input:
            continuation = self.target_delimiter + str(self.target(row))
            return [(context + choice, continuation) for choice in self._choices(row)]
        return [(context, self.target_delimiter + choice) for choice in self._choices(row)]

    def gold(self, row: Row) -> int:
        return int(self.text(row) if self.multiple_input else self.target(row))

    def _choices(self, row: Row) -> list[str]:
        if self.choices is None:
            raise TypeError("a generative task has no choices")
        return self.choices(row)


def scores(task: HarnessTask, row: Row, loglikelihoods: Sequence[float]) -> dict[str, Any]:
    """process_results of a multiple-choice task: predicted index by acc and by acc_norm, and both verdicts."""
    lengths = [float(len(choice)) for choice in (task.choices(row) if task.choices else [])]
    if len(lengths) != len(loglikelihoods):
        raise ValueError(f"{len(loglikelihoods)} log-likelihoods for {len(lengths)} choices")
    gold = task.gold(row)
    pred = _argmax(loglikelihoods)
    pred_norm = _argmax([value / length for value, length in zip(loglikelihoods, lengths)])
    return {"pred": pred, "pred_norm": pred_norm, "gold": gold, "acc": pred == gold, "acc_norm": pred_norm == gold}


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda index: (values[index], -index))


def multiple_choice_verdict(task: HarnessTask, row: Row, response: Response) -> dict[str, Any]:
    """The keyword arguments of `verdict(**...)` for a multiple-choice item: correct by acc, acc_norm as a
    metric input (see `acc_metrics`), and the log-likelihoods in samples.jsonl."""
    loglikelihoods = response.body.get("loglikelihoods")
    if not isinstance(loglikelihoods, list):
        raise ValueError("the response has no log-likelihoods (is this a log-likelihood item?)")
    scored = scores(task, row, [float(value) for value, _greedy in loglikelihoods])
    return {"correct": scored["acc"], "answer": scored["pred"], "expected": scored["gold"],
            "metric_inputs": {"acc_norm": scored["acc_norm"]}, "pred_norm": scored["pred_norm"],
            "loglikelihoods": [round(float(value), 6) for value, _greedy in loglikelihoods],
            "is_greedy": [bool(greedy) for _value, greedy in loglikelihoods]}


def acc_metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """lm-evaluation-harness's names: acc (= accuracy) and acc_norm; an item that errored counts as wrong."""
    acc_norm = [sum(bool(inputs and inputs.get("acc_norm")) and error is None
                    for inputs, error in zip(outcome.inputs, outcome.errors)) / len(outcome.correct)
                for outcome in outcomes]
    return {"acc": summarize([sum(outcome.correct) / len(outcome.correct) for outcome in outcomes]),
            "acc_norm": summarize(acc_norm)}
