"""The generation engine, in a process of its own (one per run): it sends every planned request ahead of the
items, in item order, and writes each response to the shared store.

- `__main__`: the process entry (`python -m pytest_nemoeval.engine`);
- `process`: the parent's handle on it (`EngineProcess`);
- `loop`: the async core (`GenerationEngine`, lanes, retries, fail fast);
- `drivers`: suites whose items need more than one request (`Chat`);
- `transport`: HTTP; `store`: the plan, responses and failures on disk; `progress`: the status line.
"""
