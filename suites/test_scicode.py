"""SciCode: scientific problems split into sub-steps (test split: 65 problems; the recipe's validation+test: 80).
The model writes each step's function given the code it wrote for the earlier steps, and each step's tests run
in the sandbox against the numeric targets of the official test data (test_data.h5, which `--data-dir` must
hold: see docs/suites/code.md).

Reference: NeMo Skills' `scicode` task (after scicode-bench/SciCode): prompt eval/scicode/default with the step
backgrounds, the first fenced Python block, 30 s per step's tests; metrics `subtask` (passed steps / all steps,
the model card's number) and `problem` (every step of the problem passed). Details: pytest_nemoeval/tasks/scicode/.
"""

import asyncio

from pytest_nemoeval import GenerationError, HubDataset, Response, Suite
from pytest_nemoeval.tasks import scicode

# NeMo Skills ScicodeEvaluatorConfig.timeout = 30 s for a step's tests (the whole program)
LIMITS = {"wall_seconds": 30.0, "cpu_seconds": 60, "memory_bytes": 4 * 2**30}


def prompt(row):
    return scicode.first_prompt(row)


async def run_tests(program):
    from pytest_nemoeval.sandbox import Limits, run_python

    result = await run_python(program, limits=Limits(**LIMITS))
    error = (result.stderr.strip().splitlines() or [""])[-1][:300]
    return {"status": result.status, "passed": result.status == "ok", "error": "" if result.status == "ok" else error}


async def solve_steps(sample, chat):
    """Generate the steps in order through `chat`; each step's tests run while the next step is generated."""

    test_data = scicode.targets_path(chat.settings)
    system = [message for message in chat.messages if message["role"] == "system"]
    codes, steps, runs, replies = [], [], [], []
    out_of_context = False
    try:
        for index, step in enumerate(sample["sub_steps"]):
            prefilled = scicode.PREFILLED.get((sample["problem_id"], index))
            if prefilled is not None:
                codes.append(prefilled)
                continue
            record = {"step": step["step_number"]}
            steps.append(record)
            if out_of_context:
                record.update(status="out of context", passed=False, error="earlier prompt exceeded the context")
                continue
            messages = system + [{"role": "user", "content": scicode.step_prompt(sample, index, codes)}]
            try:
                reply = await chat(messages)
            except GenerationError as exc:
                if not scicode.context_exceeded(exc):
                    raise
                out_of_context = True
                record.update(status="out of context", passed=False, error=str(exc)[:300])
                continue
            text = Response.from_body(reply).text  # the answer, without the reasoning trace
            code, fenced = scicode.extract_code(text)
            record["code_block"] = fenced
            replies.append(f"# step {step['step_number']}\n{text}")
            program = scicode.step_program(scicode.solution(sample, codes, code), step, test_data)
            runs.append((record, asyncio.ensure_future(run_tests(program))))
            codes.append(code)
    except BaseException:
        for _, run in runs:  # a failed request fails the item: stop its running tests too
            run.cancel()
        raise
    for record, run in runs:
        record.update(await run)
    return {"content": "\n\n".join(replies), "steps": steps}


REVISION = "4510f6a6aa27c43fad7b43da2c59602a86e88480"  # see docs/fidelity.md

suite = Suite(
    name="scicode",
    # recipe `data: {split: validation+test}` = NeMo Skills' default test_aai (80 problems, 338 steps)
    data=lambda options: HubDataset("SciCode1/SciCode", split=options["split"], revision=REVISION),
    data_options={"split": "test"},
    required_fields=("problem_id", "required_dependencies", "sub_steps"),
    prompt=prompt,
    generation={"temperature": 0.0, "max_new_tokens": 4096},
    repeats=8,
    primary_metric="subtask",
    metrics=[scicode.metrics],
    failed_inputs=scicode.failed_inputs,  # an item that errored passed none of its steps
    per_sample={"subtask": ("passed", "steps")},  # compared with a baseline as the ratio of these sums
    id_field="problem_id",
    driver=solve_steps,
    data_files={scicode.TEST_DATA: scicode.TEST_DATA_SOURCE},
    requires={"h5py": "pytest-nemoeval[scicode]"},  # what every step's test program imports
)


def test_scicode(sample, response, verdict):
    steps = response.body["steps"]
    passed = sum(step["passed"] for step in steps)
    verdict(passed == len(steps), answer=f"{passed}/{len(steps)} steps", expected=f"{len(steps)}/{len(steps)} steps",
            steps=steps, metric_inputs={"passed": passed, "steps": len(steps)})
