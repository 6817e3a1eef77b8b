"""Arena-Hard v2: 750 prompts (500 hard prompts, 250 creative writing), the model's answer judged against a
baseline model's answer, in both orders.

Data: lmarena/arena-hard-auto data/arena-hard-v2.0, each question with its category's baseline answer
(hard_prompt: o3-mini-2025-01-31, creative_writing: gemini-2.0-flash-001), as NeMo Skills'
dataset/arena-hard-v2/prepare.py writes them (the `--data-dir` file holds those rows: uid, category,
subcategory, question, baseline_answer). Prompt: the question as the only message (NeMo Skills
`generic/default`). Grading, as the published `ns_arena_hard_v2`: the judge (--judge-endpoint, --judge-model;
the published judge is gpt-4.1) gets arena-hard-auto's prompt for the category twice, the answer as A then as B,
and its `[[A>>B]]`-style label is read as NeMo Skills reads it. Score: the win rate against the baseline
(Bradley-Terry, 95 % bootstrap interval, pytest_nemoeval/tasks/arena_hard/score.py), overall and per category.
"""

import asyncio

from pytest_nemoeval import Response, Suite
from pytest_nemoeval.tasks.arena_hard import JUDGE_OPTIONS, ArenaHardFiles, check_category, judge_requests
from pytest_nemoeval.tasks.arena_hard import judge_verdict, score


async def generate_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text  # without the reasoning trace; an empty answer is judged too
    judged = await asyncio.gather(*(chat(messages, lane="judge", **JUDGE_OPTIONS)
                                    for messages in judge_requests(sample, answer)))
    return {**reply, "judgements": [judgement.get("content") for judgement in judged]}


suite = Suite(
    name="arena_hard_v2",
    data=ArenaHardFiles(),
    keep=check_category,
    required_fields=("uid", "category", "question", "baseline_answer"),
    prompt=lambda row: row["question"],
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=1,
    primary_metric="win_rate",
    metrics=[score.metrics],
    failed_inputs=lambda row: {"category": row["category"]},  # an item that errored: a loss (score.py)
    id_field="uid",
    driver=generate_and_judge,
    judge="gpt-4.1",  # ns_arena_hard_v2's judge
)


def test_arena_hard_v2(sample, response, verdict):
    games = [judge_verdict(judgement) for judgement in response.body["judgements"]]
    won, _ = score.battles([tuple(games)])  # the item's battles: it counts as won when most are the model's
    verdict(bool(won) and sum(won) / len(won) > 0.5, answer="/".join(str(game) for game in games),
            expected=None, judge=response.body["judgements"], category=sample["category"],
            metric_inputs={"category": sample["category"], "games": games})
