"""Answer extraction shared by every suite: one place to fix matching bugs."""

from __future__ import annotations

import re
from typing import Any

# NeMo Skills eval/mcq (multichoice evaluator), after Artificial Analysis' "Answer: X" fallback.
_ANSWER_LINE = re.compile(r"(?i)[\*\_]{0,2}Answer[\*\_]{0,2}\s*:[\s\*\_]{0,2}\s*([A-Z])(?![a-zA-Z0-9])")
# A lone capital letter with no other lone capital letter after it (NeMo Skills' letter-in-box rule).
_LAST_LONE_LETTER = re.compile(r"\b[A-Z]\b(?!.*\b[A-Z]\b)", re.DOTALL)
# NeMo Skills math_grader.extract_answer's regex fallback (relaxed mode of eval_mcq): the last line only.
_FINAL_ANSWER = re.compile(r"The final answer is (.+)$")
_INTEGER = re.compile(r"[+-]?\d+")
_PERCENT = re.compile(r"(\d+\.?\d*)(?:\\%|%)")
_LITERAL = re.compile(r"[a-zA-Z ,]+|[0-9 ]+")
_LATEX_ENV = re.compile(r"\$.*\$|\\\(.*\\\)|\\\[.*\\\]|\\boxed\{", re.DOTALL)
_MCQ_LETTERS = "ABCDEFGHIJ"


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
    """Content of the last `\\boxed{…}` with balanced braces, as written, or None (no box, a box that never
    closes, or a last `\\boxed` not followed by `{`): NeMo Skills math_grader.search_boxed."""
    start = text.rfind("\\boxed")
    if start < 0 or not text.startswith("\\boxed{", start):
        return None
    depth = 0
    for index in range(start + len("\\boxed"), len(text)):
        char = text[index]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + len("\\boxed{"):index]
    return None  # unbalanced: the box never closes


def extract_choice_letter(text: str) -> str | None:
    """Multiple-choice letter: last `\\boxed{X}` (else "The final answer is X" on the last line), else the
    last `Answer: X` (NeMo Skills evaluator/mcq.py, relaxed mode)."""
    boxed = last_boxed(text)
    if boxed is None:
        found = _FINAL_ANSWER.findall(text)
        boxed = found[-1] if found else None
    letter = None
    if boxed is not None:
        if len(boxed) == 1:
            letter = boxed
        else:
            lone = _LAST_LONE_LETTER.findall(boxed)
            letter = lone[-1].strip() if lone else None
    if letter is None:
        found = _ANSWER_LINE.findall(text)
        letter = found[-1].strip().upper() if found else None
    return letter


# NeMo Skills evaluator/mcq.py normalize_extracted_answer (f6f7041e, 2026-03-10): Arabic, Bengali and full-width
# letters written for A-D
_LETTER_FORMS = {"أ": " A", "ب": " B", "ج": " C", "د": " D", "অ": " A", "ব": " B", "ড": " C", "ঢ": " D",
                 "Ａ": " A", "Ｂ": " B", "Ｃ": " C", "Ｄ": " D"}


def extract_choice_letter_by(text: str, regex: str) -> str | None:
    """Multiple-choice letter with a per-sample answer regex, as NeMo Skills' evaluator/mcq.py does it since
    2025-12 (relaxed: the last match of `regex` first, else the last `\\boxed{}`; letter forms normalised and
    upper-cased), else the last `Answer: X`. MMLU-ProX gives each language's regex."""
    found = re.findall(regex, text)
    extracted = found[-1] if found else None
    if not extracted:
        extracted = last_boxed(text)
    letter = None
    if extracted is not None:
        for form, latin in _LETTER_FORMS.items():
            extracted = extracted.replace(form, latin)
        extracted = extracted.strip()
        if len(extracted) == 1:
            letter = extracted.upper()
        elif extracted:
            lone = _LAST_LONE_LETTER.findall(extracted)
            letter = lone[-1].strip().upper() if lone else None
    if letter is None:
        found = _ANSWER_LINE.findall(text)
        letter = found[-1].strip().upper() if found else None
    return letter


# The final answer of a math solution is the last `\boxed{…}` with balanced braces (NeMo Skills
# math_grader.search_boxed), or None (no box, or a box that never closes).
extract_math_answer = last_boxed


def _math_verify() -> Any:
    try:
        import latex2sympy2_extended
        import math_verify
    except ImportError:
        raise ImportError("math answers are compared with math-verify, which is not installed: "
                          "pip install 'pytest-nemoeval[math]'") from None
    return math_verify, latex2sympy2_extended


def _strip_percent_and_period(expression: str) -> str:
    match = _PERCENT.fullmatch(expression)
    if match:
        expression = match.group(1)
    return expression.rstrip(".\\")


def math_equal(expected: Any, predicted: str | None) -> bool:
    """Is `predicted` the same answer as `expected`? NeMo Skills math_grader.math_equal (MCQ letter,
    then normalized literal, then math-verify's symbolic check), except that two integers compare as
    numbers, so "016" equals 16 (the reference compares those as strings)."""
    if predicted is None:
        return False
    expected, predicted = str(expected), str(predicted)
    if re.fullmatch("|".join(_MCQ_LETTERS), expected.strip()):
        math_verify, _ = _math_verify()
        letters = [math_verify.StringExtractionConfig(strings=tuple(_MCQ_LETTERS))]
        if math_verify.verify(math_verify.parse(expected, letters), math_verify.parse(predicted, letters)):
            return True
    expected, predicted = _strip_percent_and_period(expected), _strip_percent_and_period(predicted)
    if _INTEGER.fullmatch(expected.strip()) and _INTEGER.fullmatch(predicted.strip()):
        return int(expected) == int(predicted)
    math_verify, latex = _math_verify()
    normal_expected = latex.normalize_latex(expected, latex.NormalizationConfig)
    normal_predicted = latex.normalize_latex(predicted, latex.NormalizationConfig)
    same = normal_expected.replace(" ", "") == normal_predicted.replace(" ", "")
    if same or (_LITERAL.fullmatch(normal_expected) and _LITERAL.fullmatch(normal_predicted)):
        return same
    # math-verify parses LaTeX inside a math environment
    expected = expected if _LATEX_ENV.search(expected) else f"${expected}$"
    predicted = predicted if _LATEX_ENV.search(predicted) else f"${predicted}$"
    latex_only = [math_verify.LatexExtractionConfig()]
    return bool(math_verify.verify(math_verify.parse(expected, latex_only), math_verify.parse(predicted, latex_only),
                                   numeric_precision=15, timeout_seconds=10))


def last_code_block(text: str) -> str | None:
    """The last fenced code block (LiveCodeBench's lcb_runner/utils/extraction_utils.py `extract_code`: the lines
    between the last two lines holding ```), or None when there is no complete block."""
    lines = text.split("\n")
    fences = [index for index, line in enumerate(lines) if "```" in line]
    if len(fences) < 2:
        return None
    return "\n".join(lines[fences[-2] + 1:fences[-1]])
