"""One run split across cluster jobs: `--shard K/N` picks a job's part of the selected items (split.py), and
`python -m pytest_nemoeval merge` puts the jobs' results directories back together (merge.py)."""
