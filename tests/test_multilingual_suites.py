"""MMLU-ProX and WMT24++: prompts pinned to NeMo Skills' text, the language-regex extraction, and end-to-end runs
on the mock server whose scores are computed by hand (accuracy) or by sacrebleu itself (BLEU)."""

from __future__ import annotations

import json
import shutil

import pytest
import sacrebleu

from helpers import ROOT, copy_suites, results, samples
from pytest_nemoeval import extract_choice_letter_by
from pytest_nemoeval.errors import DataError
from pytest_nemoeval.metrics import SampleOutcome
from pytest_nemoeval.tasks import mmlu_prox, wmt24pp

ROWS = {row["language"]: row for row in map(json.loads, (ROOT / "examples/data/mmluprox.jsonl").open())}
SEGMENTS = [json.loads(line) for line in (ROOT / "examples/data/wmt24pp.jsonl").open()]
TEN = "\n".join(f"{letter}. {n}" for letter, n in zip("ABCDEFGHIJ", range(1, 11)))


def row(language: str, category: str = "computer science") -> dict:
    return {"language": language, "category": category, "question": "Q?",
            **{f"option_{i}": i + 1 for i in range(10)}}


# prepare.py's `question` for one row of each default language, written out from lang_libs.py's strings
PROMPTS = {
    "en": ('The following are multiple choice questions (with answers) about computer_science. Think step by step '
           'and then finish your answer with "the answer is (X)" where X is the correct letter choice.\n'
           "Question:\nQ?\nOptions:\n" + TEN + "\n"),
    "de": ("Im Folgenden sind Multiple-Choice-Fragen (mit Antworten) zu Informatik. Denken Sie Schritt für Schritt "
           'nach und beenden Sie Ihre Antwort mit "Die Antwort ist (X)", wobei X der richtige Buchstabe ist.\n'
           "Frage:\nQ?\nOptionen:\n" + TEN + "\n"),
    "es": ("Las siguientes son preguntas de opción múltiple (con respuestas) sobre informática. Piense paso a paso "
           'y luego termine su respuesta con "La respuesta es (X)" donde X es la letra de la opción correcta.\n'
           "Pregunta:\nQ?\nOpciones:\n" + TEN + "\n"),
    "fr": ("Voici des questions à choix multiples (avec réponses) sur informatique. Réfléchissez étape par étape, "
           'puis terminez votre réponse par "La réponse est (X)" où X est la lettre correspondant au bon choix.\n'
           "Question :\nQ?\nOptions :\n" + TEN + "\n"),
    "it": ("Ecco una domanda a scelta multipla su informatica (con risposta). Si prega di ragionare passo dopo passo "
           'e terminare la risposta con "La risposta è (X)", dove X è la lettera dell\'opzione corretta.\n'
           "Domanda:\nQ?\nOpzioni:\n" + TEN + "\n"),
    "ja": ("以下はコンピュータサイエンスに関する選択問題（解答付き）です。段階的に考え、最後に「答えは (X) です」と回答を締めくくって"
           "ください。Xは正解の選択肢を示す文字です。\n質問：\nQ?\n選択肢：\n" + TEN + "\n"),
}


@pytest.mark.parametrize("language", sorted(PROMPTS))
def test_mmlu_prox_prompt_is_prepare_py_question(language):
    assert mmlu_prox.prompt(row(language)) == PROMPTS[language]


def test_mmlu_prox_absent_option_reads_none_and_regexes_are_prepare_pys():
    assert mmlu_prox.prompt(ROWS["de"]).endswith("I. 5\nJ. None\n")  # all ten option_i, as prepare.py
    assert mmlu_prox.answer_regex("en") == r"answer is \**\(?([ABCDEFGHIJ])\)?\**"
    assert mmlu_prox.answer_regex("ja") == r"答えは \(?([ABCDEFGHIJ])\)? です"


@pytest.mark.parametrize("text, language, letter", [
    ("so the answer is (B).", "en", "B"),
    ("Thus, the answer is **(C)**", "en", "C"),
    ("answer is D then answer is (E)", "en", "E"),  # the last match
    ("Die Antwort ist (B). \\boxed{C}", "de", "B"),  # the regex before the box (NeMo Skills since 2025-12)
    ("Die Antwort lautet \\boxed{c}", "de", "C"),  # no regex match: the box, upper-cased
    ("答えは (Ｂ) です", "ja", None),  # a full-width letter is not [A-J] in the regex, nor "Answer: X"
    ("よって \\boxed{Ｄ}", "ja", "D"),  # ... but a boxed one is normalised
    ("La respuesta es la opción correcta.\nAnswer: f", "es", "F"),  # Artificial Analysis' fallback
    ("no letter at all", "fr", None),
])
def test_mmlu_prox_extraction(text, language, letter):
    assert extract_choice_letter_by(text, mmlu_prox.answer_regex(language)) == letter


def test_unknown_language_is_one_line():
    with pytest.raises(DataError, match=r"^unknown language 'xx' \(known: af, ar, "):
        mmlu_prox.source({"languages": ["de", "xx"]})
    with pytest.raises(DataError, match=r"^unknown target language 'qq_QQ'"):
        wmt24pp.source({"languages": ["de_DE", "qq_QQ"], "comet": False})


def test_wmt24pp_prompt_and_tokenizers():
    assert wmt24pp.prompt(SEGMENTS[3]) == ("Translate the following segment into Japanese, without additional "
                                           "explanation.\n\nThe cat is sleeping on the sofa.")
    assert [wmt24pp.tokenizer(code) for code in ("ja_JP", "zh_CN", "ko_KR", "de_DE")] == ["ja-mecab", "zh", "ko-mecab",
                                                                                       "13a"]


def test_translation_metrics_per_repeat_then_mean_and_comet():
    # two repeats of two de_DE segments and one ja_JP segment: BLEU per pair and repeat, mean over repeats,
    # then over pairs; COMET is the mean of the segment scores; both as fractions (the reference's x 100)
    def inputs(pair, hyp, ref, comet):
        return {"pair": pair, "hypothesis": hyp, "reference": ref, "comet": comet}
    de = [("Das Wetter ist schön.", "Das Wetter ist heute schön."), ("Ich lese ein Buch.", "Ich lese ein Buch.")]
    outcomes = [SampleOutcome(0, [True, True], ["x", "y"], [inputs("en-de_DE", de[0][0], de[0][1], 0.5),
                                                            inputs("en-de_DE", "Wetter", de[0][1], 0.25)]),
                SampleOutcome(1, [True, True], ["x", "y"], [inputs("en-de_DE", de[1][0], de[1][1], 1.0),
                                                            inputs("en-de_DE", de[1][0], de[1][1], 0.75)]),
                SampleOutcome(2, [True, True], ["x", "y"], [inputs("en-ja_JP", "猫が寝ています。", "猫が寝ている。", 0.5),
                                                            inputs("en-ja_JP", "猫が寝ている。", "猫が寝ている。", 0.5)])]
    got = wmt24pp.translation_metrics(outcomes, 2)
    de_runs = [sacrebleu.corpus_bleu([de[0][0], de[1][0]], [[de[0][1], de[1][1]]]).score / 100,
               sacrebleu.corpus_bleu(["Wetter", de[1][0]], [[de[0][1], de[1][1]]]).score / 100]
    ja_runs = [sacrebleu.corpus_bleu(["猫が寝ています。"], [["猫が寝ている。"]], tokenize="ja-mecab").score / 100, 1.0]
    assert got["bleu_de_DE"]["value"] == pytest.approx(sum(de_runs) / 2)
    assert got["bleu_ja_JP"]["value"] == pytest.approx(sum(ja_runs) / 2)
    assert got["bleu"]["value"] == pytest.approx((sum(de_runs) / 2 + sum(ja_runs) / 2) / 2)
    assert got["comet_de_DE"]["value"] == pytest.approx((0.75 + 0.5) / 2)  # repeat 0: (.5+1)/2, repeat 1: (.25+.75)/2
    assert got["comet"]["value"] == pytest.approx(((0.75 + 0.5) / 2 + 0.5) / 2)


@pytest.fixture
def multilingual(pytester: pytest.Pytester) -> pytest.Pytester:
    copy_suites(pytester, "mmluprox", "wmt24pp")
    shutil.copytree(ROOT / "examples" / "data", pytester.path / "data")
    return pytester


def answers(pytester: pytest.Pytester, rules: list[list[str]]) -> str:
    path = pytester.path / "answers.json"
    path.write_text(json.dumps(rules, ensure_ascii=False))
    return str(path)


def test_mmlu_prox_per_language_and_overall_accuracy(multilingual, mock_server):
    # en wrong (A for C), de right by its regex, es right by the box, ja right by its regex, fr "Answer: A"
    # for D wrong: 3 of 5 samples; each language 1 or 0
    server = mock_server("--answers", answers(multilingual, [
        ["aerobic respiration", "Reasoning... so the answer is (A)."],
        ["Protonen", "Sechs Protonen. Die Antwort ist (B)."],
        ["derivada", "La derivada es 2x: \\boxed{C}"],
        ["主記憶装置", "<think>答えは (A) です?</think>答えは (B) です"],
        ["capitale", "Answer: A"]]))
    result = multilingual.runpytest_subprocess("suites/test_mmluprox.py", "--endpoint", server.url,
                                               "--data-dir", "data", "--repeats", "1")
    result.stdout.fnmatch_lines(["*2 incorrect, 3 correct*"])
    entry = results(multilingual)["benchmarks"]["mmluprox"]
    assert entry["metrics"]["accuracy"]["value"] == pytest.approx(0.6)  # over samples, as NeMo Skills' _all_
    by = entry["categories"]["by"]
    assert {language: by[language]["metrics"]["accuracy"]["value"] for language in by} == {
        "en": 0.0, "de": 1.0, "es": 1.0, "ja": 1.0, "fr": 0.0}
    assert {row["extracted"] for row in samples(multilingual, "mmluprox")} == {"A", "B", "C"}


def test_mmlu_prox_languages_option_and_k_selection(multilingual, mock_server):
    server = mock_server("--answer", "the answer is (C)")
    (multilingual.path / "recipe.yaml").write_text("benchmarks:\n  mmluprox:\n    data: {languages: [ja, es]}\n")
    chosen = multilingual.runpytest_subprocess("suites/test_mmluprox.py", "--endpoint", server.url,
                                               "--data-dir", "data", "--recipe", "recipe.yaml", "--collect-only", "-q")
    chosen.stdout.fnmatch_lines(["*s00000-es-r0*", "*s00001-ja-r0*", "*2 tests collected*"])
    one = multilingual.runpytest_subprocess("suites/", "--endpoint", server.url, "--data-dir", "data",
                                            "-k", "mmluprox and -es-", "--collect-only", "-q")
    one.stdout.fnmatch_lines(["*s00002-es-r0*", "*1/6 tests collected (5 deselected)*"])  # wmt24pp left alone
    (multilingual.path / "recipe.yaml").write_text("benchmarks:\n  mmluprox:\n    data: {languages: [de, xx]}\n")
    bad = multilingual.runpytest_subprocess("suites/test_mmluprox.py", "--data-dir", "data", "--recipe",
                                            "recipe.yaml", "--collect-only")
    assert bad.ret != 0
    bad.stderr.fnmatch_lines(["ERROR: mmluprox: unknown language 'xx' (known: af, ar, bn, *, zu)"])
    assert server.chat_requests() == 0


def test_wmt24pp_bleu_per_pair_and_mean_match_sacrebleu(multilingual, mock_server):
    replies = {"The weather is nice today.": "Das Wetter ist heute sehr schön.",
               "I am reading a book in the garden.": "Ich lese ein Buch im Garten.",
               "The train leaves at eight o'clock.": "El tren sale a las ocho en punto.",
               "The cat is sleeping on the sofa.": "<think>猫</think>猫がソファで寝ています。",
               "We will meet tomorrow morning.": "On se voit demain matin."}
    server = mock_server("--answers", answers(multilingual, [[source, reply] for source, reply in replies.items()]))
    result = multilingual.runpytest_subprocess("suites/test_wmt24pp.py", "--endpoint", server.url,
                                               "--data-dir", "data", "--repeats", "1")
    assert result.ret == 0, result.stdout.str()
    metrics = results(multilingual)["benchmarks"]["wmt24pp"]["metrics"]
    expected = {}
    for pair, tokenize in (("en-de_DE", "13a"), ("en-es_MX", "13a"), ("en-ja_JP", "ja-mecab"), ("en-fr_FR", "13a")):
        rows = [row for row in SEGMENTS if row["lp"] == pair]
        hyps = [replies[row["source"]].rpartition("</think>")[2] for row in rows]  # the answer after the trace
        expected[pair[3:]] = sacrebleu.corpus_bleu(hyps, [[row["target"] for row in rows]], tokenize=tokenize).score / 100
    assert {key: metrics[f"bleu_{key}"]["value"] for key in expected} == pytest.approx(expected, abs=1e-6)
    assert metrics["bleu"]["value"] == pytest.approx(sum(expected.values()) / 4, abs=1e-6)
    assert metrics["bleu"]["pairs"] == 4 and "comet" not in metrics


def test_wmt24pp_comet_without_unbabel_comet_is_one_line(multilingual, mock_server):
    (multilingual.path / "conftest.py").write_text("import sys\nsys.modules['comet'] = None\n")
    (multilingual.path / "recipe.yaml").write_text("benchmarks:\n  wmt24pp:\n    data: {comet: true}\n")
    server = mock_server()
    result = multilingual.runpytest_subprocess("suites/test_wmt24pp.py", "--endpoint", server.url, "--data-dir",
                                               "data", "--recipe", "recipe.yaml")
    assert result.ret != 0
    assert result.stderr.lines[0].startswith("ERROR: wmt24pp: data option comet needs unbabel-comet")
    assert result.stderr.lines[0].endswith("pip install 'pytest-nemoeval[comet]'")
    assert server.chat_requests() == 0


def test_hub_configs_concatenate_in_order_tag_and_stop_at_the_limit(monkeypatch):
    loaded = []

    def load(self, limit):
        loaded.append((self.path, self.name, self.split, self.revision, limit))
        return [{"q": f"{self.name}{i}"} for i in range(3 if limit is None else min(3, limit))]

    monkeypatch.setattr("pytest_nemoeval.data.HubDataset.load", load)
    source = mmlu_prox.source({"languages": ["ja", "de", "fr"]}).at("abc123")
    assert [row["q"] + row["language"] for row in source.load(4)] == ["ja0ja", "ja1ja", "ja2ja", "de0de"]
    assert loaded == [("li-lab/MMLU-ProX", "ja", "test", "abc123", 4), ("li-lab/MMLU-ProX", "de", "test", "abc123", 1)]
    pairs = wmt24pp.source({"languages": ["ja_JP"], "comet": False})
    assert pairs.describe() == "google/wmt24pp (split train, configs en-ja_JP)" and pairs.load(None)[0] == {"q": "en-ja_JP0"}
