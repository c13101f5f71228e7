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


def test_minhash_signature_is_datasketch_update_batch_bit_for_bit():
    import numpy as np
    from datasketch import MinHash

    rng = random.Random(3)
    long_text = " ".join(rng.choice(WORDS) + str(rng.randrange(500)) for _ in range(10_000))  # > one block
    for text in (*near_copies(), long_text, "too few words", ""):
        hashes = S.word_hashes(text)
        reference = MinHash(num_perm=S.NUM_PERM, seed=S.MINHASH_SEED, hashfunc=int, scheme="affine64")
        shingles = S.ngram_hashes(hashes, S.SHINGLE)
        if len(shingles):
            reference.update_batch(shingles.tolist())
        assert np.array_equal(S.minhash_signature(hashes), reference.hashvalues)


def test_batched_signatures_equal_one_by_one():
    import numpy as np

    rng = random.Random(4)
    sizes = [0, 3, 5, 6, 300, 5000, 40, 4094, 4095, 1] + [rng.randrange(1, 2000) for _ in range(40)]
    hash_lists = [S.word_hashes(" ".join(f"{rng.choice(WORDS)}{rng.randrange(99)}" for _ in range(n))) for n in sizes]
    batched = S.minhash_signatures(hash_lists)
    assert len(batched) == len(hash_lists)
    for hashes, signature in zip(hash_lists, batched):
        assert np.array_equal(signature, S.minhash_signature(hashes))


def test_word_hashes_ascii_fast_path_matches_unicode_path():
    import re

    import xxhash

    rng = random.Random(5)
    every_ascii = ["".join(chr(rng.randrange(128)) for _ in range(80)) for _ in range(200)]
    for text in ("Hello, World_2 it's 3.14", "Straße café ÉCOLE naïve x_y", "tabs\tand\nnew-lines", "", *every_ascii):
        words = re.findall(r"\w+", text.lower())
        assert S.word_hashes(text).tolist() == [xxhash.xxh3_64_intdigest(w.encode()) for w in words]


def test_ngram_index_bitmap_filter_agrees_with_exact_lookup():
    rng = random.Random(11)
    vocab = [f"w{i}" for i in range(300)]
    tests = [" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 40))) for _ in range(300)]
    index = NgramIndex(tests, n=13)
    reference = {k: set(table.tolist()) for k, table in index.tables.items()}
    hits = 0
    for i in range(400):
        doc = " ".join(rng.choice(vocab) for _ in range(60))
        if i % 4 == 0:  # plant a test text's span
            t = rng.choice(tests).split()
            doc += " " + " ".join(t[:13])
        hashes = S.word_hashes(doc)
        exact = any(set(S.ngram_hashes(hashes, k).tolist()) & reference[k] for k in reference if len(hashes) >= k)
        assert index.contains(hashes) == exact
        hits += exact
    assert hits >= 100


def test_bloom_fast_path_shares_the_index_with_datasketch_query():
    from datasketch import LeanMinHash

    dedup = Deduplicator(0.8, capacity=10_000)
    rng = random.Random(2)
    texts = [" ".join(rng.choice(WORDS) for _ in range(200)) for _ in range(30)]
    for text in texts[:20]:
        dedup.check(record(text))
    for text in texts[:20]:
        lean = LeanMinHash(seed=S.MINHASH_SEED, hashvalues=record(text)["signature"], scheme="affine64")
        assert dedup.lsh.query(lean)  # what the fast path inserted, datasketch finds
    assert not any(dedup.lsh.query(LeanMinHash(seed=S.MINHASH_SEED, hashvalues=record(t)["signature"],
                                               scheme="affine64")) for t in texts[20:])
    fresh = Deduplicator(0.8, capacity=10_000)
    for text in texts[:20]:
        fresh.lsh.insert(LeanMinHash(seed=S.MINHASH_SEED, hashvalues=record(text)["signature"], scheme="affine64"))
    other = " ".join(rng.choice(["alpha", "beta", "gamma", "delta"]) for _ in range(200))
    assert fresh._bloom_seen_or_add(record(texts[3])["signature"])  # what datasketch inserted, the fast path finds
    assert not fresh._bloom_seen_or_add(record(other)["signature"])


def test_bloom_band_keys_are_the_keys_the_local_bloom_index_stores():
    import numpy as np

    from domain_electra.corpus.build import bloom_band_keys, lsh_bands

    dedup = Deduplicator(0.8, capacity=10_000)
    assert (dedup.lsh.b, dedup.lsh.r) == lsh_bands(0.8)
    rng = random.Random(4)
    signatures = np.stack([record(" ".join(rng.choice(WORDS) for _ in range(150)))["signature"] for _ in range(8)])
    keys = bloom_band_keys(signatures, *lsh_bands(0.8))  # the distributed build's keys, all documents at once
    for signature, row in zip(signatures, keys):
        assert not any(key in table.bloom_filter for key, table in zip(row.tolist(), dedup.lsh.hashtables))
        dedup._bloom_seen_or_add(signature)
        assert all(key in table.bloom_filter for key, table in zip(row.tolist(), dedup.lsh.hashtables))
