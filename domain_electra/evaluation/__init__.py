"""Domain benchmarks: generic readers and splits, declared tasks, metrics, zero-shot probes, suites, the
bench runner, reports. (Each domain's own data-set parsers live in its folder, domains/<name>/data.py.)

Exports resolve lazily: the readers are imported by every domain plugin (through plugin_api) and must
not pull in torch, peft or the fine-tuning package (which itself imports the metrics from here).
"""
from __future__ import annotations

import importlib

_EXPORTS = {"BenchConfig": "bench", "run_bench": "bench", "score": "metrics", "bootstrap_delta": "metrics",
            "load_suite": "suite", "run_probes": "probes"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'domain_electra.evaluation' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
