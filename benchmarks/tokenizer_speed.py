"""Tokenizer speed, one process (= one core): tree-sitter pre-tokenization (the C path, and the pure-Python
path as the in-process baseline) vs. the parse alone, full code encode, packing, and the baseline BERT
uncased fast tokenizer on the same text.

    python benchmarks/tokenizer_speed.py [--mb 4]

MB are UTF-8 megabytes of input. Rust tokenizers are limited to one thread (RAYON_NUM_THREADS=1) and
rates are per CPU-second of this process (time.process_time), so they measure one core's throughput
even on a shared, loaded machine (wall-clock rates there would mostly measure the other tenants).
"""
from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from domain_electra.tokenization import (PackConfig, TokenizerTrainConfig, load_tokenizer,  # noqa: E402
                                         pack_corpus, train_tokenizer)
from domain_electra.tokenization import code_pretokenizer as cp  # noqa: E402

MINILM = Path("/work/ckpt/minilm-l6-h384-uncased")


def rate(texts: list[str], fn, repeat: int = 3) -> float:
    size = sum(len(t.encode("utf-8")) for t in texts)
    best = float("inf")
    for _ in range(repeat):  # best of N: the machine is shared, the minimum is the least disturbed run
        started = time.process_time()
        for t in texts:
            fn(t)
        best = min(best, time.process_time() - started)
    return size / 1e6 / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=4.0)
    args = parser.parse_args()
    import tokenizers
    import tree_sitter

    print(f"date {date.today()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cpus "
          f"(load {os.getloadavg()[0]:.1f}), python {platform.python_version()}, tree-sitter "
          f"{tree_sitter.__version__ if hasattr(tree_sitter, '__version__') else '0.26'}, tokenizers {tokenizers.__version__}")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts, size = [], 0
    for path in sorted(stdlib.glob("*.py")):
        if size > args.mb * 1e6:
            break
        texts.append(path.read_text(encoding="utf-8"))
        size += len(texts[-1])
    parser_py = cp._grammar("python").parser
    c_texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(Path("/usr/include").glob("*.h"))]
    parser_c = cp._grammar("c").parser
    engine = "C path" if cp._fastcode is not None else "Python path (C extension not built)"

    def python_path(language):  # the baseline: the same pre-tokens from the pure-Python path
        grammar = cp._grammar(language)
        return lambda t: cp._parsed_python(cp.normalize_code(t), grammar)

    rows = [("tree-sitter parse only (python)", rate(texts, lambda t: parser_py.parse(t.encode()))),
            (f"pre-tokenize (python), {engine}", rate(texts, lambda t: cp.pretokenize(t, "python"))),
            ("baseline: pre-tokenize (python), Python path", rate(texts, python_path("python"))),
            ("tree-sitter parse only (C headers)", rate(c_texts, lambda t: parser_c.parse(t.encode()))),
            (f"pre-tokenize (C headers), {engine}", rate(c_texts, lambda t: cp.pretokenize(t, "c"))),
            ("baseline: pre-tokenize (C headers), Python path", rate(c_texts, python_path("c")))]
    with tempfile.TemporaryDirectory() as tmp:
        import pyarrow as pa
        import pyarrow.parquet as pq

        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        pq.write_table(pa.Table.from_pylist([{"text": t, "language": "python"} for t in texts]),
                       corpus / "train-00000.parquet")
        train_tokenizer(TokenizerTrainConfig(domain="code", vocab_size=8000), corpus, Path(tmp) / "tok", progress=False)
        ours = load_tokenizer(Path(tmp) / "tok")
        bert = load_tokenizer(MINILM)
        rows.append(("full encode, ours (pre-tokenize + WordPiece + flags)",
                     rate(texts, lambda t: ours.encode_arrays([t], ["python"]), repeat=1)))
        rows.append(("baseline: BERT uncased fast tokenizer encode", rate(texts, lambda t: bert.encode_arrays([t]))))
        started = time.process_time()
        stats = pack_corpus(PackConfig(seq_len=128, workers=1), corpus, Path(tmp) / "tok", Path(tmp) / "packed",
                            progress=False)
        rows.append(("pack, 1 worker, seq_len 128 (incl. tokenizer load)",
                     stats["bytes"] / 1e6 / (time.process_time() - started)))
    print(f"input: {len(texts)} stdlib modules, {size / 1e6:.1f} MB; {len(c_texts)} C headers\n")
    print("| step (one core) | MB per CPU-second |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")


if __name__ == "__main__":
    main()
