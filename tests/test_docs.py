"""The documentation site: it builds with --strict (a warning is an error), its generated pages show every
option and every suite, its troubleshooting lines are the code's, its set-up commands are the README's, and
its worked example runs."""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, results, samples
from test_readme import setup_commands, smoke_line

DOCS = ROOT / "docs"
EXAMPLE = DOCS / "examples"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `mkdocs build --strict` makes it (about 3 s)."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="mkdocs-material is not installed: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                            "-d", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


def page_text(site: Path, page: str) -> str:
    """A built page's text, tags removed and entities decoded."""
    raw = (site / page / "index.html").read_text(encoding="utf-8")
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def test_the_site_builds_strictly_with_every_page_in_the_nav(site):
    pages = {path.relative_to(DOCS).with_suffix("").as_posix() for path in DOCS.rglob("*.md")
             if EXAMPLE not in path.parents}
    for page in pages:
        built = site / ("" if page == "index" else page.removesuffix("/index")) / "index.html"
        assert built.is_file(), f"docs/{page}.md was not built"
    nav = (ROOT / "mkdocs.yml").read_text()
    assert not [page for page in pages if f"{page}.md" not in nav], "a page is missing from mkdocs.yml's nav"
    assert "<!-- nemoeval:" not in "".join(path.read_text() for path in site.rglob("*.html"))


def test_the_options_reference_shows_every_option(site):
    from pytest_nemoeval.options import OPTIONS

    text = page_text(site, "reference/options")
    for option in OPTIONS:
        ini = "nemoeval_" + option.key.replace(".", "_")
        row = next((line for line in text.splitlines() if line.strip().startswith(option.flag + " ")
                    or line.strip() == option.flag), None)
        assert row is not None, f"{option.flag} is not in the options reference"
        assert ini in text and option.help.split("(")[0].strip()[:40] in text, option.flag
        if "." in option.key:
            assert option.key in text, f"recipe key {option.key}"
    for flag in ("--recipe", "--set", "--threshold"):  # added outside the table
        assert flag in text
    # the sections' own pages carry their part of the table
    assert "--deploy-timeout" in page_text(site, "running/vllm")
    assert "--judge-model" in page_text(site, "running/endpoint")
    assert "--wandb-project" in page_text(site, "exporting")


def test_the_suite_catalogue_shows_every_suite(site):
    from pytest_nemoeval.suite import load_suite_module

    built = (site / "suites" / "index.html").read_text(encoding="utf-8")
    text = page_text(site, "suites")
    for path in sorted((ROOT / "suites").glob("test_*.py")):
        suite = load_suite_module(str(path)).suite
        assert f'id="{suite.name}"' in built, f"{suite.name} has no section in the suite catalogue"
        assert f"suites/{path.name}" in text
        assert suite.source(dict(suite.data_options)).describe() in text, suite.name
        assert f"primary {suite.primary_metric}" in text
        for extra in suite.requires.values():
            assert f"pip install '{extra}'" in text
    # a recipe's threshold, with its note on the published score
    assert "accuracy>=0.763; the recipe's note: model card 78.3" in text


def test_the_recipes_page_lists_every_recipe(site):
    import yaml

    text = page_text(site, "recipes")
    for path in sorted((ROOT / "recipes").glob("*.yaml")):
        assert f"recipes/{path.name}" in text
        names = ", ".join((yaml.safe_load(path.read_text()) or {}).get("benchmarks") or {})
        assert f"Runs: {names or 'every collected suite'}." in text, path.name


def test_hooks_pick_up_a_new_option_and_a_new_suite(tmp_path, monkeypatch):
    """What another option or suite would show: the generators read the code, not a list."""
    sys.path.insert(0, str(DOCS))
    try:
        import hooks
    finally:
        sys.path.remove(str(DOCS))
    from pytest_nemoeval import options

    extra = options.Option("judge.new_thing", "--judge-new-thing", "a made-up option <here>", 3, int, "N")
    monkeypatch.setattr(options, "OPTIONS", (*options.OPTIONS, extra))
    row = "| `--judge-new-thing N` | `nemoeval_judge_new_thing` | `judge.new_thing` | `3` | a made-up option &lt;here&gt; |"
    assert row in hooks.options_table()
    assert row in hooks.options_table("judge") and row not in hooks.options_table("export")

    (tmp_path / "suites").mkdir()
    shutil.copy(EXAMPLE / "suites" / "test_capitals.py", tmp_path / "suites")
    (tmp_path / "recipes").mkdir()
    guides = tmp_path / "docs" / "suites"
    guides.mkdir(parents=True)
    (guides / "geography.md").write_text("---\ntitle: Geography\nsuites: [capitals]\n---\n\n# Geography\n")
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    monkeypatch.setattr(hooks, "GUIDES", guides)
    catalogue = hooks.suite_catalogue("suites/index.md")
    assert "## `capitals` { #capitals }" in catalogue
    assert "my-org/capitals (split test)" in catalogue and "suites/test_capitals.py" in catalogue
    assert "- **Guide**: [Geography](geography.md)" in catalogue
    (guides / "typo.md").write_text("---\nsuites: [capitols]\n---\n")
    with pytest.raises(ValueError, match="capitols"):
        hooks.suite_catalogue("suites/index.md")


def _code_strings() -> list[str]:
    """Every string literal of the package and the suites (f-strings: their literal parts; adjacent literals
    joined, as Python joins them)."""
    found = []
    for path in [*(ROOT / "pytest_nemoeval").rglob("*.py"), *(ROOT / "suites").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return found


def test_every_troubleshooting_line_is_the_codes():
    """The fixed parts of each message this page explains still occur in the code (<...> are the parts a run
    fills in), so that a reworded message cannot leave a stale entry."""
    strings = _code_strings()
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    messages = [match[1] or match[2] for match in re.finditer(r"^### (?:`` (.+) ``|`(.+)`)$", text, re.MULTILINE)]
    assert len(messages) >= 70, len(messages)  # the parser found the headings
    table = re.findall(r"^\| `([^`]+)` \|", text, re.MULTILINE)
    stale = []
    for message in messages + [line for line in table if line != "line"]:
        for fragment in re.split(r"<[^<>=\s][^<>=]*>|\.\.\.", message):
            fragment = fragment.strip(" .,:;")
            if len(fragment) >= 4 and not any(fragment in string for string in strings):
                stale.append((message, fragment))
    assert not stale, "\n".join(f"{message!r}: {fragment!r}" for message, fragment in stale)


# the exceptions whose message reaches the user as an `ERROR:` line (or fails an item before anything is sent)
USER_ERRORS = {"UsageError", "DataError", "ExportError", "UnreadableRun", "PolicyError", "CapabilityError",
               "SandboxError"}


def test_every_error_line_of_the_code_is_on_the_troubleshooting_page():
    """Each raise of a user-facing error in the package and the suites: a fixed part of its message (its first
    40 characters) is on the page, so that a new ERROR line comes with its explanation."""
    text = (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    missing = []
    for path in [*(ROOT / "pytest_nemoeval").rglob("*.py"), *(ROOT / "suites").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            function = node.exc.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
            if name not in USER_ERRORS:
                continue
            message = node.exc.args[0]
            parts = message.values if isinstance(message, ast.JoinedStr) else [message]
            fixed = [part.value.strip(" .,:;'()") for part in parts
                     if isinstance(part, ast.Constant) and isinstance(part.value, str)]
            fixed = [part[:40] for part in fixed if len(part) >= 8]
            if fixed and not any(part in text for part in fixed):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}: {fixed[0]}")
    assert not missing, "not explained in docs/troubleshooting.md:\n" + "\n".join(missing)


def test_the_docs_show_the_readmes_set_up_commands():
    text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    for command in setup_commands().values():
        assert f"```\n{command}\n```" in text, command
    smoke = smoke_line()
    assert f"```\n{smoke}\n```" in text and smoke in (ROOT / "README.md").read_text()


def test_the_worked_example_runs_to_a_green_gate(pytester, mock_server):
    """docs/writing-a-suite.md's example, its files as the page includes them, against a scripted model that
    names three capitals of five: the gate at 0.5 passes, the one at 0.9 fails."""
    page = (DOCS / "writing-a-suite.md").read_text(encoding="utf-8")
    assert '--8<-- "docs/examples/suites/test_capitals.py"' in page
    assert '--8<-- "docs/examples/data/capitals.jsonl"' in page
    shutil.copytree(EXAMPLE, pytester.path / "docs" / "examples")
    answers = pytester.path / "answers.json"
    answers.write_text(json.dumps([["France", "The capital of France is \\boxed{Paris}."],
                                   ["Japan", "It is Tokyo."], ["Kenya", "\\boxed{nairobi}"],
                                   ["Peru", "\\boxed{Cusco}"]]))
    server = mock_server("--answers", str(answers), "--answer", "I do not know.")
    run = ["docs/examples/suites", "--data-dir", "docs/examples/data", "--endpoint", server.url]

    green = pytester.runpytest_subprocess(*run, "--threshold", "capitals.pass@1>=0.5")
    assert green.ret == pytest.ExitCode.OK, green.stdout.str()[-2000:]
    green.stdout.fnmatch_lines(["capitals: pass@1 0.6000 *gate: passed"])
    entry = results(pytester)["benchmarks"]["capitals"]
    assert (entry["samples"], entry["errors"]) == (5, 0)
    assert sorted(entry["categories"]["by"]) == ["africa", "americas", "asia", "europe"]
    verdicts = {row["expected"]: row["verdict"] for row in samples(pytester, "capitals")}
    assert verdicts == {"Paris": "correct", "Tokyo": "correct", "Nairobi": "correct", "Lima": "incorrect",
                        "Rome": "incorrect"}

    red = pytester.runpytest_subprocess(*run, "--threshold", "capitals.pass@1>=0.9")
    assert red.ret == pytest.ExitCode.TESTS_FAILED
    red.stdout.fnmatch_lines(["*GATE FAILED: capitals.pass@1 = 0.6000*required >= 0.9*"])
