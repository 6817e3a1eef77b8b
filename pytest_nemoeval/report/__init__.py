"""What a run shows besides results.json: per-category breakdowns, the pytest-html report, JUnit properties."""
