"""MkDocs hook: the pages that must not drift from the code are filled in at build time.

A page holds a marker, replaced when the site is built:
  <!-- nemoeval:options -->                 every command-line option (options.OPTIONS and the other flags
                                             options.add_options adds): flag, ini key, recipe key, default, meaning
  <!-- nemoeval:options section=judge -->   the options of one recipe section (judge, export, deployment)
  <!-- nemoeval:recipe_keys -->             the keys a recipe may hold (top level, sections, per benchmark, generation)
  <!-- nemoeval:recipes -->                 the recipes in recipes/: their header comment and the suites they run
  <!-- nemoeval:suites -->                  the suite catalogue, from the Suite objects in suites/ and their
                                             modules' docstrings, with the recipes' gates on each
An unknown marker fails the build. Nothing generated is committed.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

MARKER = re.compile(r"<!-- nemoeval:(\w+)((?: \w+=[\w.-]+)*) -->")
ROOT = Path(__file__).resolve().parent.parent
GUIDES = Path(__file__).resolve().parent / "suites"


def on_config(config: Any) -> Any:
    # the checkout's package, also when the docs are built without installing it in editable mode
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return config


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1]
        args = dict(part.split("=", 1) for part in match[2].split())
        if name == "options":
            return options_table(args.get("section"))
        if name == "recipes":
            return recipe_list()
        if name == "recipe_keys":
            return recipe_keys()
        if name == "suites":
            return suite_catalogue(page.file.src_uri)
        raise ValueError(f"{page.file.src_uri}: unknown marker <!-- nemoeval:{name} -->")

    return MARKER.sub(replace, markdown)


# -- options ------------------------------------------------------------------------------------------------


class _RecordingGroup:
    def __init__(self, flags: list[tuple[str, dict[str, Any]]]) -> None:
        self.flags = flags

    def addoption(self, *names: str, **kwargs: Any) -> None:
        self.flags.append((names[0], kwargs))


class _RecordingParser:
    """Stands in for pytest's parser: what options.add_options declares, nothing else."""

    def __init__(self) -> None:
        self.flags: list[tuple[str, dict[str, Any]]] = []
        self.ini: set[str] = set()

    def getgroup(self, *args: Any, **kwargs: Any) -> _RecordingGroup:
        return _RecordingGroup(self.flags)

    def addini(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.ini.add(name)


def _text(text: str) -> str:
    """Markdown showing `text` as written: `<` and `>` outside code spans escaped (else they are HTML tags)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else part.replace("<", "&lt;").replace(">", "&gt;") for part in parts)


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _default(option: Any) -> str:
    stated = re.search(r"default: ([^)]*)\)", option.help) or re.search(r"; default: (.*)$", option.help)
    if stated:  # the help names a default computed at run time (CPU cores, the first served model, ...)
        return _cell(stated[1])
    value = option.default
    if option.is_flag:
        return "off"
    if value is None or value == []:
        return "–"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def option_rows() -> list[dict[str, str]]:
    """One row per command-line option the plugin adds, in the order of `pytest --help`."""
    from pytest_nemoeval import options

    parser = _RecordingParser()
    options.add_options(parser)  # type: ignore[arg-type]
    by_flag = {option.flag: option for option in options.OPTIONS}
    rows = []
    for flag, kwargs in parser.flags:
        option = by_flag.get(flag)
        ini = kwargs.get("dest", "")
        if option is None:  # --recipe, --set, --threshold: outside the table
            metavar = kwargs.get("metavar")
            rows.append({"flag": f"`{flag} {metavar}`" if metavar else f"`{flag}`",
                         "ini": f"`{ini}`" if ini in parser.ini else "–", "recipe": "–", "default": "–",
                         "meaning": _cell(kwargs.get("help", "")) + ("; repeatable" if kwargs.get("action") == "append"
                                                                     and "repeatable" not in kwargs.get("help", "") else ""),
                         "key": ""})
            continue
        if option.is_flag:
            ini_text = f"`{ini} = {str(not option.default).lower()}`"
        elif option.repeatable:
            ini_text = f"`{ini}` (one per line)"
        else:
            ini_text = f"`{ini}`"
        section = option.key.split(".")[0]
        in_recipe = option.key in options.RECIPE_KEYS or section in options.SECTIONS
        meaning = option.help + ("" if not option.repeatable or "repeatable" in option.help else "; repeatable")
        rows.append({"flag": f"`{flag}`" if option.is_flag else f"`{flag} {option.metavar or 'VALUE'}`",
                     "ini": ini_text, "recipe": f"`{option.key}`" if in_recipe else "–",
                     "default": _default(option), "meaning": _cell(meaning), "key": option.key})
    return rows


def _table(rows: list[dict[str, str]]) -> list[str]:
    lines = ["| option | ini key | recipe key | default | meaning |", "|---|---|---|---|---|"]
    return lines + [f"| {row['flag']} | {row['ini']} | {row['recipe']} | {row['default']} | {row['meaning']} |"
                     for row in rows]


def options_table(section: str | None = None) -> str:
    """One table of a section's options, or (section None) every option, a table per recipe section."""
    rows = option_rows()
    if section is not None:
        rows = [row for row in rows if row["key"].startswith(f"{section}.")]
        if not rows:
            raise ValueError(f"<!-- nemoeval:options section={section} -->: no option in that section")
        return "\n".join(_table(rows))
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["key"].split(".")[0] if "." in row["key"] else "", []).append(row)
    lines: list[str] = []
    for name, members in groups.items():
        title = f"`{name}:` options" if name else "Run options"
        lines += ["", f"## {title}", "", *_table(members)]
    return "\n".join(lines)


def recipe_keys() -> str:
    from pytest_nemoeval import options

    def keys(names: Any) -> str:
        return ", ".join(f"`{name}`" for name in sorted(names))

    lines = [f"- top level: {keys(options.RECIPE_KEYS)}"]
    lines += [f"- `{section}:` {keys(names)}" for section, names in sorted(options.SECTIONS.items())]
    lines += [f"- `benchmarks.<name>:` {keys(options.BENCHMARK_KEYS)}",
              f"- `aggregates.<name>:` {keys(options.AGGREGATE_KEYS)}",
              f"- `generation:` (top level, or per benchmark) {keys(options.GENERATION_KEYS)}"]
    return "\n".join(lines)


# -- suites -------------------------------------------------------------------------------------------------


def suite_modules() -> list[Any]:
    from pytest_nemoeval.suite import load_suite_module

    return [load_suite_module(str(path)) for path in sorted((ROOT / "suites").glob("test_*.py"))]


def _front_matter(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4:text.index("\n---", 4)]) or {}


def guides() -> dict[str, tuple[str, str]]:
    """suite name -> (page file name, page title) of the guide that names it in its front matter `suites:`."""
    found = {}
    for path in sorted(GUIDES.glob("*.md")):
        meta = _front_matter(path)
        title = meta.get("title") or path.stem
        for name in meta.get("suites") or []:
            found[name] = (path.name, title)
    return found


def recipe_gates() -> dict[str, list[str]]:
    """suite name -> one line per recipe that names it: its thresholds and the recipe's comment on it (the
    published score it is derived from)."""
    gates: dict[str, list[str]] = {}
    for path in sorted((ROOT / "recipes").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        benchmarks = (yaml.safe_load(text) or {}).get("benchmarks") or {}
        for name, section in benchmarks.items():
            comment = re.search(rf"^  {re.escape(name)}:[^#\n]*#\s*(.+)$", text, re.MULTILINE)
            thresholds = ", ".join(f"`{t}`" for t in (section or {}).get("thresholds") or []) or "no threshold"
            note = f"; the recipe's note: {_cell(comment[1].strip())}" if comment else ""
            gates.setdefault(name, []).append(f"`recipes/{path.name}`: {thresholds}{note}")
    return gates


def recipe_list() -> str:
    lines = []
    for path in sorted((ROOT / "recipes").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        header = []
        for line in text.splitlines():
            if not line.startswith("#"):
                break
            header.append(line[1:].removeprefix(" "))
        first, _, rest = "\n".join(header).partition("\n\n")  # the first paragraph, then the rest as written
        commands = [line.strip() for line in first.splitlines() if line.strip().startswith("pytest ")]
        prose = " ".join(line.strip() for line in first.splitlines() if not line.strip().startswith("pytest "))
        benchmarks = (yaml.safe_load(text) or {}).get("benchmarks") or {}
        lines += ["", f"### `recipes/{path.name}`", "", _text(prose), ""]
        if commands:
            lines += ["```", *commands, "```", ""]
        if rest.strip():
            lines += ["```text", rest.strip("\n"), "```", ""]
        lines.append("Runs: " + (", ".join(f"[`{name}`](suites/index.md#{name})" for name in benchmarks)
                                 or "every collected suite") + ".")
    return "\n".join(lines)


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def suite_facts(module: Any) -> dict[str, Any]:
    from pytest_nemoeval.export.nemo_evaluator import task_name

    suite = module.suite
    source = suite.source(dict(suite.data_options))
    revision = getattr(source, "revision", None)
    if suite.harness is not None:
        api = "completions (raw prompt, " + ("generated text" if suite.harness.generative else "log-likelihoods") + ")"
    else:
        api = "chat completions"
    how = [api]
    if suite.driver is not None:
        how.append(f"driver `{suite.driver.__name__}`")
    if suite.judge:
        how.append(f"judge `{suite.judge}`")
    if suite.tools:
        how.append("tools " + ", ".join(f"`{type(tool).__name__}`" for tool in suite.tools))
    extras = sorted(set(suite.requires.values()))
    return {
        "name": suite.name,
        "file": f"suites/{Path(module.__file__).name}",
        "data": source.describe(),
        "revision": revision or "–",
        "data_file": suite.data_file,
        "data_options": suite.data_options,
        "data_files": suite.data_files,
        "repeats": suite.repeats,
        "primary": suite.primary_metric,
        "own_metrics": [(fn.__module__, fn.__name__, _first_paragraph(fn.__doc__)) for fn in suite.metrics],
        "generation": suite.generation,
        "how": ", ".join(how),
        "category": suite.category_field,
        "extras": extras,
        "task": task_name(suite.name),
        "doc": (module.__doc__ or "").strip(),
    }


def suite_catalogue(page_uri: str) -> str:
    facts = [suite_facts(module) for module in suite_modules()]
    gates = recipe_gates()
    guide_of = guides()
    unknown = sorted(set(guide_of) - {f["name"] for f in facts})
    if unknown:  # a typo in a guide's front matter would silently drop its link
        raise ValueError(f"docs/suites/: front matter names no suite {', '.join(unknown)}")
    page_dir = (GUIDES.parent / page_uri).parent  # the docs directory, where page_uri starts

    def guide_link(name: str) -> str:
        if name not in guide_of:
            return ""
        file, title = guide_of[name]
        return f"[{title}]({os.path.relpath(GUIDES / file, page_dir)})"

    lines = ["| suite | data | repeats | primary metric | extra | NeMo Evaluator task | guide |",
             "|---|---|---|---|---|---|---|"]
    for f in facts:
        extra = ", ".join(f"`{e}`" for e in f["extras"]) or "–"
        lines.append(f"| [`{f['name']}`](#{f['name']}) | {_cell(f['data'])} | {f['repeats']} | `{f['primary']}` | "
                     f"{extra} | `{f['task']}` | {guide_link(f['name']) or '–'} |")
    for f in facts:
        summary, _, body = f["doc"].partition("\n\n")
        lines += ["", f"## `{f['name']}` {{ #{f['name']} }}", "", _text(" ".join(summary.split())), ""]
        lines.append(f"- **Module**: `{f['file']}`")
        lines.append(f"- **Data**: {_text(f['data'])}; revision `{f['revision']}`" if f["revision"] != "–"
                     else f"- **Data**: {_text(f['data'])} (no pinned revision)")
        lines.append(f"- **With `--data-dir DIR`**: `DIR/{f['data_file']}.jsonl`"
                     + "".join(f", `DIR/{name}` ({_text(where)})" for name, where in f["data_files"].items()))
        if f["data_options"]:
            options = ", ".join(f"`{key}: {value}`" for key, value in f["data_options"].items())
            lines.append(f"- **Data options** (recipe `benchmarks.{f['name']}.data`): {options}")
        lines.append(f"- **Requests**: {f['how']}")
        lines.append("- **Generation**: " + (", ".join(f"`{k}={v}`" for k, v in f["generation"].items()) or "–"))
        lines.append(f"- **Repeats**: {f['repeats']}")
        lines.append(f"- **Metrics**: primary `{f['primary']}`; built-in accuracy, pass@k, majority@k, no_answer, "
                     "error_rate")
        for module_name, function, doc in f["own_metrics"]:
            lines.append(f"    - its own (`{module_name}.{function}`): {_text(doc)}")
        if f["category"]:
            lines.append(f"- **Categories**: broken down by the row field `{f['category']}`")
        lines.append("- **Extra needed**: " + (", ".join(f"`pip install '{e}'`" for e in f["extras"]) or "none"))
        lines.append(f"- **NeMo Evaluator task**: `{f['task']}` (the name its export uses; the published task it follows "
                     "is named below)")
        for gate in gates.get(f["name"], []):
            lines.append(f"- **Recipe gate**: {gate}")
        if f["name"] in guide_of:
            lines.append(f"- **Guide**: {guide_link(f['name'])}")
        if body.strip():
            lines += ["", _text(body.strip())]
    return "\n".join(lines)
