"""Decontamination: drop training documents that share a long word n-gram with an eval test split.

The test texts of every eval task of the domain are cut into word n-grams (default 13, lowercased
`\\w+` words, as in GPT-3's decontamination); a corpus document containing any of them is dropped as
"contaminated". Test texts shorter than n words (tweets, headlines) are indexed whole, down to
`MIN_WORDS` words, so that short test items are caught too. N-gram hashes are xxhash-based, hence the
same in every worker process, and the index is a sorted numpy array (binary-search membership).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..domain import Document, Domain, Step
from .steps import _MIX, ngram_hashes, word_hashes

MIN_WORDS = 8
FILTER_BITS = 21  # 2 MB bitmap (one byte a bit: numpy gathers bytes fastest)
_FILTER_SHIFT = np.uint64(64 - FILTER_BITS)
TEXT_KEYS = ("text", "text_pair", "query", "document")


def example_texts(example: dict) -> Iterable[str]:
    for key in TEXT_KEYS:
        value = example.get(key)
        if isinstance(value, str) and value.strip():
            yield value
    tokens = example.get("tokens")
    if isinstance(tokens, (list, tuple)) and tokens:
        yield " ".join(map(str, tokens))


def collect_test_texts(domain: Domain, data_dir: str | None) -> tuple[list[str], dict]:
    """Test-split texts of all the domain's eval tasks; a task whose data is missing is noted, not fatal."""
    texts: list[str] = []
    notes: dict = {}
    for task in domain.eval_tasks:
        try:
            data = task.load(data_dir)
        except Exception as exc:  # missing data set, or a loader bug: decontaminate against the rest
            notes[task.name] = f"skipped: {type(exc).__name__}: {str(exc)[:160]}"
            continue
        count = 0
        for examples in data.test.values():
            for example in examples:
                for text in example_texts(example):
                    texts.append(text)
                    count += 1
        notes[task.name] = f"{count} test texts"
    return texts, notes


class NgramIndex:
    """Membership of word n-grams of a set of texts (pickles as its arrays, so workers can share it)."""

    def __init__(self, texts: Sequence[str], n: int = 13):
        self.n = n
        self.first = min(n, MIN_WORDS)
        buckets: dict[int, list[np.ndarray]] = {}
        prefixes: list[np.ndarray] = []
        for text in texts:
            hashes = word_hashes(text)
            k = min(n, len(hashes))
            if k >= self.first:
                buckets.setdefault(k, []).append(ngram_hashes(hashes, k))
                prefixes.append(ngram_hashes(hashes, self.first))
        self.tables = {k: np.unique(np.concatenate(v)) for k, v in buckets.items()}
        # Every indexed k-gram starts with one of these `first`-grams: one look-up rules most documents out.
        self.prefixes = np.unique(np.concatenate(prefixes)) if prefixes else np.zeros(0, np.uint64)
        # A bitmap over the prefixes' top FILTER_BITS bits (~6% full at 130k prefixes): one gather per
        # n-gram rules almost every document out; only the few hits go on to the binary search.
        self.filter = np.zeros(1 << FILTER_BITS, dtype=bool)
        self.filter[self.prefixes >> _FILTER_SHIFT] = True

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def contains(self, hashes: np.ndarray) -> bool:
        """Does a document (given its word hashes) share an indexed n-gram?

        Every indexed k-gram starts with an indexed `first`-gram, so the k-gram hashes (equal to
        `ngram_hashes(hashes, k)`, built word by word: times the multiplier plus the next word) are
        computed only at the positions whose `first`-gram is a prefix hit: a handful, not the document.
        """
        if not self.tables or len(hashes) < min(self.tables):
            return False
        grams = ngram_hashes(hashes, self.first)
        starts = np.flatnonzero(self.filter[grams >> _FILTER_SHIFT])
        if not len(starts):
            return False
        starts = starts[_isin(grams[starts], self.prefixes)]
        with np.errstate(over="ignore"):
            for k in sorted(self.tables):
                starts = starts[starts + k <= len(hashes)]
                if not len(starts):
                    return False
                kgrams = hashes[starts]
                for j in range(1, k):
                    kgrams = kgrams * _MIX + hashes[starts + j]
                if _isin(kgrams, self.tables[k]).any():
                    return True
        return False


def _isin(values: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Which of `values` are in the sorted array `table`?"""
    pos = np.searchsorted(table, values)
    pos[pos == len(table)] = 0
    return table[pos] == values


def decontaminate(index: NgramIndex) -> Step:
    def step(doc: Document) -> Document | str:
        return "contaminated" if index.contains(word_hashes(doc.text)) else doc
    return step
