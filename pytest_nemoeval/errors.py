"""The errors of pytest-nemoeval. Each message is one line a user can act on."""

from __future__ import annotations


class DataError(Exception):
    """Data that cannot be used; the message names the file or row and the fix."""


class GenerationError(Exception):
    """A request that could not be completed; the item fails with this one-line reason."""


class EndpointDown(GenerationError):
    """The endpoint stopped answering: nothing more will be sent in this run."""


class DriverError(Exception):
    """A suite's driver could not run or returned something that is not a response; the item fails with it."""


class VerdictError(ValueError):
    """A judge reply without a usable verdict: the item is an error, never a silent "incorrect"."""


class ContextOverflow(GenerationError):
    """A request that cannot fit the served model's context window: not sent; its item is wrong with no answer
    (NeMo Skills' soft-fail), not an error."""
