"""CritPt: 70 research-level physics problems whose answers are hidden; Artificial Analysis' API grades them.

Data: CritPt-Benchmark/CritPt (train split, its only one; fields problem_id, problem_description,
code_template, ...). As the published `ns_critpt` (NeMo Evaluator's Nemotron 3 Super config, 3 repeats): NeMo
Skills' two turns (solve under the CritPt system prompt, then fill the problem's code template) and its
submission, one batch of exactly 70 per repeat (pytest_nemoeval/tasks/critpt). The items are graded with the
whole run: each records its code (`ungraded`), and at the end of the run the batches go to the API with the key
in the variable --critpt-api-key-env names (default ARTIFICIAL_ANALYSIS_API_KEY). Without the key, or with fewer
than 70 problems (--limit-samples), or when the API fails, results.json reports the benchmark `unscored` with
the reason and keeps the answers: `python -m pytest_nemoeval grade RESULTS_DIR` grades them later (with
`--set critpt.api_key_env=VAR` to name another variable).
"""

from pytest_nemoeval import HubDataset, Response, Suite
from pytest_nemoeval.tasks import critpt


async def solve_then_fill_template(sample, chat):
    first = await chat(chat.messages)
    solution = Response.from_body(first).text
    second = await chat(chat.messages + [{"role": "assistant", "content": solution}, critpt.code_turn(sample)])
    return {**second, "solution": solution, "solution_tokens": first.get("completion_tokens")}


suite = Suite(
    name="critpt",
    data=HubDataset("CritPt-Benchmark/CritPt", split="train"),  # not pinned: no revision could be checked here
    required_fields=("problem_id", "problem_description", "code_template"),
    prompt=critpt.prompt,
    generation={"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 32768},
    repeats=3,
    primary_metric="accuracy",
    id_field="problem_id",
    driver=solve_then_fill_template,
    failed_inputs=lambda row: {"problem_id": row["problem_id"]},
    run_grader=critpt.run_grader,
)


def test_critpt(sample, response, verdict):
    code = critpt.generated_code(response.text)
    verdict(None, answer=code, solution=response.body["solution"],
            metric_inputs={"problem_id": sample["problem_id"], "code": code})
