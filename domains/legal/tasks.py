"""Eval tasks of the legal domain (their parsers: data.py beside this file)."""
from domain_electra.plugin_api import EvalTask
from . import data as data_legal

TASKS: tuple[EvalTask, ...] = (
    EvalTask(name="unfair-tos", kind="multilabel", metric="micro_f1",
             description="Unfair clause categories of ToS sentences (published document folds): train en, "
                         "test en/de/it/pl",
             load=data_legal.load_unfair_tos, train_language="en", test_languages=data_legal.LANGUAGES,
             data_subdir=data_legal.UNFAIR_TOS,
             source_url="https://github.com/nlp-unibo/Multilingual-Unfair-Clause-Detection"),
)
