"""BFCL v3 / v4 (Berkeley Function Calling Leaderboard) on the official `bfcl-eval` package.

Data: the package's own `bfcl_eval/data/` (prompts and possible answers, joined into one row per entry).
Requests: the OpenAI `tools` API (function-calling mode: the server parses tool calls), tools built by the
official `convert_to_tool` as bfcl-eval's OpenAI completions handler does; multi-turn conversations are driven
turn by turn like its `inference_multi_turn_FC`, running the official function backends between steps.
Memory (v4): each scenario's prerequisite conversations run once per (category, repeat), in order, before its
questions; the backend's snapshots go to <results-dir>/bfcl_memory/ (bfcl-eval's memory_api_metaclass).
Web search (v4) runs on bfcl-eval's SerpAPI backend when SERPAPI_API_KEY is set. Backends run in threads.
Grading: the official AST checker, relevance rule, multi-turn checker and agentic answer check
(bfcl_eval/eval_checker/eval_runner.py).
Scores: pytest_nemoeval/bfcl_scores.py. The package itself: pytest_nemoeval/bfcl_official.py (every bfcl_eval
import happens inside a function: `pytest --help` and other suites never load it).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
from pathlib import Path
from typing import Any


from pytest_nemoeval.tasks.bfcl.official import (CHECKER_MODEL, SEARCH_KEY_ENV, backend_methods, forget_instances,
                                           instance_name, model_result, require_bfcl_eval, run_calls, to_calls,
                                           tools_for)
from pytest_nemoeval.data import DataSource
from pytest_nemoeval.errors import DataError, EndpointDown, GenerationError

NON_LIVE = ["simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple",
            "irrelevance"]
LIVE = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
        "live_relevance"]
MULTI_TURN = ["multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context"]
WEB_SEARCH = ["web_search_base", "web_search_no_snippet"]
MEMORY = ["memory_kv", "memory_vector", "memory_rec_sum"]
CATEGORIES = {"bfcl_v3": NON_LIVE + LIVE + MULTI_TURN, "bfcl_v4": NON_LIVE + LIVE + MULTI_TURN + WEB_SEARCH + MEMORY}

VECTOR_SKIP = ("the vector memory backend embeds with sentence-transformers' all-MiniLM-L6-v2, which it downloads "
               "from the Hugging Face hub when bfcl-eval imports it; runs stay offline, so this category is not "
               "run and the overall score leaves it out")


def skip(row: dict[str, Any]) -> str | None:
    """The suites' `Suite(skip=...)`: why an entry's category cannot run here (its items are still collected,
    so the skip and its reason show), decided when the run starts."""
    category = row["category"]
    if category in WEB_SEARCH and not os.environ.get(SEARCH_KEY_ENV):
        return (f"{category}: web search needs a search backend: export {SEARCH_KEY_ENV} (bfcl-eval's "
                "WebSearchAPI searches through SerpAPI and fetches pages from the internet); without it this "
                "category is not run and the overall score leaves it out")
    return f"{category}: {VECTOR_SKIP}" if category == "memory_vector" else None


def failed_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """The suites' `Suite(failed_inputs=...)`: an entry that errored is a wrong entry of its category."""
    return {"category": row["category"]}


class BfclData(DataSource):
    """The entries that bfcl-eval ships, one row per entry: the prompt entry (function docs without the
    language hints, as the checker needs them), its possible answer and its category. `limit` is per
    category, so that a smoke run touches every category."""

    def __init__(self, version: str) -> None:
        self.version = version

    def describe(self) -> str:
        return f"bfcl-eval's bfcl_eval/data ({self.version} categories)"

    def load(self, limit: int | None) -> list[dict[str, Any]]:
        require_bfcl_eval()
        from bfcl_eval.utils import load_dataset_entry, load_ground_truth_entry

        rows = []
        for category in CATEGORIES[self.version]:
            try:
                entries = load_dataset_entry(category, include_prereq=False, include_language_specific_hint=False)
                answers = ({} if category == "memory_vector" or "irrelevance" in category or category == "live_relevance"
                           else {_truth_id(entry["id"], category): entry["ground_truth"]
                                 for entry in load_ground_truth_entry(category)})
            except (OSError, ValueError, KeyError) as exc:
                raise DataError(f"{self.describe()}: cannot read {category}: {exc}") from None
            for entry in entries[:limit]:
                rows.append({**entry, "category": category, "ground_truth": answers.get(entry["id"])})
        return rows


def _truth_id(entry_id: str, category: str) -> str:
    # agentic entries are renamed per category (memory_0-... -> memory_kv_0-..., web_search_0 ->
    # web_search_base_0), their answers are not
    for family in ("memory", "web_search"):
        if category.startswith(family):
            return entry_id.replace(family, category, 1)
    return entry_id


def item_label(row: dict[str, Any]) -> str:
    """The entry id in the item id (`test_bfcl_v4[s00042-multi_turn_base_3-r0]`), so -k selects categories."""
    return re.sub(r"[^\w.-]", "_", str(row["id"]))


def prompt(row: dict[str, Any]) -> list[dict[str, Any]]:
    return list(row["question"][0])


async def converse(sample: dict[str, Any], chat: Any) -> dict[str, Any]:
    """The suites' driver: one request with the entry's tools; multi-turn entries run every turn."""
    category = sample["category"]
    if category in MULTI_TURN or category in WEB_SEARCH:
        return await _multi_turn(sample, chat)
    if category in MEMORY:
        return await _memory_question(sample, chat)
    reply = await chat(chat.messages, **_tools(tools_for(sample["function"], category)))
    return {**reply, "result": model_result(reply)}


def _tools(tools: list[dict[str, Any]]) -> dict[str, Any]:
    return {"tools": tools} if tools else {}  # as the OpenAI handler: no `tools` key for an empty list


async def _multi_turn(sample: dict[str, Any], chat: Any, memory_dir: Path | None = None) -> dict[str, Any]:
    """bfcl-eval's BaseHandler.inference_multi_turn_FC with its OpenAI completions handler. A memory entry
    (`memory_dir` given) loads its backend's snapshot, gets the memory system prompt, and a prerequisite
    conversation flushes the backend's memory at its end."""
    require_bfcl_eval()
    from bfcl_eval.constants.default_prompts import DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC, MAXIMUM_STEP_LIMIT
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import is_empty_execute_response
    from bfcl_eval.model_handler.utils import add_memory_instruction_system_prompt
    from bfcl_eval.utils import extract_test_category_from_id, is_memory_prereq

    functions = copy.deepcopy(sample["function"])
    holdout = sample.get("missed_function") or {}
    tools = tools_for(functions, sample["category"])
    instance = instance_name()
    long_context = "long_context" in sample["category"]
    initial_config = _initial_config(sample, memory_dir)
    timeout = float(chat.settings.get("request_timeout") or 600)
    # the first turn: the item's own prompt (any system prompt included), or a prerequisite's first turn
    question = [chat.messages if sample is chat.sample else list(sample["question"][0]), *sample["question"][1:]]
    messages: list[dict[str, Any]] = []
    turns: list[list[Any]] = []
    calls_made: list[dict[str, Any]] = []
    force_quit = False
    reply: dict[str, Any] = {}

    def execute(calls: list[str]) -> Any:
        return run_calls(calls, initial_config, sample["involved_classes"], instance, sample["id"], long_context,
                         timeout)

    try:
        _, instances = await execute([])
        allowed = backend_methods(tuple(sample["involved_classes"]))
        if memory_dir is not None:
            question = add_memory_instruction_system_prompt(
                copy.deepcopy(question), extract_test_category_from_id(sample["id"]), sample["scenario"],
                next(iter(instances.values())))
        for turn_index, turn_messages in enumerate(question):
            if str(turn_index) in holdout:  # miss_func: the held-out docs arrive with a fixed user message
                functions.extend(holdout[str(turn_index)])
                tools = tools_for(functions, sample["category"])
                turn_messages = [{"role": "user", "content": DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC}]
            messages.extend(turn_messages)
            steps: list[Any] = []
            count = 0
            while True:
                reply = await chat(messages, **_tools(tools))
                result = model_result(reply)
                steps.append(result)
                calls = reply.get("tool_calls") or []
                messages.append({"role": "assistant", "content": reply.get("content"),
                                 **({"tool_calls": calls} if calls else {})})
                calls_made.extend(calls)
                try:
                    decoded = to_calls(result, allowed)
                except Exception:  # the handler's rule: text or unparsable arguments end the turn
                    break
                if is_empty_execute_response(decoded):
                    break
                outputs, _ = await execute(decoded)
                for output, call in zip(outputs, calls):
                    messages.append({"role": "tool", "content": output, "tool_call_id": call.get("id")})
                count += 1
                if count > MAXIMUM_STEP_LIMIT:
                    force_quit = True
                    break
            turns.append(steps)
            if force_quit:
                break
        if memory_dir is not None and is_memory_prereq(sample["id"]):
            next(iter(instances.values()))._flush_memory_to_local_file()
    finally:
        forget_instances(instance)
    return {"content": reply.get("content") or "", "reasoning_content": reply.get("reasoning_content"),
            "finish_reason": reply.get("finish_reason"), "tool_calls": calls_made, "result": turns,
            "force_quit": force_quit}


def _initial_config(sample: dict[str, Any], memory_dir: Path | None) -> dict[str, Any]:
    """The backends' initial configuration, as bfcl-eval's generation sets it (utils.populate_initial_settings_*):
    a memory entry's snapshot location, web search's show_snippet, else the entry's own."""
    from bfcl_eval.utils import extract_test_category_from_id

    if memory_dir is not None:
        return {sample["involved_classes"][0]: {
            "model_result_dir": memory_dir, "scenario": sample["scenario"], "test_id": sample["id"],
            "test_category": extract_test_category_from_id(sample["id"])}}
    if sample["category"] in WEB_SEARCH:
        return {"WebSearchAPI": {"show_snippet": "no_snippet" not in sample["category"]}}
    return sample.get("initial_config") or {}


# -- memory (v4) ---------------------------------------------------------------------------------------
# The engine process runs every driver: one chain of prerequisite conversations per (snapshot directory,
# scenario), started by the first question that needs it and awaited by the others.
_memory_chains: dict[tuple[str, str], asyncio.Future[list[str]]] = {}
_prerequisites: dict[str, list[dict[str, Any]]] = {}


async def _memory_question(sample: dict[str, Any], chat: Any) -> dict[str, Any]:

    memory_dir = (Path(chat.settings.get("results_dir") or "results") / "bfcl_memory" / sample["category"]
                  / f"r{chat.repeat}").resolve()
    key = (str(memory_dir), sample["scenario"])
    chain = _memory_chains.get(key)
    if chain is None:
        chain = _memory_chains[key] = asyncio.ensure_future(_memory_prerequisites(sample, chat, memory_dir))
        chain.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved, even unawaited
    try:
        failed = await asyncio.shield(chain)
    except GenerationError as exc:
        raise GenerationError(f"{sample['category']} {sample['scenario']}: the endpoint failed during a prerequisite "
                              f"conversation, so its questions cannot run: {exc}") from None
    return {**await _multi_turn(sample, chat, memory_dir), "failed_prerequisites": failed}


async def _memory_prerequisites(sample: dict[str, Any], chat: Any, memory_dir: Path) -> list[str]:
    """The scenario's prerequisite conversations, in order, each starting from the memory the last finished
    one left. As in bfcl-eval, one that fails (e.g. its context overflows) is left out and the chain goes on;
    returns those failures. A dead endpoint stops the chain (EndpointDown)."""

    category = sample["category"]
    if category not in _prerequisites:
        from bfcl_eval.utils import is_memory_prereq, load_dataset_entry

        _prerequisites[category] = [entry for entry in load_dataset_entry(category, include_language_specific_hint=False)
                                    if is_memory_prereq(entry["id"])]
    failed = []
    for entry in _prerequisites[category]:
        if entry["scenario"] == sample["scenario"]:
            try:
                await _multi_turn({**entry, "category": category}, chat, memory_dir)
            except EndpointDown:
                raise
            except GenerationError as exc:
                failed.append(f"{entry['id']}: {exc}")
    return failed


def check(sample: dict[str, Any], result: Any) -> dict[str, Any]:
    """The official verdict on a model result (as `model_result` / the driver keeps it): {"valid", "error",
    "error_type", "decoded"}, following bfcl-eval's eval_runner for the entry's category."""
    require_bfcl_eval()
    category = sample["category"]
    if category in MULTI_TURN:
        return _check_multi_turn(sample, result)
    if category in MEMORY or category in WEB_SEARCH:
        return _check_agentic(sample, result)
    if "irrelevance" in category or category == "live_relevance":
        return _check_relevance(category, result)
    return _check_ast(sample, result)


def _decode_ast(result: Any) -> list[dict[str, Any]]:
    # bfcl-eval's OpenAICompletionsHandler.decode_ast in function-calling mode
    decoded = []
    for invoked in result:
        name = list(invoked.keys())[0]
        decoded.append({name: json.loads(invoked[name])})
    return decoded


def _check_relevance(category: str, result: Any) -> dict[str, Any]:
    from bfcl_eval.utils import is_empty_output

    try:
        decoded: Any = _decode_ast(result)
        called, error = not is_empty_output(decoded), None
    except Exception as exc:
        decoded, called, error = None, False, str(exc)
    if "irrelevance" in category:
        if called:
            return _invalid("Valid syntax. Successfully decode AST when it should not.",
                            "irrelevance_error:decoder_success", decoded)
    elif not called:
        return _invalid(f"Invalid syntax. Failed to decode AST when it should have. {error}",
                        "relevance_error:decoder_failed", decoded)
    return {"valid": True, "error": None, "error_type": None, "decoded": decoded}


def _check_ast(sample: dict[str, Any], result: Any) -> dict[str, Any]:
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.utils import is_function_calling_format_output

    category = sample["category"]
    language = {"simple_java": Language.JAVA, "simple_javascript": Language.JAVASCRIPT}.get(category, Language.PYTHON)
    try:
        decoded = _decode_ast(result)
    except Exception as exc:
        return _invalid(f"Invalid syntax. Failed to decode AST. {exc}", "ast_decoder:decoder_failed", None)
    if not is_function_calling_format_output(decoded):
        return _invalid("Did not output in the specified format.", "ast_decoder:decoder_wrong_output_format", decoded)
    verdict = ast_checker(copy.deepcopy(sample["function"]), decoded, sample["ground_truth"], language, category,
                          CHECKER_MODEL)
    if not verdict["valid"]:
        return _invalid("; ".join(map(str, verdict["error"])), verdict["error_type"], decoded)
    return {"valid": True, "error": None, "error_type": None, "decoded": decoded}


def _check_multi_turn(sample: dict[str, Any], turns: Any) -> dict[str, Any]:
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import is_empty_execute_response

    truth = sample["ground_truth"]
    if not isinstance(turns, list):
        return _invalid("Model did not output a list of model responses.", "multi_turn:inference_error", None)
    if len(turns) != len(truth):
        return _invalid(f"Model was force-terminated during inference phase: {len(turns)} turns of {len(truth)}.",
                        "multi_turn:force_terminated", None)
    allowed = backend_methods(tuple(sample["involved_classes"]))  # outside the try: a failure here is an error
    decoded: list[list[list[str]]] = []
    for steps in turns:
        kept = []
        for step in steps:
            try:
                calls = to_calls(step, allowed)
            except Exception:  # text and unparsable steps are ignored, as in eval_runner
                continue
            if not is_empty_execute_response(calls):
                kept.append(calls)
        decoded.append(kept)
    name = instance_name()
    try:
        verdict = multi_turn_checker(decoded, truth, copy.deepcopy(sample), sample["category"], name)
    finally:
        forget_instances(name)
    if not verdict["valid"]:
        return _invalid(str(verdict.get("error_message")), verdict.get("error_type"), decoded)
    return {"valid": True, "error": None, "error_type": None, "decoded": decoded}


def _check_agentic(sample: dict[str, Any], turns: Any) -> dict[str, Any]:
    """eval_runner._evaluate_single_agentic_entry: the last step that is not a call must contain an answer."""
    from bfcl_eval.eval_checker.agentic_eval.agentic_checker import agentic_checker
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import is_empty_execute_response
    from bfcl_eval.model_handler.utils import convert_to_function_call

    if not isinstance(turns, list) or len(turns) != 1:
        return _invalid("Error during inference phase. Model did not output a list of model responses.",
                        "agentic:inference_error", None)
    decoded, last_text = [], None
    for step in turns[0]:
        try:
            calls = convert_to_function_call(step)  # decoded only, never run
        except Exception:
            last_text = step
            continue
        if is_empty_execute_response(calls):
            last_text = step
            continue
        decoded.append(calls)
    if not last_text:
        return _invalid("Cannot find the last chat message that is not a function call.",
                        "agentic:no_last_message", decoded)
    verdict = agentic_checker(last_text, sample["ground_truth"])
    if not verdict["valid"]:
        return _invalid(verdict["error_message"], verdict["error_type"], decoded)
    return {"valid": True, "error": None, "error_type": None, "decoded": decoded}


def _invalid(error: str, error_type: str | None, decoded: Any) -> dict[str, Any]:
    return {"valid": False, "error": error[:1000], "error_type": error_type, "decoded": decoded}


def score(sample: dict[str, Any], response: Any, verdict: Any) -> None:
    """The suites' scorer: record the official verdict and the calls made (for a memory question, also the
    prerequisite conversations that failed and were left out)."""
    category = sample["category"]
    checked = check(sample, response.body.get("result"))
    extra = {"failed_prerequisites": response.body["failed_prerequisites"]} if category in MEMORY else {}
    verdict(checked["valid"], answer=checked["decoded"], expected=sample.get("ground_truth"),
            category=category, tool_calls=response.tool_calls, reason=checked["error"],
            error_type=checked["error_type"], metric_inputs={"category": category}, **extra)
