"""Which suites `-k` can select, decided before their data is loaded.

Without this, `pytest suites/ -k mmlu_pro` would load every suite's dataset (from the hub, or fail on a
`--data-dir` that holds only MMLU-Pro) just to deselect its items afterwards.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from _pytest.mark.expression import Expression  # pytest has no public way to evaluate a -k expression

_WORD = re.compile(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+")  # an identifier of pytest's -k grammar
_MAX_UNKNOWN = 10


def may_select(keyword: str, module_file: Path, function: str) -> bool:
    """False only when `-k keyword` cannot match any item of this suite, whatever its item ids.

    A word of the expression is true when it is part of this suite's module or test name, false when it is
    part of another suite module's name in the same directory, and otherwise unknown: it may match item ids
    (`r0`, a BFCL category). The suite is left out only if no truth value of the unknown words selects it.
    """
    if not keyword.strip():
        return True
    own = (module_file.name.lower(), function.lower())
    others = [path.name.lower() for path in module_file.parent.glob("test_*.py") if path != module_file]

    def known(word: str) -> bool | None:
        word = word.lower()
        if any(word in text for text in own):
            return True
        if any(word in text for text in others):
            return False
        return None

    words = {word for word in _WORD.findall(keyword) if word not in ("and", "or", "not")}
    unknown = sorted(word for word in words if known(word) is None)
    if len(unknown) > _MAX_UNKNOWN:
        return True
    try:
        expression = Expression.compile(keyword)
    except (SyntaxError, ValueError):
        return True  # pytest reports the malformed expression itself
    for values in itertools.product((True, False), repeat=len(unknown)):
        assumed = dict(zip(unknown, values))
        if expression.evaluate(lambda name, **_: assumed[name] if name in assumed else bool(known(name))):
            return True
    return False
