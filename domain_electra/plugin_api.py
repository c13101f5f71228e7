"""The public API for domain plugins: everything a task loader or a plugin needs, under stable names.

    from domain_electra.plugin_api import EvalTask, TaskData, dataset_dir, read_conll, stratified_split

The built-in domains (domains/<name>/) import only from here, exactly as a third-party plugin does.
Importing this module is cheap: it pulls in no torch, transformers or datasets.
"""
from __future__ import annotations

from .conformance import check_domain
from .domain import Document, Domain, EvalTask, MaskingPolicy, Step, TaskData, TokenizerRecipe, data_path
from .errors import UserError
from .evaluation.files import bad_format, dataset_dir, key_split, read_json, read_jsonl, require_keys, source_license
from .evaluation.readers import read_conll, read_datasets, read_parquet, read_records, read_table, to_iob2
from .evaluation.splits import stratified_split

__all__ = [
    # the plugin contract
    "Domain", "Document", "Step", "TokenizerRecipe", "MaskingPolicy", "EvalTask", "TaskData", "check_domain",
    "UserError",
    # locating data and reporting bad files
    "data_path", "dataset_dir", "bad_format", "require_keys", "source_license",
    # generic readers
    "read_json", "read_jsonl", "read_records", "read_table", "read_parquet", "read_datasets", "read_conll",
    "to_iob2",
    # deterministic splits
    "stratified_split", "key_split",
]
