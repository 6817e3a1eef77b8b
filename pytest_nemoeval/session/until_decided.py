"""UntilDecidedPlugin (`--until-decided`): after the run's items, each benchmark whose comparison with the baseline
is undecided gets one more repeat of every sample, through the engine like every item (plan, cache, retries,
status line), graded by its suite and recorded in samples.jsonl; then the comparison looks again, with the
group-sequential boundaries of compare/sequential.py, until it decides or the budget (--max-extra-repeats,
--max-extra-time) runs out. Registered in the only process (xdist is refused: the items run where they are
collected).

Every look re-runs every sample (the discordant and uncertain ones sent first): choosing samples by their own
outcomes would bias their means (a sample re-run because it went wrong is pulled back towards right).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

import pytest

from pytest_nemoeval import flock
from pytest_nemoeval.compare.report import compare_runs
from pytest_nemoeval.compare.runs import Run, read_run
from pytest_nemoeval.compare.sequential import design
from pytest_nemoeval.compare.stats import GO, INCONCLUSIVE, NO_GO
from pytest_nemoeval.config import RunConfig
from pytest_nemoeval.session.items import POSITION, ItemRef, ItemsPlugin, item_ref
from pytest_nemoeval.suite import load_suite_module

if TYPE_CHECKING:
    from pytest_nemoeval.session.controller import ControllerPlugin

ENGINE_START = 60.0  # seconds for the next engine to take its lock


class UntilDecidedPlugin:
    def __init__(self, config: pytest.Config, run: RunConfig, controller: ControllerPlugin,
                 items: ItemsPlugin) -> None:
        self.config = config
        self.run = run
        self.controller = controller
        self.items = items
        self.reserve: dict[tuple[str, int, int], pytest.Item] = {}  # (benchmark, sample, repeat): an extra repeat
        self.records: dict[str, dict[str, Any]] = controller.results.until_decided

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """The extra repeats ItemsPlugin collected are kept aside: they run only when a look asks for them."""
        kept = []
        for item in items:
            ref = item_ref(item)
            if isinstance(ref, ItemRef) and ref.repeat >= self.items.prepared[ref.benchmark].repeats:
                if item.get_closest_marker("skip") is None:
                    self.reserve[(ref.benchmark, ref.sample_index, ref.repeat)] = item
            else:
                kept.append(item)
        items[:] = kept

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, Any, Any]:
        result = yield
        if self.controller.engine is not None and not (session.shouldstop or session.shouldfail):
            self.decide(session)
        return result

    # -- the looks ------------------------------------------------------------------------------------

    def decide(self, session: pytest.Session) -> None:
        base_run = read_run(Path(str(self.run.baseline)).resolve(), "--baseline")
        started = time.monotonic()
        self.start(base_run)
        look = 0
        while True:
            comparison = self.compare(base_run)
            undecided = []
            for name, record in self.records.items():
                verdict = comparison["benchmarks"][name]["verdict"]
                if record["stopped"] is not None:
                    continue
                if verdict != INCONCLUSIVE:
                    record.update(decided_at=look, stopped="decided" if verdict in (GO, NO_GO) else verdict.lower())
                else:
                    undecided.append(name)
            if not undecided:
                return
            over_time = self.run.max_extra_time is not None and time.monotonic() - started >= self.run.max_extra_time
            if look == self.run.max_extra_repeats or over_time:
                why = "max-extra-repeats" if look == self.run.max_extra_repeats else "max-extra-time"
                for name in undecided:
                    self.records[name]["stopped"] = why
                return
            look += 1
            stopped = self.run_look(session, base_run, undecided, look)
            if stopped:
                for name in undecided:
                    self.records[name]["stopped"] = stopped
                return

    def start(self, base_run: Run) -> None:
        """The design of each benchmark the test can decide: compared on a per-sample verdict metric, not advisory;
        alpha split (Bonferroni) across the critical ones when --correction holm."""
        comparison = self.compare(base_run)
        eligible = {name: entry for name, entry in comparison["benchmarks"].items() if _eligible(entry)}
        family = sum(entry["tier"] == "critical" for entry in eligible.values()) if self.run.correction == "holm" else 1
        for name in eligible:
            plan = design(self.items.prepared[name].repeats, self.run.max_extra_repeats, self.run.alpha_spending,
                          family)
            self.records[name] = {"repeats": plan.repeats, "max_extra_repeats": plan.extra, "alpha": plan.alpha,
                                  "spending": plan.spending, "look": 0, "looks": 1, "extra_repeats": 0,
                                  "extra_requests": 0, "decided_at": None, "stopped": None}

    def compare(self, base_run: Run) -> dict[str, Any]:
        """The comparison as results.json will hold it, on what the items recorded so far."""
        collector = self.controller.collector
        entries = {}
        for name, tally in collector.tallies.items():
            suite = load_suite_module(tally.suite_file).suite
            entries[name] = {"primary_metric": tally.primary_metric, "dataset": tally.dataset,
                             "generation": tally.generation, "errors": tally.errors, "failures": dict(tally.failures),
                             "per_sample": {metric: form if isinstance(form, str) else list(form)
                                            for metric, form in (suite.per_sample or {}).items()}}
            if suite.run_grader is not None:
                entries[name]["graded"] = "run"
            if name in self.records:
                entries[name]["until_decided"] = self.records[name]
        return compare_runs(base_run, Run(Path("."), entries, collector.sample_files()), self.run.policy(),
                            self.run.max_drop, self.run.inconclusive, False, self.run.correction)

    def run_look(self, session: pytest.Session, base_run: Run, names: list[str], look: int) -> str | None:
        """One more repeat of every sample of these benchmarks, through a new engine; why the run stopped, if it did."""
        chosen = []
        for name in names:
            repeat = self.records[name]["repeats"] + look - 1
            for index in self.order(base_run, name):
                item = self.reserve.get((name, index, repeat))
                if item is not None:
                    chosen.append(item)
        store = self.controller.open_store()
        first = store.append_plan(self.items.request_for(item_ref(item), str(self.items.model)) for item in chosen)
        for position, item in enumerate(chosen, first):
            item.stash[POSITION] = position
        if not self.restart_engine(first):
            return "the engine that sent the run's requests did not finish"
        session.testscollected += len(chosen)  # pytest's progress counts the items of this look too
        for name in names:
            tally = self.controller.collector.tallies[name]
            tally.repeats += 1
            record = self.records[name]
            record.update(look=look, looks=look + 1, extra_repeats=look)
        for position, item in enumerate(chosen):
            nextitem = chosen[position + 1] if position + 1 < len(chosen) else None
            item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            self.records[item_ref(item).benchmark]["extra_requests"] += 1  # type: ignore[union-attr]
            if session.shouldstop or session.shouldfail:
                return "the run stopped (-x/--maxfail, or the endpoint went down)"
        return None

    def restart_engine(self, first: int) -> bool:
        """Once the engine that sent the plan has finished, the next one sends what was appended from `first`
        (items wait for it once it holds its lock, or has already answered and gone); False if the first did not
        finish."""
        engine, store = self.controller.engine, self.controller.open_store()
        if engine is not None and not engine.finished():
            return False
        store.resume()
        self.controller.start_engine(first)
        deadline = time.monotonic() + ENGINE_START
        engine = self.controller.engine
        while time.monotonic() < deadline and engine is not None and engine.running():
            if flock.is_held(store.engine_lock_path()):
                break
            time.sleep(0.01)
        return True

    def order(self, base_run: Run, name: str) -> list[int]:
        """The benchmark's samples, those whose verdicts differ from the baseline's (discordant) or among their
        own repeats (uncertain) first."""
        base: dict[Any, list[float]] = {}
        for item in base_run.items(name):
            sums = base.setdefault(item.key[0], [0.0, 0])
            sums[0] += item.correct
            sums[1] += 1
        tally = self.controller.collector.tallies[name]
        rows = self.items.prepared[name].rows
        suite = self.items.prepared[name].suite

        def rank(index: int) -> tuple[bool, bool, int]:
            verdicts = [outcome[0] for outcome in tally.samples[index].values()]
            mean = sum(verdicts) / len(verdicts)
            sample = suite.sample_id(rows[index], index)
            key = sample if isinstance(sample, (int, str)) else json.dumps(sample, sort_keys=True)
            total, count = base.get(key, (0.0, 0))
            discordant = bool(count) and mean != total / count
            return not discordant, not 0 < mean < 1, index

        return sorted(tally.samples, key=rank)


def _eligible(entry: dict[str, Any]) -> bool:
    """A benchmark whose verdict extra repeats can move: compared on the mean of per-sample verdicts (not a reward
    or a ratio), not advisory, with enough pairs (the tokens and latency gates are not sequential: point estimates)."""
    return bool(entry.get("comparable")) and entry["verdict"] != "INSUFFICIENT" and entry["tier"] != "advisory" \
        and entry["metric"] in ("accuracy", "pass@1")
