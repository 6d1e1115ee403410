"""Benchmarks: ``python -m bench.notifications``."""
