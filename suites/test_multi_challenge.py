"""MultiChallenge: 273 multi-turn conversations (4 axes: INFERENCE_MEMORY, INSTRUCTION_RETENTION,
SELF_COHERENCE, RELIABLE_VERSION_EDITING); the model writes the final assistant turn, a judge checks it.

Data: ekwinox117/multi-challenge data/benchmark_questions.jsonl at a pinned commit, fetched at run time (the
repository has no licence; examples/data holds made-up rows in its schema). The whole conversation is sent.
Grading as the benchmark's src/evaluator.py: its prompt with the response and the TARGET_QUESTION to
gpt-4o-2024-08-06 (the suite's judge; --judge-endpoint/--judge-model) at temperature 0 with the structured
JudgeResponse {reasoning, verdict} output; passed when the verdict equals PASS_CRITERIA. A reply that is no
YES/NO verdict fails the item and is counted in `judge_unparseable`.
Metrics (pytest_nemoeval/tasks/multi_challenge): `overall` = the mean of the 4 axis pass rates (each over its
conversations and the 8 repeats), `axis_<AXIS>`, and `overall_any_attempt` (the repository's score with
--attempts 8). 8 repeats, as the published Nemotron 3 Ultra configuration (the Super one is not public).
"""

from pytest_nemoeval import Response, Suite, VerdictError
from pytest_nemoeval.tasks.multi_challenge import (JUDGE_MODEL, JUDGE_OPTIONS, MultiChallengeFile, check_row,
                                                   judge_messages, metrics, parse_verdict)


async def generate_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text  # the final turn without the reasoning trace; an empty one is judged too
    judged = await chat(judge_messages(answer, sample["TARGET_QUESTION"]), lane="judge", **JUDGE_OPTIONS)
    return {**reply, "judge": judged.get("content")}


suite = Suite(
    name="multi_challenge",
    data=MultiChallengeFile(),
    keep=check_row,
    required_fields=("QUESTION_ID", "AXIS", "CONVERSATION", "TARGET_QUESTION", "PASS_CRITERIA"),
    prompt=lambda row: row["CONVERSATION"],
    generation={"temperature": 1.0, "top_p": 0.95},  # the published Nemotron runs' defaults (recipe generation)
    repeats=8,
    primary_metric="overall",
    category_field="AXIS",
    metrics=[metrics],
    failed_inputs=lambda row: {"axis": row["AXIS"]},  # an errored item: a failure of its axis
    id_field="QUESTION_ID",
    driver=generate_and_judge,
    judge=JUDGE_MODEL,
)


def test_multi_challenge(sample, response, verdict):
    try:
        judged = parse_verdict(response.body["judge"])
    except VerdictError:
        verdict(False, answer=None, expected=sample["PASS_CRITERIA"], judge=response.body["judge"],
                axis=sample["AXIS"], metric_inputs={"axis": sample["AXIS"], "parsed": False})
        return
    verdict(judged["verdict"] == sample["PASS_CRITERIA"], answer=judged["verdict"], expected=sample["PASS_CRITERIA"],
            judge=judged["reasoning"], axis=sample["AXIS"], metric_inputs={"axis": sample["AXIS"], "parsed": True})
