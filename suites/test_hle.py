"""Humanity's Last Exam: the text-only questions of cais/hle (test split), graded by a judge model.

Data: cais/hle (gated: accept its terms on the hub and export HF_TOKEN); questions with an image are left
out, as NeMo Skills' dataset/hle/prepare.py does. Prompt: NeMo Skills `generic/hle` (the official answer
format as the system message). Grading, as the published `ns_hle`: NeMo Skills' `judge/hle` prompt to the
judge (--judge-endpoint, --judge-model) at temperature 0, its free-text `Judgement: yes/no` read as NeMo
Skills reads it; a judgement without a verdict is incorrect, and `judge_unparseable` says how many there
were. `benchmarks.hle.data.judge: official` judges with the official HLE prompt and structured verdict
instead (centerforaisafety/hle; a reply without a verdict is then an error). Metrics: accuracy, the
calibration error of the model's stated confidence (pytest_nemoeval/tasks/hle/calibration.py).
"""

from pytest_nemoeval import DataError, HubDataset, Response, Suite
from pytest_nemoeval.tasks.hle import JUDGES, judge_request, judgement_metrics, parse_judge_verdict, parse_judgement
from pytest_nemoeval.tasks.hle import calibration

SYSTEM = (
    "Your response should be in the following format:\n"
    "Explanation: {your explanation for your final answer}\n"
    "Answer: {your succinct, final answer}\n"
    "Confidence: {your confidence score between 0% and 100% for your answer}"
)


def judge_of(chat):
    return chat.data.get("judge", "nemo_skills")  # benchmarks.<this suite>.data.judge


async def generate_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text  # the answer, without the reasoning trace
    if not answer:  # cut off while thinking: nothing to judge
        return {**reply, "judge": None}
    judge = judge_of(chat)
    messages, options = judge_request(judge, sample["question"], answer, sample["answer"])
    judged = await chat(messages, lane="judge", **options)
    return {**reply, "judge": judged.get("content"), "judge_format": judge}


def keep(row, options):
    if options["judge"] not in JUDGES:
        raise DataError(f"hle: unknown judge '{options['judge']}' (known: {', '.join(JUDGES)})")
    return not row["image"]  # text-only


REVISION = "5a81a4c7271a2a2a312b9a690f0c2fde837e4c29"  # 2,500 test questions (see docs/fidelity.md)

suite = Suite(
    name="hle",
    data=HubDataset("cais/hle", split="test", revision=REVISION),
    data_options={"judge": "nemo_skills"},
    keep=keep,
    required_fields=("id", "question", "answer", "image"),
    prompt=lambda row: [{"role": "system", "content": SYSTEM}, {"role": "user", "content": row["question"]}],
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=1,
    primary_metric="accuracy",
    category_field="category",
    metrics=[calibration.metrics, judgement_metrics],
    id_field="id",
    driver=generate_and_judge,
    judge="gpt-4o",  # the published ns_hle's judge
)


def test_hle(sample, response, verdict):
    if response.body["judge"] is None:
        verdict(False, answer=None, expected=sample["answer"], judge=None,
                metric_inputs={"confidence": 100, "correct": False})
        return
    parse = parse_judge_verdict if response.body.get("judge_format") == "official" else parse_judgement
    judged = parse(response.body["judge"])
    verdict(judged["correct"], answer=judged["extracted_final_answer"], expected=sample["answer"],
            judge=response.body["judge"], category=sample.get("category"),
            metric_inputs={"confidence": judged["confidence"], "correct": judged["correct"],
                           "parsed": judged["parsed"]})
