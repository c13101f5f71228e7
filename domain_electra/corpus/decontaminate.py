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

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def contains(self, hashes: np.ndarray) -> bool:
        """Does a document (given its word hashes) share an indexed n-gram?

        The k-gram hashes for every indexed k come from one incremental pass (the (k+1)-gram hash is
        the k-gram hash times the multiplier plus the next word), equal to `ngram_hashes(hashes, k)`.
        """
        if not self.tables or len(hashes) < min(self.tables):
            return False
        if not _any_in(ngram_hashes(hashes, self.first), self.prefixes):
            return False
        grams = hashes
        with np.errstate(over="ignore"):
            for k in range(1, max(self.tables) + 1):
                if k > 1:
                    grams = grams[:-1] * _MIX + hashes[k - 1:]
                if not len(grams):
                    return False
                table = self.tables.get(k)
                if table is not None and _any_in(grams, table):
                    return True
        return False


def _any_in(values: np.ndarray, table: np.ndarray) -> bool:
    """Is any of `values` in the sorted array `table`?"""
    pos = np.searchsorted(table, values)
    pos[pos == len(table)] = 0
    return bool(np.any(table[pos] == values))


def decontaminate(index: NgramIndex) -> Step:
    def step(doc: Document) -> Document | str:
        return "contaminated" if index.contains(word_hashes(doc.text)) else doc
    return step
