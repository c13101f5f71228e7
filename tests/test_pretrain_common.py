"""Helpers shared by the pretraining tests (no tests here): tiny packed-token folders in the documented
format (notes/interfaces.md), written with numpy, plus a packer for real text with a real tokenizer."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CHECKPOINTS

REPO = Path(__file__).resolve().parent.parent
MINILM = CHECKPOINTS / "minilm-l6-h384-uncased"
E5 = CHECKPOINTS / "multilingual-e5-small"
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = 40  # tiny vocabulary: 5 specials + 40 words + 40 "##" continuation pieces


def tiny_tokenizer(folder: Path) -> Path:
    """A real (BertTokenizerFast) WordPiece tokenizer folder with a 85-token vocabulary."""
    from transformers import BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + [f"w{i}" for i in range(WORDS)] + [f"##p{i}" for i in range(WORDS)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(str(folder))
    return folder


def _documents(rng: np.random.Generator, n_docs: int) -> list[tuple[list[int], list[int]]]:
    """Learnable synthetic documents: word k is followed by word (3k + 1) mod 40 most of the time; a
    word is 1-2 tokens (a "##" piece that mirrors the word)."""
    docs = []
    for _ in range(n_docs):
        word, ids, starts = int(rng.integers(WORDS)), [], []
        for _ in range(int(rng.integers(8, 40))):
            ids.append(5 + word)
            starts.append(1)
            if word % 3 == 0:
                ids.append(5 + WORDS + word)
                starts.append(0)
            word = (3 * word + 1) % WORDS if rng.random() < 0.9 else int(rng.integers(WORDS))
        docs.append((ids, starts))
    return docs


def pack_rows(docs, seq_len: int, pad: int = 0, cls: int = 2, sep: int = 3):
    """Pack (ids, word_start) documents into rows: [CLS] doc [SEP] doc [SEP] ...; a row that is full
    continues the document in the next row after a new [CLS]; [PAD] only at the tail of the last row."""
    stream_ids, stream_starts = [], []
    for ids, starts in docs:
        stream_ids += list(ids) + [sep]
        stream_starts += list(starts) + [1]
    rows_ids, rows_starts, i = [], [], 0
    while i < len(stream_ids):
        take = seq_len - 1
        rows_ids.append([cls] + stream_ids[i:i + take])
        rows_starts.append([1] + stream_starts[i:i + take])
        i += take
    last = len(rows_ids[-1])
    rows_ids[-1] += [pad] * (seq_len - last)
    rows_starts[-1] += [1] * (seq_len - last)
    return np.array(rows_ids, dtype=np.int64), np.array(rows_starts, dtype=np.uint8)


def write_split(folder: Path, split: str, ids: np.ndarray, word_start: np.ndarray, span_start=None,
                dtype: str = "uint16") -> dict:
    ids.astype(dtype).tofile(folder / f"{split}.ids.bin")
    word_start.astype(np.uint8).tofile(folder / f"{split}.word_start.bin")
    (word_start if span_start is None else span_start).astype(np.uint8).tofile(folder / f"{split}.span_start.bin")
    return {"sequences": int(ids.shape[0]), "documents": 0, "tokens": int((ids != 0).sum())}


def write_meta(folder: Path, seq_len: int, vocab_size: int, specials: dict, tokenizer: Path, splits: dict,
               dtype: str = "uint16") -> None:
    meta = {"seq_len": seq_len, "dtype": dtype, "vocab_size": vocab_size, "special_ids": specials,
            "tokenizer": str(tokenizer), "seed": 0, "splits": splits}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2))


def tiny_tokens(folder: Path, seq_len: int = 32, train_docs: int = 60, val_docs: int = 12, seed: int = 0) -> Path:
    """A packed-tokens folder of synthetic documents with the tiny tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tiny_tokenizer(folder.parent / f"{folder.name}-tokenizer")
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", train_docs), ("validation", val_docs)):
        ids, starts = pack_rows(_documents(rng, n), seq_len)
        splits[split] = write_split(folder, split, ids, starts)
        splits[split]["documents"] = n
    write_meta(folder, seq_len, 5 + 2 * WORDS, {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}, tokenizer, splits)
    return folder


def real_tokens(folder: Path, tokenizer_dir: Path, texts: list[str], seq_len: int = 64, val_share: float = 0.1) -> Path:
    """Pack real texts with a real tokenizer (via the toolkit's DomainTokenizer) into `folder`."""
    from domain_electra.tokenization import load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    folder.mkdir(parents=True, exist_ok=True)
    encoded = tok.encode_batch_with_structure(texts)
    docs = [(ids, [int(s) for s in ws]) for ids, ws, _ in encoded if ids]
    n_val = max(1, int(len(docs) * val_share))
    splits = {}
    for split, part in (("validation", docs[:n_val]), ("train", docs[n_val:])):
        ids, starts = pack_rows(part, seq_len, tok.pad_id, tok.cls_id, tok.sep_id)
        dtype = "uint16" if tok.vocab_size < 65536 else "uint32"
        splits[split] = write_split(folder, split, ids, starts, dtype=dtype)
        splits[split]["documents"] = len(part)
    specials = {"pad": tok.pad_id, "cls": tok.cls_id, "sep": tok.sep_id, "mask": tok.mask_id, "unk": tok.unk_id}
    write_meta(folder, seq_len, tok.vocab_size, specials, tokenizer_dir, splits,
               dtype="uint16" if tok.vocab_size < 65536 else "uint32")
    return folder


def stdlib_texts(limit_bytes: int = 300_000) -> list[str]:
    """Real Python source: modules of this interpreter's standard library, in a fixed order."""
    root = Path(sys.modules["json"].__file__).resolve().parent.parent
    texts, total = [], 0
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total >= limit_bytes:
            break
    return texts


def tiny_config(**overrides):
    """A seeded micro scratch config (hidden 64, 2 layers; dropout 0 for exact comparisons)."""
    from domain_electra.pretrain import PretrainConfig

    base = dict(init="scratch:micro", batch_size=8, max_steps=6, warmup_steps=2, lr=1e-3, save_every=3,
                eval_every=3, eval_batches=2, log_every=1, seed=0, device="cpu", dropout=0.0)
    base.update(overrides)
    return PretrainConfig(**base)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tests run single-threaded: on a shared, oversubscribed CPU, OpenMP threads spin against each other
    and two threads run the tiny models ~15x slower than one. Import this name into each test module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
