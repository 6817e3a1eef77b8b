"""Agreement with lm-evaluation-harness on the same rows: prompts, log-likelihoods, predictions.

    python benchmarks/agreement.py reference LM_EVAL_OUTPUT_DIR > tests/data/lm_eval_reference.jsonl
    python benchmarks/agreement.py compare RESULTS_DIR [--reference FILE]

`reference` reads the harness's `--log_samples` files (samples_<task>_*.jsonl, the newest per task) and writes
one line per scored row of examples/data: our suite name, the row's index in examples/data/<suite>.jsonl, the
sha256 of the (context, continuation) pairs or the prompt the harness built, its log-likelihoods (or its
reply, for generative tasks) and predictions; the first two rows of each suite keep the strings themselves.
How the harness was run (its own environment, not a dependency of this project) is in tests/data/README.md.

`compare` reads a plugin run's samples.jsonl (same rows, same model) and prints, per suite, the share of rows
with identical predictions (acc and acc_norm) and the largest log-likelihood difference.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "data"
REFERENCE = ROOT / "tests" / "data" / "lm_eval_reference.jsonl"
SUITE_OF = [(re.compile(r"^mmlu_str_"), "mmlu"), (re.compile(r"^mmlu_"), "mmlu_logits"),
            (re.compile(r"^adlr_arc_challenge_llama$"), "arc_challenge"), (re.compile(r"^hellaswag$"), "hellaswag"),
            (re.compile(r"^openbookqa$"), "openbookqa"), (re.compile(r"^winogrande$"), "winogrande")]
KEPT_WHOLE = 2  # rows per suite whose strings are kept, for readable differences


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


def row_key(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def reference(output_dir: str) -> None:
    newest: dict[str, str] = {}
    for path in sorted(glob.glob(os.path.join(output_dir, "**", "samples_*.jsonl"), recursive=True)):
        task = re.sub(r"_\d{4}-\d\d-\d\dT[\d\-.]+\.jsonl$", "", os.path.basename(path)).removeprefix("samples_")
        newest[task] = path  # sorted: the newest of a task comes last
    lines: dict[str, list[dict]] = {}
    for task, path in sorted(newest.items()):
        suite = next((name for pattern, name in SUITE_OF if pattern.match(task)), None)
        if suite is None:
            continue
        ours = [json.loads(line) for line in (EXAMPLES / f"{suite}.jsonl").read_text().splitlines()]
        id_field = suite_module(suite).suite.id_field  # the harness logs ARC's docs with answerKey mapped to a letter
        index_of = {(row[id_field] if id_field else row_key(row)): index for index, row in enumerate(ours)}
        for line in Path(path).read_text().splitlines():
            sample = json.loads(line)
            doc = {key: value for key, value in sample["doc"].items() if key in ours[0]}  # processed docs add fields
            arguments = [[args["arg_0"], args["arg_1"]] for args in sample["arguments"].values()]
            entry = {"suite": suite, "task": task, "index": index_of[doc[id_field] if id_field else row_key(doc)]}
            if suite == "mmlu":  # generate_until: (prompt, generation kwargs); the reply and its filtered answer
                entry.update(prompt_sha256=digest(arguments[0][0]), reply=sample["resps"][0][0],
                             answer=sample["filtered_resps"][0], exact_match=sample["exact_match"])
                whole = {"prompt": arguments[0][0]}
            else:
                scored = [(float(value), value_is(greedy)) for value, greedy in sample["filtered_resps"]]
                entry.update(requests_sha256=digest(arguments), loglikelihoods=[value for value, _ in scored],
                             is_greedy=[greedy for _, greedy in scored], acc=sample["acc"],
                             acc_norm=sample.get("acc_norm"))
                whole = {"requests": arguments}
            lines.setdefault(suite, []).append((entry, whole))
    for suite in sorted(lines):
        for position, (entry, whole) in enumerate(sorted(lines[suite], key=lambda pair: pair[0]["index"])):
            print(json.dumps({**entry, **(whole if position < KEPT_WHOLE else {})}, ensure_ascii=False))


def value_is(text: object) -> bool:
    return str(text) == "True"


def compare(results_dir: str, reference_file: str) -> None:
    expected: dict[tuple[str, int], dict] = {}
    for line in Path(reference_file).read_text().splitlines():
        entry = json.loads(line)
        expected[(entry["suite"], entry["index"])] = entry
    print(f"{'suite':14} {'rows':>5} {'same acc':>9} {'same acc_norm':>14} {'max |dLL|':>10}")
    for suite in sorted({suite for suite, _ in expected}):
        path = Path(results_dir) / suite / "samples.jsonl"
        if not path.is_file():
            continue
        rows = [json.loads(line) for line in (EXAMPLES / f"{suite}.jsonl").read_text().splitlines()]
        module = suite_module(suite)
        index_of = {str(module.suite.sample_id(row, index)): index for index, row in enumerate(rows)}
        same = same_norm = compared = 0
        largest = 0.0
        for line in path.read_text().splitlines():
            sample = json.loads(line)
            index = index_of[str(sample["sample_id"])]
            entry = expected.get((suite, index))
            if entry is None or sample.get("verdict") == "error":
                continue
            compared += 1
            if suite == "mmlu":
                same += sample["extracted"] == entry["answer"]
                same_norm += sample["extracted"] == entry["answer"]
                continue
            ours = sample["loglikelihoods"]
            largest = max(largest, max(abs(a - b) for a, b in zip(ours, entry["loglikelihoods"])))
            same += argmax(ours) == argmax(entry["loglikelihoods"])
            lengths = [len(choice) for choice in module.task.choices(rows[index])]
            same_norm += argmax([v / n for v, n in zip(ours, lengths)]) == argmax(
                [v / n for v, n in zip(entry["loglikelihoods"], lengths)])
        if compared:
            print(f"{suite:14} {compared:>5} {same / compared:>9.1%} {same_norm / compared:>14.1%} {largest:>10.4f}")


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda index: (values[index], -index))


def suite_module(suite: str):
    sys.path.insert(0, str(ROOT))
    from pytest_nemoeval.suite import load_suite_module

    return load_suite_module(str(ROOT / "suites" / f"test_{suite}.py"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reference").add_argument("output_dir")
    compared = commands.add_parser("compare")
    compared.add_argument("results_dir")
    compared.add_argument("--reference", default=str(REFERENCE))
    args = parser.parse_args()
    if args.command == "reference":
        reference(args.output_dir)
    else:
        compare(args.results_dir, args.reference)


if __name__ == "__main__":
    main()
