"""lm-evaluation-harness tasks: few-shot prompts, the context/continuation split, log-likelihood sums, acc_norm.

Log-probs come from the toy model of lmserver.py (" the": -0.25, any other token: -0.5 per character), so every
expected value here is computed by hand.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from lmserver import ToyModel
from pytest_nemoeval.engine.loglikelihood import LoglikelihoodScorer
from pytest_nemoeval.errors import GenerationError
from pytest_nemoeval.harness import FewShot, HarnessTask, acc_metrics, scores
from pytest_nemoeval.metrics import SampleOutcome


class ToyServer:
    """`send` for the scorer: the toy model as vLLM (echo) or llama.cpp (forced tokens) answers."""

    def __init__(self) -> None:
        self.model = ToyModel()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.sent.append((path, payload))
        if path == "/tokenize":
            return {"tokens": self.model.tokenize(payload.get("prompt") or payload.get("content"))}
        ids = payload["prompt"]
        if payload.get("echo"):
            scored = ids + [0]
            return {"choices": [{"logprobs": {
                "token_logprobs": [None] + [self.model.logprob(t) for t in scored[1:]],
                "top_logprobs": [None] + [{self.model.texts[t]: self.model.logprob(t), " the": -0.25}
                                          for t in scored[1:]]}}]}
        forced = int(next(iter(payload["logit_bias"])))
        return {"choices": [{"logprobs": {"content": [{"id": forced, "logprob": self.model.logprob(forced),
                                                       "top_logprobs": [{"id": 0, "logprob": -0.25}]}]}}]}


def score(server: ToyServer, method: str, pairs: list[tuple[str, str]], **spec: Any) -> dict[str, Any]:
    scorer = LoglikelihoodScorer(server.send, "toy")
    server_kind = "vllm" if method == "echo" else "llama.cpp"
    contexts = list(dict.fromkeys(context for context, _ in pairs))
    requests = [[contexts.index(context), continuation] for context, continuation in pairs]
    return asyncio.run(scorer.score({"contexts": contexts, "requests": requests, "server": server_kind,
                                     "method": method, "slots": 2, **spec}))


@pytest.mark.parametrize("method", ["echo", "teacher_forcing"])
def test_log_likelihoods_are_sums_over_the_continuation_tokens(method):
    server = ToyServer()
    result = score(server, method, [("Question: sky?\nAnswer:", " the"), ("Question: sky?\nAnswer:", " blue sky")])
    # " the": -0.25 and the top token; " blue" (5 chars) + " sky" (4 chars): -4.5, not greedy
    assert result["loglikelihoods"] == [[-0.25, True], [-4.5, False]]
    assert result["continuation_tokens"] == [1, 2] and result["method"] == method


@pytest.mark.parametrize("method", ["echo", "teacher_forcing"])
def test_trailing_whitespace_of_the_context_moves_to_the_continuation(method):
    server = ToyServer()
    result = score(server, method, [("Answer: ", "B")])
    # scored as ("Answer:", " B"): one token " B" of 2 characters
    assert result["loglikelihoods"] == [[-1.0, False]]
    tokenized = [payload.get("prompt") or payload.get("content") for path, payload in server.sent if path == "/tokenize"]
    assert tokenized == ["Answer: B", "Answer:"]


def test_the_continuation_is_what_follows_the_contexts_token_count():
    """A token across the boundary: tokens("foobar baz")[len(tokens("foo")):] is [" baz"] (lm-eval's rule)."""
    server = ToyServer()
    result = score(server, "echo", [("foo", "bar baz")])
    assert result["loglikelihoods"] == [[-2.0, False]] and result["continuation_tokens"] == [1]


def test_teacher_forcing_sends_one_request_per_token_on_one_slot():
    server = ToyServer()
    score(server, "teacher_forcing", [("a b", " c d"), ("a b", " e")])
    sent = [payload for path, payload in server.sent if path == "/completions"]
    a, b, c, d, e = (server.model.ids[piece] for piece in ("a", " b", " c", " d", " e"))
    assert [payload["prompt"] for payload in sent] == [[a, b], [a, b, c], [a, b]]
    assert [payload["logit_bias"] for payload in sent] == [{str(c): 100}, {str(d): 100}, {str(e): 100}]
    assert {payload["id_slot"] for payload in sent} == {0} and all(p["max_tokens"] == 1 for p in sent)
    server.sent.clear()
    score(server, "teacher_forcing", [("a b", " c")], pin=False)
    assert [payload["id_slot"] for path, payload in server.sent if path == "/completions"] == [-1]


def test_the_echo_request_is_the_token_ids_with_echo_and_one_logprob():
    server = ToyServer()
    score(server, "echo", [("one two", " three")])
    (path, payload), = [(path, payload) for path, payload in server.sent if path == "/completions"]
    assert payload == {"model": "toy", "prompt": server.model.tokenize("one two three"), "max_tokens": 1,
                       "temperature": 0, "logprobs": 1, "echo": True}


def test_the_oldest_context_tokens_go_beyond_max_length():
    server = ToyServer()
    result = score(server, "echo", [("w1 w2 w3 w4 w5 w6", " x y")], max_length=5)
    (path, payload), = [(path, payload) for path, payload in server.sent if path == "/completions"]
    assert payload["prompt"] == server.model.tokenize("w1 w2 w3 w4 w5 w6 x y")[-5:]
    assert result["loglikelihoods"] == [[-2.0, False]]


def test_a_forced_token_the_server_did_not_sample_fails_the_item():
    server = ToyServer()

    async def wrong(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = await server.send(path, payload)
        if path == "/completions":
            body["choices"][0]["logprobs"]["content"][0]["id"] = -7
        return body

    scorer = LoglikelihoodScorer(wrong, "toy")
    with pytest.raises(GenerationError, match="logit_bias did not force token"):
        asyncio.run(scorer.score({"contexts": ["a"], "requests": [[0, " b"]], "server": "llama.cpp",
                                  "method": "teacher_forcing"}))


# -- prompts and scores -------------------------------------------------------------------------------

QA = HarnessTask(text=lambda row: f"Q: {row['q']}\nA:", choices=lambda row: row["options"],
                 target=lambda row: row["gold"], description="Trivia.\n\n")


def test_few_shot_context_is_description_examples_then_the_sample():
    examples = [{"q": "1+1?", "options": ["2", "3"], "gold": 0}, {"q": "2+1?", "options": ["2", "3"], "gold": 1}]
    row = {"q": "sky?", "options": ["blue", "green"], "gold": 0}
    assert QA.context(row, examples) == "Trivia.\n\nQ: 1+1?\nA: 2\n\nQ: 2+1?\nA: 3\n\nQ: sky?\nA:"
    assert QA.requests(row, examples)[1] == ("Trivia.\n\nQ: 1+1?\nA: 2\n\nQ: 2+1?\nA: 3\n\nQ: sky?\nA:", " green")


def test_partial_evaluation_has_two_contexts_and_one_continuation():
    task = HarnessTask(text=lambda row: {"1": 0, "2": 1}[row["answer"]],
                       choices=lambda row: [row["sentence"][:row["sentence"].index("_")] + o
                                            for o in (row["option1"], row["option2"])],
                       target=lambda row: row["sentence"][row["sentence"].index("_") + 1:].strip(),
                       multiple_input=True)
    shot = {"sentence": "Ann beat Bo because _ was fast.", "option1": "Ann", "option2": "Bo", "answer": "1"}
    row = {"sentence": "The cup fell off the shelf because _ was tilted.", "option1": "cup", "option2": "shelf",
           "answer": "2"}
    assert task.requests(row, [shot]) == [
        ("Ann beat Bo because Ann was fast.\n\nThe cup fell off the shelf because cup", " was tilted."),
        ("Ann beat Bo because Ann was fast.\n\nThe cup fell off the shelf because shelf", " was tilted.")]
    assert task.gold(row) == 1


def test_acc_norm_divides_by_the_choice_length_in_characters():
    row = {"q": "?", "options": ["ab", "abcdef"], "gold": 1}
    scored = scores(QA, row, [-4.0, -6.0])  # per character: -2.0 and -1.0
    assert (scored["pred"], scored["pred_norm"], scored["acc"], scored["acc_norm"]) == (0, 1, False, True)
    assert scores(QA, {"q": "?", "options": ["a", "b"], "gold": 0}, [-1.0, -1.0])["pred"] == 0  # ties: the first


def test_acc_norm_metric_counts_an_errored_item_as_wrong():
    outcomes = [SampleOutcome(0, [True], [0], [{"acc_norm": True}]),
                SampleOutcome(1, [False], [1], [{"acc_norm": True}]),
                SampleOutcome(2, [False], [None], [None], ["HTTP 500"])]
    metrics = acc_metrics(outcomes, 1)
    assert metrics["acc"]["value"] == pytest.approx(1 / 3) and metrics["acc_norm"]["value"] == pytest.approx(2 / 3)


def test_the_default_sampler_is_one_seeded_stream_in_dataset_order():
    examples = [{"i": i} for i in range(30)]
    rows = [{"n": n} for n in range(4)]
    stream = random.Random(1234)
    assert FewShot(None, shots=3).choose(rows, examples) == [stream.sample(range(30), 3) for _ in rows]  # type: ignore[arg-type]
    stream = random.Random(1234)  # draw_extra: n + 1 drawn, the first n kept; the stream moves on by n + 1
    assert FewShot(None, shots=3, draw_extra=True).choose(rows, examples) == [  # type: ignore[arg-type]
        stream.sample(range(30), 4)[:3] for _ in rows]


def test_first_n_takes_the_first_examples_of_the_samples_group():
    examples = [{"subject": s, "k": k} for s in ("art", "law") for k in range(6)]
    chosen = FewShot(None, shots=5, sampler="first_n", group="subject").choose(  # type: ignore[arg-type]
        [{"subject": "law"}, {"subject": "art"}], examples)
    assert chosen == [[6, 7, 8, 9, 10], [0, 1, 2, 3, 4]]
    with pytest.raises(ValueError, match="5 examples needed, the few-shot split has 0 for subject 'math'"):
        FewShot(None, shots=5, sampler="first_n", group="subject").choose([{"subject": "math"}], examples)  # type: ignore[arg-type]
