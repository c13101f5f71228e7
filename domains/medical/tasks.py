"""Eval tasks of this domain (placeholder until the benchmark work lands)."""
TASKS = ()
