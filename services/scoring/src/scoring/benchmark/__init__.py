"""Scoring benchmarks over a synthetic population: the admin commands timed at scale
(`ensemble-scoring-admin bench`, `make bench-scoring`; see `benchmark/run.py`) and the
outcomes report (`python -m scoring.benchmark.outcomes`)."""
