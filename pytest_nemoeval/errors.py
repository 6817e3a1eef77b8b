"""The errors of pytest-nemoeval. Each message is one line a user can act on."""

from __future__ import annotations


class DataError(Exception):
    """Data that cannot be used; the message names the file or row and the fix."""


class GenerationError(Exception):
    """A request that could not be completed; the item fails with this one-line reason."""


# NeMo Skills is_context_window_exceeded_error: the prompt outgrew the served model's context
CONTEXT_EXCEEDED = ("Requested token count exceeds", "exceeds maximum input length", "should not exceed max_seq_len",
                    "reduce the length of the input messages", "'max_completion_tokens' is too large",
                    "max_tokens must be at least 1, got -", "maximum context length",
                    "exceeds the available context size")  # the last: llama.cpp's server


def context_exceeded(error: BaseException) -> bool:
    """Did this request fail because its prompt outgrew the context (a multi-turn conversation's end)?"""
    return any(marker in str(error) for marker in CONTEXT_EXCEEDED)


class EndpointDown(GenerationError):
    """The endpoint stopped answering: nothing more will be sent in this run."""


class DriverError(Exception):
    """A suite's driver could not run or returned something that is not a response; the item fails with it."""


class VerdictError(ValueError):
    """A judge reply without a usable verdict: the item is an error, never a silent "incorrect"."""


class Unscored(Exception):
    """A benchmark whose grader could not score this run (e.g. no key for a remote grading API): the message
    says why in one line; results.json reports the benchmark as unscored, never as a score of 0."""


class ContextOverflow(GenerationError):
    """A request that cannot fit the served model's context window: not sent; its item is wrong with no answer
    (NeMo Skills' soft-fail), not an error."""
