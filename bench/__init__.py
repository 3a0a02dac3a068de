"""Benchmarks: `python -m bench` from the repository root, in the project's venv (BENCHMARKS.md)."""
