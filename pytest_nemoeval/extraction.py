"""Answer extraction shared by every suite: one place to fix matching bugs."""

from __future__ import annotations

import re

# NeMo Skills eval/mcq (multichoice evaluator), after Artificial Analysis' "Answer: X" fallback.
_ANSWER_LINE = re.compile(r"(?i)[\*\_]{0,2}Answer[\*\_]{0,2}\s*:[\s\*\_]{0,2}\s*([A-Z])(?![a-zA-Z0-9])")
# A lone capital letter with no other lone capital letter after it (NeMo Skills' letter-in-box rule).
_LAST_LONE_LETTER = re.compile(r"\b[A-Z]\b(?!.*\b[A-Z]\b)", re.DOTALL)


def split_reasoning(content: str | None, reasoning_content: str | None = None) -> tuple[str, str, bool]:
    """Return (final answer text, reasoning trace, cut off inside the trace).

    Reasoning models put the trace either in `reasoning_content` or inline as `<think>…</think>`.
    Only the text after the trace is scored; a response that ends inside the trace has no answer.
    """
    text = content or ""
    trace = reasoning_content or ""
    if "</think>" in text:
        head, _, tail = text.rpartition("</think>")
        trace = (trace + "\n" if trace else "") + head.replace("<think>", "", 1).strip()
        return tail.strip(), trace, False
    if "<think>" in text:
        head, _, rest = text.partition("<think>")
        trace = (trace + "\n" if trace else "") + rest.strip()
        return "", trace, True
    if trace and not text.strip():
        return "", trace, True
    return text.strip(), trace, False


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{…}` (or `\\fbox{…}`) with balanced braces, or None."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    open_brace = text.find("{", start)
    if open_brace < 0:
        return None
    between = text[start:open_brace].removeprefix("\\boxed").removeprefix("\\fbox")
    if between.strip():
        return None
    depth = 0
    for index in range(open_brace, len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1:index].strip()
    return None  # unbalanced: the box never closes


def extract_choice_letter(text: str) -> str | None:
    """Multiple-choice letter: last `\\boxed{X}`, else the last `Answer: X` line (NeMo Skills eval_mcq)."""
    boxed = last_boxed(text)
    letter = None
    if boxed is not None:
        if len(boxed) == 1:
            letter = boxed
        else:
            lone = _LAST_LONE_LETTER.findall(boxed)
            letter = lone[-1].strip() if lone else None
    if letter is None:
        found = _ANSWER_LINE.findall(text)
        letter = found[-1].strip() if found else None
    return letter


def last_code_block(text: str) -> str | None:
    """The last fenced code block (LiveCodeBench's lcb_runner/utils/extraction_utils.py `extract_code`: the lines
    between the last two lines holding ```), or None when there is no complete block."""
    lines = text.split("\n")
    fences = [index for index, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[-2] + 1:fences[-1]])
