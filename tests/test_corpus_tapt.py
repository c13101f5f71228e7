"""Task-adaptive pretraining data: a corpus source `task:DOMAIN/TASK` adds an eval task's TRAIN split text,
never its dev or test split, and decontamination against the test splits still applies to it."""
from __future__ import annotations

from pathlib import Path

import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.errors import UserError

TRAIN = "the patient developed hereditary breast cancer after a long course of unrelated treatment at home"
DEV = "an entirely separate sentence about renal failure that only appears among the dev examples here"
TEST = "the test split mentions cystic fibrosis transmembrane conductance regulator mutations in children"

PLUGIN = f'''
from domain_electra.domain import Domain, EvalTask, MaskingPolicy, TaskData, TokenizerRecipe

def load(data_dir=None, **options):
    train = [{{"tokens": "{TRAIN}".split(), "tags": ["O"] * {len(TRAIN.split())}}},
             {{"tokens": "leaked : {TEST} .".split(), "tags": ["O"] * {len(TEST.split()) + 3}}}]
    return TaskData(train=train, dev=[{{"text": "{DEV}", "label": 0}}], test={{"en": [{{"text": "{TEST}", "label": 0}}]}})

DOMAIN = Domain(name="toytapt", description="test domain", languages=("en",), cleaners=lambda options: [],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(),
                eval_tasks=(EvalTask("ner", "token", "", load),), examples=())
'''


def test_tapt_source_reads_the_train_split_only_and_stays_decontaminated(tmp_path, monkeypatch):
    monkeypatch.setattr("domain_electra.corpus.readers.TAPT_DOC_CHARS", 50)  # one document per train text
    plugin = tmp_path / "toytapt.py"
    plugin.write_text(PLUGIN)
    config = CorpusConfig(domain=str(plugin), sources=[f"task:{plugin}/ner"], min_chars=20, languages=[],
                          val_fraction=0.0)
    stats = build_corpus(config, tmp_path / "out", progress=False)
    texts = [row["text"] for row in read_shards(tmp_path / "out")]
    assert texts == [TRAIN]  # the train sentence, joined from its tokens
    everything = " ".join(texts)
    assert DEV not in everything and "cystic fibrosis" not in everything  # dev never read; leaked test dropped
    assert stats["documents"]["read"] == 2 and stats["documents"]["dropped"] == {"contaminated": 1}


SHORT = ["terms may change", "we may close accounts", "you agree to arbitration"]  # each < min_chars
SHORT_PLUGIN = f'''
from domain_electra.domain import Domain, EvalTask, MaskingPolicy, TaskData, TokenizerRecipe

def load(data_dir=None, **options):
    return TaskData(train=[{{"text": t, "label": 0}} for t in {SHORT!r}], dev=[], test={{"en": []}})

DOMAIN = Domain(name="toyshort", description="test domain", languages=("en",), cleaners=lambda options: [],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(),
                eval_tasks=(EvalTask("clauses", "classification", "", load),), examples=())
'''


def test_short_task_texts_are_joined_so_min_chars_keeps_them(tmp_path):
    plugin = tmp_path / "toyshort.py"
    plugin.write_text(SHORT_PLUGIN)
    config = CorpusConfig(domain=str(plugin), sources=[f"task:{plugin}/clauses"], min_chars=40, languages=[],
                          val_fraction=0.0, decontaminate=False)
    build_corpus(config, tmp_path / "out", progress=False)
    assert [row["text"] for row in read_shards(tmp_path / "out")] == ["\n".join(SHORT)]


def test_tapt_source_names_are_checked_in_one_line(tmp_path):
    plugin = tmp_path / "toytapt.py"
    plugin.write_text(PLUGIN)
    for spec, message in ((f"task:{plugin}/ner:test", "only an eval task's train split"),
                          (f"task:{plugin}/nope", "no eval task 'nope'"), ("task:ner", "task:DOMAIN/TASK")):
        config = CorpusConfig(domain=str(plugin), sources=[spec], min_chars=20, languages=[])
        with pytest.raises(UserError, match=message):
            build_corpus(config, tmp_path / "o", progress=False)


def test_the_corpus_stage_accepts_task_sources(tmp_path):
    from domain_electra import stages

    plugin = tmp_path / "toyshort.py"
    plugin.write_text(SHORT_PLUGIN)
    stages.check_sources([f"task:{plugin}/clauses"])  # no "source not found": the reader validates it
    with pytest.raises(UserError, match="source not found"):
        stages.check_sources([str(tmp_path / "missing-folder")])
