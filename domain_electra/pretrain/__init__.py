"""ELECTRA continued pretraining: masking, objective, the training loop, checkpoints, export.

`PretrainConfig` imports nothing heavy (CLI help stays fast); the rest loads torch on first use.
"""
from __future__ import annotations

import importlib

from .config import PretrainConfig

_EXPORTS = {
    "pretrain": "loop", "TrainingInterrupted": "loop",
    "make_train_step": "step", "build_optimizer": "step", "lr_factor": "step", "autocast_for": "step",
    "ElectraObjective": "objective", "evaluate": "objective", "roc_auc": "objective",
    "BatchSource": "data", "batch_spec": "data", "to_device": "data",
    "export": "export",
}

__all__ = ["PretrainConfig", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'domain_electra.pretrain' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
