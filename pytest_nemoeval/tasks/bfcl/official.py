"""The bfcl-eval package as pytest-nemoeval uses it: importing it without its vendor SDKs, its OpenAI tool
conversion, and running its function backends (the call text they `eval`, checked first; in threads; without
the search key in what they return). Every bfcl_eval import happens inside a function."""

from __future__ import annotations

import asyncio
import copy
import functools
import importlib
import inspect
import json
import os
import sys
import types
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pytest_nemoeval.errors import DataError, GenerationError

INSTALL = "pip install 'pytest-nemoeval[bfcl]' && pip install --no-deps bfcl-eval==2026.3.23"
CHECKER_MODEL = "nemoeval"  # the model name the official checkers see (it names backend instances)
SEARCH_KEY_ENV = "SERPAPI_API_KEY"  # bfcl-eval's WebSearchAPI: DuckDuckGo results through SerpAPI
REFUSED = "refused_call_to_an_unknown_function"
_BACKENDS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="bfcl-backend")
_SEARCH = ThreadPoolExecutor(max_workers=64, thread_name_prefix="bfcl-search")


@functools.cache
def require_bfcl_eval() -> None:
    """Import bfcl_eval's checkers, or stop with one line naming the extra (a DataError: found while loading)."""
    try:
        import bfcl_eval.constants.category_mapping  # noqa: F401
    except ImportError:
        raise DataError(f"BFCL needs the bfcl-eval package: {INSTALL}") from None
    # ast_checker reads one flag (underscore_to_dot) from MODEL_CONFIG_MAPPING, whose module imports every
    # vendor SDK; OpenAI-style tools replace "." in names by "_", so the flag is True for every model here.
    if "bfcl_eval.constants.model_config" not in sys.modules:
        shim = types.ModuleType("bfcl_eval.constants.model_config")
        shim.MODEL_CONFIG_MAPPING = _OpenAIStyleConfigs()  # type: ignore[attr-defined]
        sys.modules["bfcl_eval.constants.model_config"] = shim
    try:
        from bfcl_eval.eval_checker.ast_eval import ast_checker
        from bfcl_eval.model_handler import utils  # noqa: F401
    except ImportError as exc:
        raise DataError(f"BFCL: bfcl-eval could not be imported ({exc}): {INSTALL}") from None
    ast_checker.MODEL_CONFIG_MAPPING = _OpenAIStyleConfigs()  # type: ignore[attr-defined]


class _OpenAIStyleConfigs(dict):
    def __missing__(self, model_name: str) -> Any:
        return types.SimpleNamespace(underscore_to_dot=True)


def tools_for(functions: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    """Function docs as OpenAI tools: the language hints of inference, then the OpenAI handler's conversion."""
    require_bfcl_eval()
    from bfcl_eval.constants.enums import ModelStyle
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI
    from bfcl_eval.model_handler.utils import convert_to_tool
    from bfcl_eval.utils import _func_doc_language_specific_pre_processing

    hinted = _func_doc_language_specific_pre_processing(copy.deepcopy(functions), category)
    return convert_to_tool(hinted, GORILLA_TO_OPENAPI, ModelStyle.OPENAI_COMPLETIONS)


def model_result(reply: dict[str, Any]) -> list[dict[str, str]] | str:
    """What bfcl-eval's OpenAI FC handler keeps of a reply: [{name: arguments JSON}, ...], else the text."""
    calls = reply.get("tool_calls") or []
    if calls:
        return [{call["function"]["name"]: call["function"].get("arguments") or "{}"} for call in calls]
    return reply.get("content") or ""


def to_calls(step: Any, allowed: frozenset[str]) -> list[str]:
    """bfcl-eval's convert_to_function_call: the call texts its backends `eval` in this process. A call to
    anything but a method in `allowed` (`backend_methods`), or with argument names that are not identifiers,
    would be evaluated as any Python (`open(file=...)`, code in an argument name): it becomes a call without
    arguments to a function that does not exist, which fails as upstream's call to an unknown function does,
    with nothing run. Every call text is then `name(arg=<literal>, ...)`."""
    from bfcl_eval.model_handler.utils import convert_to_function_call

    if isinstance(step, list):
        step = [dict(_safe_call(name, arguments, allowed) for name, arguments in call.items())
                if isinstance(call, dict) else call for call in step]
    return convert_to_function_call(step)


def _safe_call(name: str, arguments: Any, allowed: frozenset[str]) -> tuple[str, Any]:
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return name, arguments  # never run: unparsable arguments end the turn (convert_to_function_call raises)
    if not isinstance(parsed, dict):
        return name, arguments  # likewise
    if name in allowed and all(isinstance(key, str) and key.isidentifier() for key in parsed):
        return name, arguments
    return REFUSED, "{}"


@functools.cache
def backend_methods(involved_classes: tuple[str, ...]) -> frozenset[str]:
    """The public methods of an entry's backend classes: the functions its calls may name."""
    from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

    names: set[str] = set()
    for class_name in involved_classes:
        backend = getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)
        names.update(name for name, _ in inspect.getmembers(backend, inspect.isfunction) if not name.startswith("_"))
    return frozenset(names)


async def run_calls(calls: list[str], initial_config: dict[str, Any], involved_classes: list[str], instance: str,
                    entry_id: str, long_context: bool, timeout: float) -> tuple[list[str], dict[str, Any]]:
    """multi_turn_utils.execute_multi_turn_func_call in a thread (web search blocks on the internet, and no
    backend may hold up the other items), within `timeout` seconds: the outputs, without the search key, and
    the backend instances. Web search has its own threads: a stuck search never holds up the other backends."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call


    pool = _SEARCH if "WebSearchAPI" in involved_classes else _BACKENDS
    work = asyncio.get_running_loop().run_in_executor(pool, functools.partial(
        execute_multi_turn_func_call, calls, initial_config, involved_classes, instance, entry_id,
        long_context=long_context))
    try:
        outputs, instances = await asyncio.wait_for(work, timeout)
    except asyncio.TimeoutError:
        raise GenerationError(f"bfcl-eval's {', '.join(involved_classes)} backend did not answer within {timeout:g} s "
                           "(--request-timeout)") from None
    except Exception as exc:
        raise GenerationError(_without_secrets(f"bfcl-eval's backend failed: {type(exc).__name__}: {exc}")) from None
    return [_without_secrets(output) for output in outputs], instances


def _without_secrets(output: Any) -> Any:
    """A backend's output goes to the model and the records: never with the search key in it (an error from
    SerpAPI's client quotes the request URL, api_key included)."""
    key = os.environ.get(SEARCH_KEY_ENV)
    if not key or not isinstance(output, str):
        return output
    for form in {key, urllib.parse.quote(key), urllib.parse.quote_plus(key)}:
        output = output.replace(form, "***")
    return output


def instance_name() -> str:
    # the backends keep their state in module globals named after the model: one name per conversation
    return f"{CHECKER_MODEL}_{uuid.uuid4().hex}"


def forget_instances(name: str) -> None:
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    # list() copies the keys at once: backend threads add instances of other conversations meanwhile
    for key in [key for key in list(vars(multi_turn_utils)) if name in key]:
        del vars(multi_turn_utils)[key]
