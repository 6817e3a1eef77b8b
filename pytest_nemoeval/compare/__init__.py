"""Paired comparison of a run with a baseline run: statistics, pairing of samples.jsonl, the report, the CLI."""
