"""MATH-500 as Artificial Analysis runs it: NeMo Evaluator's `AA_math_test_500` (nvidia-simple-evals).

Data: HuggingFaceH4/MATH-500 (test split; fields problem, solution, answer, subject, level, unique_id). As the
published task (NeMo Evaluator's Nemotron 3 Super config: `n_samples: 5`, the judge keyed by NGC_API_KEY): the
harness's AA boxed template, its last-\\boxed{} regex, then its sympy equivalence and, only where sympy does
not find the answers equal, its equality-checker judge (meta/llama-3.3-70b-instruct at temperature 0). All of it
is the harness's own code and files (pytest_nemoeval/tasks/math500_aa.py). Each item records which grader
decided (`decided_by`: sympy, judge, none), and `decided_by_sympy`/`decided_by_judge` give the shares.
"""

from pytest_nemoeval import HubDataset, Response, Suite
from pytest_nemoeval.tasks import math500_aa


async def answer_and_grade(sample, chat):
    reply = await chat(chat.messages)
    extracted = math500_aa.extract(Response.from_body(reply).text)
    judged = []

    async def ask_judge(messages):
        judged.append((await chat(messages, lane="judge", **math500_aa.judge_options())).get("content") or "")
        return judged[-1]

    equal, decided_by = await math500_aa.grade(str(sample["answer"]), extracted, ask_judge)
    return {**reply, "extracted": extracted, "equal": equal, "decided_by": decided_by,
            "judge": judged[-1] if judged else None}


suite = Suite(
    name="math500_aa",
    data=HubDataset("HuggingFaceH4/MATH-500", split="test"),  # not pinned: no revision could be checked here
    required_fields=("problem", "answer"),
    prompt=math500_aa.prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=5,
    primary_metric="pass@1",
    requires={"simple_evals": "pytest-nemoeval[math500]"},
    metrics=[math500_aa.metrics],
    id_field="unique_id",
    driver=answer_and_grade,
    judge="meta/llama-3.3-70b-instruct",  # the harness's llama70b judge, the published run's
)


def test_math500_aa(sample, response, verdict):
    body = response.body
    verdict(body["equal"], answer=body["extracted"] or None, expected=str(sample["answer"]),
            decided_by=body["decided_by"], judge=body["judge"], metric_inputs={"decided_by": body["decided_by"]})
