"""Compare tokenizers on a corpus's validation split: tokens per word and per line, unknown-token
rate, share of identifiers kept whole, throughput. Words (whitespace-separated) and identifiers (a
regex) are counted on the raw text, so every tokenizer is measured against the same denominators.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


@dataclass(frozen=True)
class InspectConfig:
    """Inspect tokenizers on a corpus.

    max_docs: documents of the validation split to use (the train split if there is no validation).
    max_identifiers: distinct identifiers (most frequent first) checked for being kept whole.
    """

    max_docs: int = 500
    max_identifiers: int = 2000


def _documents(corpus: Path, max_docs: int) -> tuple[str, list[dict]]:
    from .train import iter_documents

    for split in ("validation", "train"):
        if list(Path(corpus).glob(f"{split}-[0-9][0-9][0-9][0-9][0-9].parquet")):
            return split, list(iter_documents(corpus, split, max_docs))
    raise UserError(f"no validation or train shards in {corpus} (build it with `domain-electra corpus build`)")


def measure(tok, docs: list[dict], identifiers: Counter) -> dict:
    """The metrics of one tokenizer on `docs` (see module docstring)."""
    texts = [d["text"] for d in docs]
    languages = [d.get("language") for d in docs]
    started = time.perf_counter()
    encoded = tok.encode_arrays(texts, languages)
    seconds = time.perf_counter() - started
    tokens = sum(len(e[0]) for e in encoded)
    unknown = sum(int((e[0] == tok.unk_id).sum()) for e in encoded)
    words = sum(len(t.split()) for t in texts)
    lines = sum(t.count("\n") + 1 for t in texts)
    size = sum(len(t.encode("utf-8")) for t in texts)
    default_language = next((lang for lang in languages if lang), None)
    whole = sum(freq for ident, freq in identifiers.items() if len(tok.encode(ident, default_language)) == 1)
    return {"tokens": tokens, "tokens_per_word": round(tokens / max(words, 1), 4),
            "tokens_per_line": round(tokens / max(lines, 1), 4), "unk_rate": round(unknown / max(tokens, 1), 6),
            "identifiers_whole": round(whole / max(sum(identifiers.values()), 1), 4),
            "mb_per_s": round(size / 1e6 / max(seconds, 1e-9), 3), "pretokenizer": tok.pretokenizer,
            "vocab_size": tok.vocab_size}


def inspect_tokenizers(config: InspectConfig, tokenizers: list[Path], corpus: Path,
                       json_out: Path | None = None, show: bool = True) -> dict:
    """Metrics for each tokenizer folder on the corpus; writes `json_out` and prints a table."""
    from .loader import load_tokenizer

    if not tokenizers:
        raise UserError("give at least one tokenizer folder (--tokenizer DIR)")
    split, docs = _documents(Path(corpus), config.max_docs)
    identifiers = Counter(m for d in docs for m in _IDENTIFIER.findall(d["text"]))
    identifiers = Counter(dict(identifiers.most_common(config.max_identifiers)))
    report = {"corpus": str(corpus), "split": split, "documents": len(docs),
              "words": sum(len(d["text"].split()) for d in docs),
              "lines": sum(d["text"].count("\n") + 1 for d in docs), "tokenizers": {}}
    for path in tokenizers:
        report["tokenizers"][str(path)] = measure(load_tokenizer(path), docs, identifiers)
    if json_out is not None:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if show:
        print_inspection(report)
    return report


def print_inspection(report: dict) -> None:
    """A rich table of an inspection report (first tokenizer = the reference for the ratio column)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{report['corpus']} ({report['split']}, {report['documents']} docs, "
                        f"{report['words']} words, {report['lines']} lines)")
    for column in ("tokenizer", "vocab", "tokens/word", "tokens/line", "vs first", "unk rate",
                   "identifiers whole", "MB/s"):
        table.add_column(column, justify="left" if column == "tokenizer" else "right")
    rows = list(report["tokenizers"].items())
    reference = rows[0][1]["tokens"] if rows else 1
    for name, m in rows:
        table.add_row(Path(name).name or name, str(m["vocab_size"]), f"{m['tokens_per_word']:.3f}",
                      f"{m['tokens_per_line']:.2f}", f"{m['tokens'] / max(reference, 1):.3f}",
                      f"{m['unk_rate']:.4%}", f"{m['identifiers_whole']:.1%}", f"{m['mb_per_s']:.2f}")
    Console().print(table)
