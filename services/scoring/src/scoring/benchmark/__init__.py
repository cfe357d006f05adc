"""Scoring benchmarks over a synthetic population (`python -m scoring.benchmark.outcomes`)."""
