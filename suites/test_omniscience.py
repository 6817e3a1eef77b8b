"""AA-Omniscience: knowledge questions across six domains, graded by a judge that also rewards abstaining.

Data: ArtificialAnalysis/AA-Omniscience-Public (train split, its only one; fields question_id, domain, topic,
question, answer), all rows (NeMo Skills' `text` split). As the published `ns_omniscience` (NeMo Evaluator's
Nemotron 3 Super config, `++parse_reasoning=False`: the served reply, whose reasoning the server already
split off): NeMo Skills' `eval/aai/omni` prompt, the `judge/aa-omni-judge` judge (gemini-3-flash-preview in the
published run) at temperature 0, grades A-D. Metrics: accuracy (share of A), omniscience_index (A - B) / all and
hallucination_rate B / (B + C + D), each with its 95 % interval (pytest_nemoeval/tasks/omniscience).
"""

from pytest_nemoeval import HubDataset, Response, Suite
from pytest_nemoeval.tasks.omniscience import GRADES, JUDGE_OPTIONS, judge_messages, metrics, parse_grade, prompt


async def answer_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text
    judged = await chat(judge_messages(sample["question"], sample["answer"], answer), lane="judge", **JUDGE_OPTIONS)
    return {**reply, "judge": judged.get("content")}


suite = Suite(
    name="omniscience",
    data=HubDataset("ArtificialAnalysis/AA-Omniscience-Public", split="train"),  # not pinned: none checked here
    required_fields=("question_id", "domain", "topic", "question", "answer"),
    prompt=prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=1,
    primary_metric="accuracy",
    category_field="domain",
    metrics=[metrics],
    id_field="question_id",
    driver=answer_and_judge,
    judge="gemini-3-flash-preview",  # the published ns_omniscience's judge
)


def test_omniscience(sample, response, verdict):
    grade = parse_grade(response.body["judge"])
    verdict(grade == "A", answer=response.text, expected=sample["answer"], judge=response.body["judge"],
            grade=GRADES.get(grade or ""), category=sample["domain"], metric_inputs={"grade": grade})
