"""MMLU as lm-evaluation-harness runs it: prompt, subjects and their four groups, per-group scores.

Source: lm-evaluation-harness tasks/mmlu (default/ for the log-likelihood form, str_default/ in NVIDIA's
nvidia-lm-eval 26.3 for the generative `mmlu_str` that NeMo Evaluator's `adlr_mmlu` runs): the same
doc_to_text and per-subject description; 5 examples from the subject's dev split (first_n). The harness
reports each group (stem, humanities, social sciences, other) and the whole as the mean over questions
(aggregate_metric_list weight_by_size: True).
"""

from __future__ import annotations

from typing import Any

from pytest_nemoeval.data import HubDataset
from pytest_nemoeval.harness import FewShot
from pytest_nemoeval.metrics import SampleOutcome, summarize

LETTERS = ["A", "B", "C", "D"]
# lm-eval's dataset is hails/mmlu_no_train (the str form) or cais/mmlu (the default form), the same rows;
# config "all" holds every subject, in subject order
DATA = HubDataset("cais/mmlu", name="all", split="test")
FEWSHOT = FewShot(HubDataset("cais/mmlu", name="all", split="dev"), shots=5, sampler="first_n", group="subject")
REQUIRED = ("question", "subject", "choices", "answer")

GROUPS = {  # the `tag` of each subject's task YAML (mmlu_<group>_tasks)
    "stem": ["abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
             "college_computer_science", "college_mathematics", "college_physics", "computer_security",
             "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
             "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
             "high_school_physics", "high_school_statistics", "machine_learning"],
    "other": ["business_ethics", "clinical_knowledge", "college_medicine", "global_facts", "human_aging",
              "management", "marketing", "medical_genetics", "miscellaneous", "nutrition", "professional_accounting",
              "professional_medicine", "virology"],
    "social_sciences": ["econometrics", "high_school_geography", "high_school_government_and_politics",
                        "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
                        "human_sexuality", "professional_psychology", "public_relations", "security_studies",
                        "sociology", "us_foreign_policy"],
    "humanities": ["formal_logic", "high_school_european_history", "high_school_us_history",
                   "high_school_world_history", "international_law", "jurisprudence", "logical_fallacies",
                   "moral_disputes", "moral_scenarios", "philosophy", "prehistory", "professional_law",
                   "world_religions"],
}
GROUP_OF = {subject: group for group, subjects in GROUPS.items() for subject in subjects}


def description(row: dict[str, Any]) -> str:
    return f"The following are multiple choice questions (with answers) about {row['subject'].replace('_', ' ')}.\n\n"


def text(row: dict[str, Any]) -> str:
    """doc_to_text: "{{question.strip()}}\\nA. {{choices[0]}}\\nB. ...\\nAnswer:"."""
    options = "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, row["choices"]))
    return f"{row['question'].strip()}{options}\nAnswer:"


def subject_of(row: dict[str, Any]) -> dict[str, Any]:
    """The metric input every item (an errored one too) gives: its subject."""
    return {"subject": row["subject"]}


def dataset_fields() -> dict[str, Any]:
    """The Suite fields both MMLU forms share: their rows, the subject every item gives, its breakdown."""
    return {"data": DATA, "required_fields": REQUIRED, "failed_inputs": subject_of,
            "item_label": lambda row: row["subject"], "category_field": "subject"}


def exact_match(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """The generative form's metric, by the harness's name (the built-in accuracy under another name)."""
    return {"exact_match": summarize([sum(outcome.correct) / len(outcome.correct) for outcome in outcomes])}


def group_metrics(outcomes: list[SampleOutcome], repeats: int) -> dict[str, Any]:
    """Each group's score, the mean over its questions, as the harness reports it (each subject's is in the
    results' per-category breakdown: the suites' category_field)."""
    by_group: dict[str, list[float]] = {}
    for outcome in outcomes:
        subject = next((inputs["subject"] for inputs in outcome.inputs if inputs), None)
        if subject is not None:
            by_group.setdefault(GROUP_OF.get(subject, "other"), []).append(sum(outcome.correct) / len(outcome.correct))
    return {name: summarize(values) for name, values in sorted(by_group.items())}
