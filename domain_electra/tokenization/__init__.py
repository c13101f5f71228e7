"""Tokenizers: train, extend (FVT), tree-sitter code pre-tokenization, pack, inspect.

Import cost matters: `packed` is on the GPU pretraining path (numpy only), so this package imports
nothing heavy at import time. `load_tokenizer`/`DomainTokenizer` pull in transformers on first use,
the training/packing functions their own dependencies on first use.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "load_tokenizer": "loader", "DomainTokenizer": "loader", "META_FILE": "loader",
    "PackedTokens": "packed",
    "TokenizerTrainConfig": "train", "train_tokenizer": "train",
    "ExtendConfig": "extend", "extend_tokenizer": "extend",
    "PackConfig": "pack", "pack_corpus": "pack",
    "InspectConfig": "inspect", "inspect_tokenizers": "inspect", "print_inspection": "inspect",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'domain_electra.tokenization' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)
