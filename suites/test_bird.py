"""BIRD (dev, 1,534 questions on 11 SQLite databases, CC BY-SA 4.0): text-to-SQL graded by executing the SQL.

As NeMo Skills runs it (dataset `birdbench`, evaluator `bird`; pytest_nemoeval/tasks/bird/ names the commits).
Data: dev.zip from the BIRD site, downloaded once into ~/.cache/pytest-nemoeval/bird (progress shown, sha256
recorded, never downloaded again) and prepared there as NeMo Skills' prepare.py does: one row per question with
the database's schema dump (INSERT runs cut to 10 lines; no evidence field). `--data-dir DIR` reads
DIR/bird.jsonl (rows as prepare.py writes them: question, gt_sql, sql_context, difficulty, db_id, id) and the
databases from DIR/bird/dev_databases/<db_id>/<db_id>.sqlite.
Prompt: `generic/text_to_sql` (a system message asking for a ```sql block; the question and the dump).
Grading: the last ```sql block of the answer, comments stripped and whitespace collapsed (`SELECT 1` without
one); it and the gold SQL run on the database, read-only, 30 s for both (`benchmarks.bird.data.timeout`),
memory bounded, in worker processes (one per core) off the event loop; correct when the two results are
equal as sets of rows.
Metric: accuracy, and by difficulty (simple / moderate / challenging). Generation: NeMo Skills' defaults for
the dataset (temperature 0.6, top_p 0.95, top_k 20, 10,000 tokens), 1 repeat.
"""

from pytest_nemoeval import DriverError, Response, Suite
from pytest_nemoeval.tasks.bird import BirdDev, database_path, databases_dir, extract_sql, prompt
from pytest_nemoeval.tasks.bird.execution import TIMEOUT, shared_pool


async def generate_and_execute(sample, chat):
    reply = await chat(chat.messages)
    sql = extract_sql(Response.from_body(reply).text)  # the answer without the reasoning trace, as `generation`
    database = database_path(databases_dir(chat.settings.get("data_dir")), sample["db_id"])
    if not database.is_file():  # a setup error, not the model's: the item errors (and -x stops)
        raise DriverError(f"no database {database} (BIRD's go in DIR/bird/dev_databases/<db>/<db>.sqlite)")
    timeout = float(chat.data.get("timeout", TIMEOUT))  # benchmarks.bird.data.timeout (++eval_config.timeout)
    execution = await shared_pool().compare(sql, sample["gt_sql"], str(database), timeout)
    return {**reply, "sql": sql, "execution": execution}


suite = Suite(
    name="bird",
    data=BirdDev(),
    data_options={"timeout": TIMEOUT},  # seconds for the predicted and the gold query together
    required_fields=("question", "gt_sql", "sql_context", "difficulty", "db_id", "id"),
    prompt=prompt,
    # dataset/birdbench/__init__.py GENERATION_ARGS
    generation={"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_new_tokens": 10000},
    repeats=1,
    primary_metric="accuracy",
    category_field="difficulty",
    id_field="id",
    driver=generate_and_execute,
)


def test_bird(sample, response, verdict):
    execution = response.body["execution"]
    verdict(execution["correct"], answer=response.body["sql"], expected=sample["gt_sql"],
            execution=execution["status"], message=execution["message"], difficulty=sample["difficulty"])
