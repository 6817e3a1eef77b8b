"""Humanity's Last Exam: the text-only questions of cais/hle (test split), graded by a judge model.

Data: cais/hle (gated: accept its terms on the hub and export HF_TOKEN); questions with an image are left
out, as NeMo Skills' dataset/hle/prepare.py does. Prompt: NeMo Skills `generic/hle` (the official answer
format as the system message). Grading: the official judge prompt and structured verdict
(centerforaisafety/hle, hle_eval/run_judge_results.py): the judge (--judge-endpoint, --judge-model) is asked
for a JSON object {extracted_final_answer, reasoning, correct: yes/no, confidence}; a reply without a
yes/no verdict is an error, never "incorrect". Metrics: accuracy, and the official calibration error of the
model's stated confidence (pytest_nemoeval/tasks/hle/calibration.py).
"""

from pytest_nemoeval import HubDataset, Response, Suite
from pytest_nemoeval.tasks.hle import JUDGE_MAX_TOKENS, JUDGE_PROMPT, VERDICT_FORMAT, parse_judge_verdict
from pytest_nemoeval.tasks.hle import calibration

SYSTEM = (
    "Your response should be in the following format:\n"
    "Explanation: {your explanation for your final answer}\n"
    "Answer: {your succinct, final answer}\n"
    "Confidence: {your confidence score between 0% and 100% for your answer}"
)


async def generate_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text  # the answer, without the reasoning trace
    if not answer:  # cut off while thinking: nothing to judge
        return {**reply, "judge": None}
    prompt = JUDGE_PROMPT.format(question=sample["question"], response=answer, correct_answer=sample["answer"])
    judged = await chat([{"role": "user", "content": prompt}], lane="judge", max_new_tokens=JUDGE_MAX_TOKENS,
                        temperature=0.0, response_format=VERDICT_FORMAT)  # a deterministic judge
    return {**reply, "judge": judged.get("content")}


suite = Suite(
    name="hle",
    data=HubDataset("cais/hle", split="test"),
    keep=lambda row, options: not row["image"],  # text-only
    required_fields=("id", "question", "answer", "image"),
    prompt=lambda row: [{"role": "system", "content": SYSTEM}, {"role": "user", "content": row["question"]}],
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=1,
    primary_metric="accuracy",
    metrics=[calibration.metrics],
    id_field="id",
    driver=generate_and_judge,
    judge=True,
)


def test_hle(sample, response, verdict):
    if response.body["judge"] is None:
        verdict(False, answer=None, expected=sample["answer"], judge=None,
                metric_inputs={"confidence": 100, "correct": False})
        return
    judged = parse_judge_verdict(response.body["judge"])
    verdict(judged["correct"], answer=judged["extracted_final_answer"], expected=sample["answer"],
            judge=response.body["judge"], category=sample.get("category"),
            metric_inputs={"confidence": judged["confidence"], "correct": judged["correct"]})
