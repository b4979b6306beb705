"""Benchmarks for Chatsite (issue 8): `python -m bench --help`. Results go to docs/benchmarks.md."""
