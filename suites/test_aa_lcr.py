"""AA-LCR: 100 questions over document sets of about 100K tokens, 16 repeats, judged CORRECT / INCORRECT.

As NeMo Skills' `aalcr` (pytest_nemoeval/tasks/aa_lcr): the documents and the question in its "BEGIN INPUT
DOCUMENTS ... START QUESTION" layout as the one user message (`generic/default`); the judge (`judge/aalcr`,
the published judge Qwen3-235B-A22B-Instruct-2507, non-reasoning, temperature 0; --judge-endpoint must serve
it, or --judge-model names another) gets the prompt as NeMo Skills gives it (its `question` is the whole
prompt), the official answer and the reply's final answer; pass@1 is averaged over the 16 repeats. An empty
reply is wrong and is not judged. Data: the hub's test split joined with the dataset's archive of extracted
texts (downloaded once into ~/.cache/pytest-nemoeval/aa_lcr); `--data-dir DIR`: DIR/aa_lcr.jsonl with the
documents joined (`documents`).
"""

from pytest_nemoeval import Response, Suite
from pytest_nemoeval.tasks.aa_lcr import AALCRFiles, construct_prompt, is_correct, judge_prompt


async def generate_and_judge(sample, chat):
    reply = await chat(chat.messages)
    answer = Response.from_body(reply).text
    if not answer.strip():  # aalcr_metrics.py: an empty generation is wrong, whatever a judge would say
        return {**reply, "judge": None}
    prompt = chat.messages[-1]["content"]
    judged = await chat([{"role": "user", "content": judge_prompt(prompt, sample["answer"], answer)}],
                        lane="judge", temperature=0.0)
    return {**reply, "judge": judged.get("content")}


suite = Suite(
    name="aa_lcr",
    data=AALCRFiles(),
    required_fields=("question_id", "document_category", "question", "answer", "documents"),
    prompt=lambda row: construct_prompt(row["documents"], row["question"]),
    generation={"temperature": 0.0},
    repeats=16,
    primary_metric="pass@1",
    id_field="question_id",
    category_field="document_category",
    driver=generate_and_judge,
    judge="Qwen/Qwen3-235B-A22B-Instruct-2507",
)


def test_aa_lcr(sample, response, verdict):
    correct = is_correct(response.body.get("judge"))
    verdict(correct, answer=response.text or None, expected=sample["answer"], judge=response.body.get("judge"))
