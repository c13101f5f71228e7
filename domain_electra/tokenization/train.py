"""Train a domain tokenizer (WordPiece or Unigram, with the `tokenizers` library) from corpus shards.

The output folder loads with `AutoTokenizer.from_pretrained(out)`. For the code domain the words the
trainer counts are the tree-sitter pre-tokens (`code_pretokenizer`); the folder's tokenizer.json then
carries a raw-text approximation of that pre-tokenizer (spaces as "▁", no AST) so AutoTokenizer alone
still gives sensible pieces, while `load_tokenizer(out)` applies the real tree-sitter step.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import UserError

# Raw-text stand-in for the code pre-tokenizer inside tokenizer.json (AutoTokenizer without our loader):
# the same "non-word prefix + one word" pre-tokens, identifiers cut at snake_case/camelCase/digits, no AST.
_RAW_CODE_SPLIT = r"\W*(?:_*[A-Z]+(?=[A-Z][a-z])|_*[A-Z]?[a-z]+|_*[A-Z]+|_+|\d[\w.]*|\w+)|\W+"
_CODE_ALPHABET = [chr(c) for c in range(33, 127)] + ["▁", "␉", "↵", "⇢", "⇠"]


@dataclass(frozen=True)
class TokenizerTrainConfig:
    """Train a tokenizer for a domain.

    domain: a registered domain name or a plugin path; its TokenizerRecipe gives the defaults.
    vocab_size: the vocabulary size including special tokens (None: the recipe's, e.g. 16000).
    model: "wordpiece" or "unigram" (None: the recipe's).
    min_frequency: a merge must be seen at least this often to enter the vocabulary (WordPiece).
    max_docs: read at most this many training documents (None: the whole train split).
    languages: keep only documents in these languages (empty: all), e.g. ["python", "java"].
    workers: processes for the code pre-tokenizer (tree-sitter); 1 runs in-process.
    """

    domain: str = "code"
    vocab_size: int | None = None
    model: str | None = None
    min_frequency: int = 2
    max_docs: int | None = None
    languages: tuple[str, ...] = ()
    workers: int = 1


def get_recipe(domain: str):
    """The domain's TokenizerRecipe (registry first; a built-in module as a fallback)."""
    try:
        from ..registry import get_domain
    except ImportError:  # registry not importable: read the built-in plugin directly
        import importlib

        return importlib.import_module(f"domain_electra.domains.{domain}").DOMAIN.tokenizer
    return get_domain(domain).tokenizer


def iter_documents(corpus_dir: str | Path, split: str = "train", max_docs: int | None = None,
                   languages: tuple[str, ...] = ()) -> Iterator[dict]:
    """Rows {"text", "language"} of a corpus split, streamed from its parquet shards."""
    try:
        from ..corpus import read_shards
    except ImportError:
        read_shards = _read_shards_pyarrow
    count = 0
    for row in read_shards(corpus_dir, split, columns=("text", "language")):
        if languages and row.get("language") not in languages:
            continue
        if max_docs is not None and count >= max_docs:
            return
        count += 1
        yield row


def _read_shards_pyarrow(corpus_dir, split="train", columns=("text", "language")):
    import pyarrow.parquet as pq

    paths = sorted(Path(corpus_dir).glob(f"{split}-[0-9][0-9][0-9][0-9][0-9].parquet"))
    if not paths:
        raise UserError(f"no '{split}' shards in {corpus_dir} (build it with `domain-electra corpus build`)")
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024, columns=list(columns)):
            yield from batch.to_pylist()


def _code_words(row: dict) -> tuple[str, bool]:
    from .code_pretokenizer import pretokenize

    pre = pretokenize(row["text"], row.get("language"))
    return " ".join(pre.words), pre.parsed


def build_backend(model: str, pretokenizer: str, lowercase: bool, special_tokens: list[str]):
    """An untrained `tokenizers.Tokenizer` plus its trainer factory for a recipe."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    if model not in ("wordpiece", "unigram"):
        raise UserError(f"unknown tokenizer model '{model}' (use 'wordpiece' or 'unigram')")
    prefix = "" if pretokenizer == "code" else "##"
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100, continuing_subword_prefix=prefix)
                    if model == "wordpiece" else models.Unigram())
    if pretokenizer == "code":
        # Raw text -> the marker characters the tree-sitter pre-tokenizer uses, as far as regexes can tell them.
        from .loader import raw_code_normalizer

        tok.normalizer = raw_code_normalizer()
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(_RAW_CODE_SPLIT), behavior="isolated")
        tok.decoder = decoders.Sequence([decoders.Fuse(), decoders.Replace("▁", " "),
                                                 decoders.Replace("␉", "\t"), decoders.Replace("↵", "\n"),
                                                 decoders.Replace("⇢", "    "), decoders.Replace("⇠", "")])
    elif model == "wordpiece":
        tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                    strip_accents=None, lowercase=lowercase)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
    else:
        tok.normalizer = normalizers.Sequence([normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else []))
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()])
        tok.decoder = decoders.Metaspace()
    return tok


def _trainer(model: str, vocab_size: int, min_frequency: int, special_tokens: list[str], code: bool):
    from tokenizers import trainers

    if model == "wordpiece":
        return trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                         special_tokens=special_tokens,
                                         # Code spells spaces out ("▁"), so word-initial and inner pieces
                                         # can share entries; "##" would also clash with C's "##".
                                         continuing_subword_prefix="" if code else "##",
                                         initial_alphabet=_CODE_ALPHABET if code else [], show_progress=False)
    return trainers.UnigramTrainer(vocab_size=vocab_size, special_tokens=special_tokens, unk_token="[UNK]",
                                   initial_alphabet=_CODE_ALPHABET if code else [], show_progress=False)


def wrap_fast(tok, special_tokens: tuple[str, ...], extra_tokens: tuple[str, ...] = ()):
    """A PreTrainedTokenizerFast around a trained backend, with BERT-style [CLS] a [SEP] templates."""
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    vocab = tok.get_vocab()
    tok.post_processor = TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                            special_tokens=[(t, vocab[t]) for t in ("[CLS]", "[SEP]")])
    named = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]",
             "mask_token": "[MASK]"}
    missing = [t for t in named.values() if t not in vocab]
    if missing:
        raise UserError(f"the recipe's special tokens lack {', '.join(missing)}; add them to special_tokens")
    others = [t for t in (*special_tokens, *extra_tokens) if t not in named.values()]
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512,
                                   additional_special_tokens=others or None, **named)


def train_tokenizer(config: TokenizerTrainConfig, corpus_dir: Path, out: Path, progress: bool = True) -> dict:
    """Train on the corpus's train split and write an HF tokenizer folder to `out`. Returns stats."""
    from .loader import DomainTokenizer

    recipe = get_recipe(config.domain)
    model = config.model or recipe.model
    vocab_size = config.vocab_size or recipe.vocab_size
    code = recipe.pretokenizer == "code"
    special = list(dict.fromkeys([*recipe.special_tokens, *recipe.extra_tokens]))
    backend = build_backend(model, recipe.pretokenizer, recipe.lowercase, special)
    if code:
        from tokenizers.pre_tokenizers import WhitespaceSplit

        # The trainer counts pre-tokens given as space-joined words; the raw-text pipeline is put back after.
        raw_normalizer, raw_pre = backend.normalizer, backend.pre_tokenizer
        backend.normalizer, backend.pre_tokenizer = None, WhitespaceSplit()
    started, languages, parsed = time.perf_counter(), Counter(), Counter()
    counts = {"documents": 0, "bytes": 0}

    def texts() -> Iterator[str]:
        rows = iter_documents(corpus_dir, "train", config.max_docs, tuple(config.languages))
        with _progress(progress, "training tokenizer", config.max_docs) as advance:
            for (text, ok), row in _map_rows(rows, code, config.workers):
                parsed["parsed" if ok else "fallback"] += 1
                counts["documents"] += 1
                counts["bytes"] += len(row["text"].encode("utf-8"))
                languages[row.get("language") or ""] += 1
                advance()
                yield text

    backend.train_from_iterator(texts(), _trainer(model, vocab_size, config.min_frequency, special, code))
    if counts["documents"] == 0:
        raise UserError(f"no training documents in {corpus_dir} (check the corpus and the languages filter)")
    if code:
        backend.normalizer, backend.pre_tokenizer = raw_normalizer, raw_pre
    hf = wrap_fast(backend, recipe.special_tokens, recipe.extra_tokens)
    default_language = languages.most_common(1)[0][0] if code and languages else None
    DomainTokenizer(hf, recipe.pretokenizer, default_language or None, source=Path(out)).save(out)
    stats = {"domain": config.domain, "model": model, "vocab_size": len(hf), "pretokenizer": recipe.pretokenizer,
             "documents": counts["documents"], "bytes": counts["bytes"], "languages": dict(languages),
             "default_language": default_language or None, "pretokenizer_stats": dict(parsed),
             "seconds": round(time.perf_counter() - started, 2)}
    return stats


def _map_rows(rows: Iterator[dict], code: bool, workers: int) -> Iterator[tuple[str, dict]]:
    """((text the trainer sees, parsed), row): tree-sitter pre-tokens for code, the raw text otherwise."""
    if not code:
        for row in rows:
            yield (row["text"], True), row
        return
    if workers <= 1:
        for row in rows:
            yield _code_words(row), row
        return
    from multiprocessing import get_context

    with get_context("spawn").Pool(workers) as pool:
        batch: list[dict] = []
        for row in rows:
            batch.append(row)
            if len(batch) == 256 * workers:
                yield from zip(pool.map(_code_words, batch, chunksize=16), batch)
                batch = []
        if batch:
            yield from zip(pool.map(_code_words, batch, chunksize=16), batch)


class _progress:
    """A rich progress bar (rate + ETA) when enabled; yields an `advance()` callable."""

    def __init__(self, enabled: bool, label: str, total: int | None = None):
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self):
        if not self.enabled:
            return lambda n=1: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("[cyan]{task.fields[rate]}"),
                            TimeElapsedColumn(), TimeRemainingColumn(), transient=True)
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total, rate="")
        self.started, self.count = time.perf_counter(), 0

        def advance(n: int = 1):
            self.count += n
            rate = self.count / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(task, advance=n, rate=f"{rate:.0f} docs/s")

        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
