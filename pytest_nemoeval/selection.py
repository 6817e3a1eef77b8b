"""Which suites `-k` can select, decided before their data is loaded.

Without this, `pytest suites/ -k mmlu_pro` would load every suite's dataset (from the hub, or fail on a
`--data-dir` that holds only MMLU-Pro) just to deselect its items afterwards.
"""

from __future__ import annotations

from pathlib import Path

from _pytest.mark.expression import Expression


def may_select(keyword: str, module_file: Path, function: str) -> bool:
    """False only when `-k keyword` cannot match any item of this suite, whatever its item ids.

    A word of the expression is true when it is part of this suite's module or test name, false when it is
    part of another suite module's name in the same directory (so it cannot be about this suite), and
    otherwise unknown, taken as true (it may match item ids, e.g. `r0` or a BFCL category).
    """
    if not keyword.strip():
        return True
    own = (module_file.name.lower(), function.lower())
    others = [path.name.lower() for path in module_file.parent.glob("test_*.py") if path != module_file]

    def matches(name: str, **_: object) -> bool:
        name = name.lower()
        if any(name in text for text in own):
            return True
        return not any(name in text for text in others)

    try:
        return Expression.compile(keyword).evaluate(matches)
    except (SyntaxError, ValueError):
        return True  # pytest reports the malformed expression itself
