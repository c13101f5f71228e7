"""Domain benchmarks: data-set parsers, metrics, zero-shot probes, suites, the bench runner, reports."""
from .bench import BenchConfig, run_bench
from .metrics import bootstrap_delta, score
from .suite import load_suite

__all__ = ["BenchConfig", "run_bench", "score", "bootstrap_delta", "load_suite"]
