"""The class of an errored item, read from the one-line reason it carries (the engine's GenerationError after its
retries, a judge reply without a verdict, a scorer's crash), so that a NO-GO caused by a sick endpoint reads
differently from one caused by a worse model. An item scored on an empty reply is not an error (it counts in
`no_answer`, as NeMo Skills counts it); an item whose request or judge failed on one is."""

from __future__ import annotations

import re

# the order a reason is tested in: the first class whose pattern it matches
PATTERNS = (
    ("rate limit", re.compile(r"\bHTTP 429\b|rate.?limit", re.I)),
    ("server error", re.compile(r"\bHTTP 5\d\d\b")),
    ("rejected request", re.compile(r"\bHTTP 4\d\d\b")),  # 400 (too long, bad parameter), 401, 404...
    ("timeout", re.compile(r"no response within the request timeout|timed? ?out", re.I)),
    ("connection", re.compile(r"cannot connect|closed the connection|connection|is down:|unreachable", re.I)),
    ("refusal", re.compile(r"content.?filter|refus", re.I)),
    ("empty reply", re.compile(r"\bempty\b", re.I)),
    ("format error", re.compile(r"invalid response|not an OpenAI|VerdictError|has no .*verdict|not valid JSON|"
                                r"JSONDecodeError|cannot parse", re.I)),
)
OTHER = "other"  # a scorer's or driver's own crash, a skip after sending
CLASSES = ("timeout", "rate limit", "server error", "connection", "empty reply", "refusal", "format error",
           "rejected request", OTHER)  # the order counts are shown in
ENDPOINT = ("timeout", "rate limit", "server error", "connection")  # the endpoint's health, not the model's answers


def failure_class(reason: str | None) -> str:
    text = reason or ""
    return next((name for name, pattern in PATTERNS if pattern.search(text)), OTHER)


def summary(counts: dict[str, int]) -> str:
    """`timeout 2, rate limit 1`, in CLASSES order."""
    return ", ".join(f"{name} {counts[name]}" for name in CLASSES if counts.get(name))
