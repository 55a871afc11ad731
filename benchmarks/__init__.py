"""Benchmark scripts (``python -m restoolkit benchmark NAME``); installed with the package so the command
works outside a checkout too. Results: ``benchmarks/RESULTS.md``."""
