"""Examples -> tensors, one function per task kind, all through the project's DomainTokenizer."""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Iterator, Sequence

import torch

from ..domain import TaskData
from ..errors import UserError


def limit_data(data: TaskData, limit: int | None, seed: int = 0) -> TaskData:
    """Keep at most `limit` examples per split, drawn with a fixed seed (so every model sees the same ones).

    A seeded sample, not the head of the file: files are often sorted (by document, by label), and the
    first N would not be representative. Retrieval keeps every test document as a candidate (data.candidates),
    so --limit cuts the queries but never the pool they are ranked against (a smaller pool inflates MRR).
    """
    if limit is None:
        return data

    def cut(rows: Sequence[dict]) -> list[dict]:
        if len(rows) <= limit:
            return list(rows)
        keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
        return [rows[i] for i in keep]

    candidates = {lang: retrieval_pool(rows, data.candidates.get(lang, ()))
                  for lang, rows in data.test.items() if is_retrieval(rows)}
    return replace(data, train=cut(data.train), dev=cut(data.dev),
                   test={lang: cut(rows) for lang, rows in data.test.items()},
                   candidates={**data.candidates, **candidates})


def is_retrieval(rows: Sequence[dict]) -> bool:
    return bool(rows) and "document" in rows[0] and "query" in rows[0]


def retrieval_pool(rows: Sequence[dict], candidates: Sequence[str] = ()) -> list[str]:
    """The documents a split's queries are ranked against: the given candidates, then the split's own
    documents, each distinct text once (a duplicate would otherwise tie with, or beat, the relevant copy)."""
    return list(dict.fromkeys([*candidates, *(r["document"] for r in rows)]))


def pool_sizes(data: TaskData) -> dict[str, int]:
    """Candidate documents per test language of a retrieval task (what every query is ranked against)."""
    return {lang: len(retrieval_pool(rows, data.candidates.get(lang, ())))
            for lang, rows in data.test.items() if is_retrieval(rows)}


def check_nonempty(task_name: str, data: TaskData, need_train: bool = True) -> None:
    """A task with an empty split would produce a score of nothing: refuse it before any work."""
    splits = ({"train": data.train, "dev": data.dev} if need_train else {}) | {
        f"test/{lang}": rows for lang, rows in data.test.items()}
    if not data.test:
        raise UserError(f"task '{task_name}' has no test split after loading (check the data set and --limit)")
    for name, rows in splits.items():
        if len(rows) == 0:
            raise UserError(f"task '{task_name}' has no {name} examples after loading (check the data set and --limit)")


def chunks(rows: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def label_index(labels: Sequence[str]) -> dict[str, int]:
    return {name: i for i, name in enumerate(labels)}


def encode_texts(tok, rows: Sequence[dict], kind: str, max_length: int) -> dict[str, torch.Tensor]:
    """Inputs of a classification / multilabel / pair batch (no labels)."""
    texts = [r["text"] for r in rows]
    # Regression rows may be pairs too (sentence similarity): a pair is whatever carries a text_pair.
    pairs = [r["text_pair"] for r in rows] if kind == "pair" or (rows and "text_pair" in rows[0]) else None
    return tok.batch(texts, max_length, text_pairs=pairs)


def encode_labels(rows: Sequence[dict], kind: str, num_labels: int) -> torch.Tensor:
    if kind == "multilabel":
        target = torch.zeros(len(rows), num_labels)
        for i, row in enumerate(rows):
            target[i, list(row["label"])] = 1.0
        return target
    if kind == "regression":
        return torch.tensor([float(r["label"]) for r in rows], dtype=torch.float)
    return torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)


def encode_tokens(tok, rows: Sequence[dict], max_length: int, tag_ids: dict[str, int] | None
                  ) -> tuple[dict[str, torch.Tensor], list[list[int | None]]]:
    """Word-level BIO examples -> subword inputs; only each word's first subword carries its tag."""
    enc = tok.hf([r["tokens"] for r in rows], is_split_into_words=True, truncation=True,
                 max_length=max_length, padding=True, return_tensors="pt")
    word_ids = [enc.word_ids(i) for i in range(len(rows))]
    batch = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    if tag_ids is not None:
        labels = torch.full(enc["input_ids"].shape, -100, dtype=torch.long)
        for i, (row, wids) in enumerate(zip(rows, word_ids)):
            previous = None
            for j, w in enumerate(wids):
                if w is not None and w != previous:
                    labels[i, j] = tag_ids[row["tags"][w]]
                previous = w
        batch["labels"] = labels
    return batch, word_ids


def retrieval_side(tok, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    return tok.batch(list(texts), max_length)
