"""Tokenizer quality: tokens per line on held-out stdlib modules (code) and tokens per word on the
legal/medical/finance corpora of ../shared/data, against BERT uncased (the MiniLM checkpoint's vocab)
and, for code, plain BPEs of the same size trained on the same files without tree-sitter.

    python benchmarks/tokenizer_quality.py [--vocab 16000] [--skip-domains] [--max-train-mb 12] [--ablation]

--ablation also trains WordPiece/Unigram models on the same pre-tokens regrouped the way earlier
versions of the code pre-tokenizer cut them (layout and punctuation as their own pre-tokens; only the
layout attached to the next word), with "##" continuation pieces, and with a Unigram model.

Code split: stdlib .py files outside test folders, site-packages and encodings/ (generated tables);
a module is held out when sha1(its path relative to the stdlib) % 10 == 0.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import platform
import sys
import sysconfig
import tempfile
import time
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import re

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from domain_electra.tokenization import (ExtendConfig, TokenizerTrainConfig, extend_tokenizer,  # noqa: E402
                                         load_tokenizer, train_tokenizer)
from domain_electra.tokenization.code_pretokenizer import NEWLINE, normalize_code, pretokenize  # noqa: E402

MINILM = Path("/work/ckpt/minilm-l6-h384-uncased")
DATA = ROOT.parent / "shared" / "data"


def held_out(name: str) -> bool:
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 10 == 0


def stdlib_split(max_train_mb: float) -> tuple[list[str], list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    train, test, size = [], [], 0
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib).as_posix()
        if any(part in rel.split("/") for part in ("site-packages", "test", "tests", "idle_test", "encodings")):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if held_out(rel):
            test.append(text)
        elif size < max_train_mb * 1e6:
            train.append(text)
            size += len(text)
    return train, test


def write_corpus(folder: Path, train: list[str], test: list[str], language: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, texts in (("train", train), ("validation", test)):
        pq.write_table(pa.Table.from_pylist([{"text": t, "language": language} for t in texts]),
                       folder / f"{split}-00000.parquet")
    return folder


def plain_bpes(train: list[str], vocab: int) -> dict:
    """Byte-level BPE (lossless, GPT-2 style) and whitespace/punctuation BPE (drops all layout)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    out = {}
    for name, pre, alphabet in (("bpe-bytelevel", pre_tokenizers.ByteLevel(add_prefix_space=False),
                                 pre_tokenizers.ByteLevel.alphabet()),
                                ("bpe-whitespace (lossy)", pre_tokenizers.Whitespace(), [])):
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre
        tok.train_from_iterator(train, trainers.BpeTrainer(vocab_size=vocab, initial_alphabet=alphabet,
                                                           show_progress=False))
        out[name] = tok
    return out


def code_benchmark(vocab: int, max_train_mb: float, work: Path, ablate: bool = False) -> list[dict]:
    train, test = stdlib_split(max_train_mb)
    lines = sum(t.count("\n") + 1 for t in test)
    corpus = write_corpus(work / "code-corpus", train, test, "python")
    started = time.perf_counter()
    stats = train_tokenizer(TokenizerTrainConfig(domain="code", vocab_size=vocab, workers=2), corpus,
                            work / "code-tok", progress=False)
    print(f"trained code tokenizer on {len(train)} files ({stats['bytes'] / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f}s; held out {len(test)} files, {lines} lines")
    ours = load_tokenizer(work / "code-tok")
    bert = load_tokenizer(MINILM)
    rows = []
    ids = [ours.encode(t, "python") for t in test]
    n = sum(map(len, ids))
    # Tokens that are pure layout (a line break with no word or punctuation): what a line pays extra.
    structure_ids = {i for token, i in ours.hf.get_vocab().items() if NEWLINE in token
                     and not token.strip("↵⇢⇠▁␉")}
    structure = sum(1 for seq in ids for i in seq if i in structure_ids)
    roundtrip = sum(ours.decode(seq) == normalize_code(t) for seq, t in zip(ids, test))
    n_bert = sum(len(bert.encode(t)) for t in test)
    rows.append({"tokenizer": f"ours: tree-sitter + WordPiece {vocab}", "tokens": n, "per_line": n / lines,
                 "note": f"{structure / lines:.2f}/line are layout-only tokens; "
                         f"exact round trip on {roundtrip}/{len(test)} files"})
    rows.append({"tokenizer": "BERT uncased WordPiece 30522 (MiniLM)", "tokens": n_bert, "per_line": n_bert / lines,
                 "note": "drops all whitespace, lowercases"})
    for name, tok in plain_bpes(train, vocab).items():
        m = sum(len(e.ids) for e in tok.encode_batch(test))
        rows.append({"tokenizer": f"{name} {vocab}", "tokens": m, "per_line": m / lines, "note": ""})
    for row in rows:
        row["vs_bert"] = row["tokens"] / n_bert
    if ablate:
        rows += ablation(train, test, vocab, lines, n_bert)
    return rows


# Regroupings of our pre-tokens for the ablation (old behaviours of the code pre-tokenizer).
_LAYOUT = "↵+⇠*(?:⇢[▁␉]*)?"
_SEPARATE = re.compile(f"{_LAYOUT}|[▁␉]*[^\\w▁␉↵⇠⇢]+|[▁␉]*\\w+|[▁␉]+")
_LAYOUT_ATTACHED = re.compile(f"(?:{_LAYOUT})*(?:[▁␉]*[^\\w▁␉↵⇠⇢]+|[▁␉]*\\w+|[▁␉]+)|(?:{_LAYOUT})+")


def ablation(train: list[str], test: list[str], vocab: int, lines: int, n_bert: int) -> list[dict]:
    """WordPiece/Unigram trained on regrouped pre-tokens; tokens per line on the held-out files."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from domain_electra.tokenization.train import _CODE_ALPHABET

    special = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    train_words = [pretokenize(t, "python").words for t in train]
    test_words = [pretokenize(t, "python").words for t in test]
    variants = {"layout and punctuation as separate pre-tokens (before)": _SEPARATE,
                "only the layout attached to the next word": _LAYOUT_ATTACHED, "prefix (ours)": None}
    rows = []
    for name, regroup in variants.items():
        def group(words):
            return words if regroup is None else [p for w in words for p in regroup.findall(w)]
        tr, te = [group(w) for w in train_words], [group(w) for w in test_words]
        runs = [("wordpiece", "")] + ([("wordpiece", "##"), ("unigram", "")] if regroup is None else [])
        for model, prefix in runs:
            if model == "wordpiece":
                tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100,
                                                 continuing_subword_prefix=prefix))
                trainer = trainers.WordPieceTrainer(vocab_size=vocab, min_frequency=2, special_tokens=special,
                                                    continuing_subword_prefix=prefix,
                                                    initial_alphabet=_CODE_ALPHABET, show_progress=False)
            else:
                tok = Tokenizer(models.Unigram())
                trainer = trainers.UnigramTrainer(vocab_size=vocab, special_tokens=special, unk_token="[UNK]",
                                                  initial_alphabet=_CODE_ALPHABET, show_progress=False)
            tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
            tok.train_from_iterator((" ".join(w) for w in tr), trainer)
            n = sum(len(e.ids) for e in tok.encode_batch(te, is_pretokenized=True, add_special_tokens=False))
            label = f"{model}{' ##' if prefix else ''} {vocab}, {name}"
            rows.append({"tokenizer": label, "tokens": n, "per_line": n / lines, "vs_bert": n / n_bert,
                         "note": f"{sum(map(len, te)) / lines:.2f} pre-tokens/line"})
    return rows


def domain_texts() -> dict[str, list[str]]:
    legal = [p.read_text(encoding="utf-8", errors="replace") for p in
             sorted((DATA / "legal/multilingual-unfair-tos/sentences/en/original").glob("*.txt"))]
    medical = []
    for path in sorted((DATA / "medical/medquad").rglob("*.xml")):
        try:
            root = ElementTree.parse(path).getroot()
        except ElementTree.ParseError:
            continue
        answers = [a.text for a in root.iter("Answer") if a.text]
        if answers:
            medical.append("\n".join(answers))
    finance = []
    for path in sorted((DATA / "finance/fomc-unlabelled-corpus").rglob("*.csv")):
        with path.open(encoding="utf-8", errors="replace") as f:
            finance.append("\n".join(row.get("sentence") or "" for row in csv.DictReader(f)))
    return {"legal": legal, "medical": medical, "finance": finance}


def domain_benchmark(work: Path, k: int) -> list[dict]:
    bert = load_tokenizer(MINILM)
    rows = []
    for domain, texts in domain_texts().items():
        if not texts:
            print(f"skip {domain}: no data under {DATA}")
            continue
        train = [t for i, t in enumerate(texts) if not held_out(f"{domain}{i}")]
        test = [t for i, t in enumerate(texts) if held_out(f"{domain}{i}")]
        corpus = write_corpus(work / f"{domain}-corpus", train, test, "en")
        started = time.perf_counter()
        stats = extend_tokenizer(ExtendConfig(domain=domain, max_new_tokens=k, min_frequency=5), MINILM, corpus,
                                 work / f"{domain}-ext")
        ext = load_tokenizer(work / f"{domain}-ext")
        words = sum(len(t.split()) for t in test)
        before = sum(len(bert.encode(t)) for t in test)
        after = sum(len(ext.encode(t)) for t in test)
        rows.append({"domain": domain, "docs": f"{len(train)}/{len(test)}", "words": words, "added": stats["added"],
                     "bert_per_word": before / words, "ext_per_word": after / words, "saving": 1 - after / before,
                     "seconds": time.perf_counter() - started,
                     "examples": ", ".join(t["token"] for t in stats["new_tokens"][:6])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vocab", type=int, default=16000)
    parser.add_argument("--max-train-mb", type=float, default=12.0)
    parser.add_argument("--extend-k", type=int, default=2000)
    parser.add_argument("--skip-domains", action="store_true")
    parser.add_argument("--ablation", action="store_true")
    args = parser.parse_args()
    import tokenizers
    import transformers

    print(f"date {date.today()}, {platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("| tokenizer | tokens/line | vs BERT | note |\n|---|---|---|---|")
        for row in code_benchmark(args.vocab, args.max_train_mb, work, args.ablation):
            print(f"| {row['tokenizer']} | {row['per_line']:.2f} | {row['vs_bert']:.3f} | {row['note']} |")
        if not args.skip_domains:
            print("\n| domain | docs train/test | test words | tokens added | BERT tokens/word | extended "
                  "tokens/word | saving | top added |\n|---|---|---|---|---|---|---|---|")
            for r in domain_benchmark(work, args.extend_k):
                print(f"| {r['domain']} | {r['docs']} | {r['words']} | {r['added']} | {r['bert_per_word']:.3f} | "
                      f"{r['ext_per_word']:.3f} | {r['saving']:.1%} | {r['examples']} |")


if __name__ == "__main__":
    main()
