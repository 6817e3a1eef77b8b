"""Benchmark-specific code, imported only by the suites that use it (never by the core): prompts, data
sources, drivers, graders and metrics. Programs and prompts that are run or sent verbatim are files here."""
