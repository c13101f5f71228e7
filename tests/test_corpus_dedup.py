"""Deduplication and decontamination internals: both dedup back ends, short test texts, hub sources."""
from __future__ import annotations

import random
import sys

from domain_electra.corpus import steps as S
from domain_electra.corpus.build import Deduplicator
from domain_electra.corpus.decontaminate import NgramIndex, example_texts
from domain_electra.corpus.readers import ReadOptions, Source, read_source

WORDS = "rate inflation policy committee market growth labor bank credit outlook risk price demand".split()


def record(text):
    return {"hash": S.content_hash(text), "signature": S.minhash_signature(S.word_hashes(text))}


def near_copies(seed=0):
    rng = random.Random(seed)
    base = [rng.choice(WORDS) for _ in range(300)]
    edited = list(base)
    edited[100] = "amended"
    other = [rng.choice(WORDS) for _ in range(300)]
    return " ".join(base), " ".join(edited), " ".join(other)


def check_backend(dedup):
    base, edited, other = near_copies()
    assert dedup.check(record(base)) is None
    assert dedup.check(record(base)) == "exact_duplicate"
    assert dedup.check(record(edited)) == "near_duplicate"
    assert dedup.check(record(other)) is None


def test_bloom_backend():
    dedup = Deduplicator(0.8, capacity=10_000)
    assert dedup.bloom
    check_backend(dedup)


def test_in_memory_backend_without_pybloomfilter(monkeypatch):
    monkeypatch.setitem(sys.modules, "pybloomfilter", None)  # import now raises ImportError
    dedup = Deduplicator(0.8)
    assert not dedup.bloom
    check_backend(dedup)


def test_near_dedup_off_keeps_near_copies():
    base, edited, _ = near_copies()
    dedup = Deduplicator(0.0)
    assert dedup.check(record(base)) is None and dedup.check(record(edited)) is None


def test_ngram_index_long_and_short_test_texts():
    long_text = "the borrower shall repay the principal amount together with accrued interest on the maturity date"
    tweet = "fed holds rates steady as inflation cools"  # 7 words: too short to index
    headline = "central bank raises key policy rate by half a point"  # 10 words: indexed whole
    index = NgramIndex([long_text, tweet, headline], n=13)
    assert sorted(index.tables) == [10, 13]
    assert index.contains(S.word_hashes("Preamble. " + long_text.upper() + ", as agreed."))
    assert index.contains(S.word_hashes("Breaking: Central bank raises key policy rate by half a point!"))
    assert not index.contains(S.word_hashes("the borrower shall repay the principal amount together with interest"))
    assert not index.contains(S.word_hashes(tweet))
    assert list(example_texts({"tokens": ["a", "b"], "query": "q", "label": 1})) == ["q", "a b"]


def test_hub_id_offline_is_a_counted_skip(monkeypatch):
    import datasets
    import huggingface_hub

    # Offline mode: fail at once instead of retrying the network (this machine has none).
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    items = list(read_source(Source("hub", "no-such-owner/no-such-dataset-xyz"), ReadOptions()))
    assert [i.reason for i in items] == ["hub_unavailable"]
