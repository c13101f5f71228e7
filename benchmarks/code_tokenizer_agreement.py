"""Code tokenizer outside the toolkit: plain `AutoTokenizer` ids against the toolkit's (tree-sitter) ids.

    python benchmarks/code_tokenizer_agreement.py [--work /tmp/code-agreement] [--vocab 16000]

Trains a code tokenizer the way a user does (`domain-electra corpus build` + `domain-electra tokenizer
train --domain code`) on a slice of this interpreter's standard library (the asyncio, email, xml,
logging, importlib, json, http and concurrent packages), then tokenizes held-out code (the top-level
stdlib modules, none of which is in that slice) both ways:
- toolkit: `load_tokenizer(folder).encode(text, "python")`, the ids pretraining saw;
- plain: `AutoTokenizer.from_pretrained(folder)(text, add_special_tokens=False)`, the raw-text fallback
  inside tokenizer.json, once with the normalizer shipped before 2026-12-02 (spaces, tabs and newlines
  mapped to their markers, nothing else) and once with `raw_code_normalizer()`.

The held-out modules are split by sha1(name) % 3: split 0 ("dev") is where the normalizer's rules were
chosen, the others ("report") were not looked at while choosing. Writes results/code_tokenizer_agreement.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import sys
import sysconfig
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from domain_electra.tokenization.loader import fallback_agreement  # noqa: E402

TRAIN_PACKAGES = ("asyncio", "email", "xml", "logging", "importlib", "json", "http", "concurrent")


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "domain_electra.cli", *args], check=True, cwd=ROOT)


def train(work: Path, vocab: int) -> Path:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = [arg for name in TRAIN_PACKAGES for arg in ("--source", str(stdlib / name))]
    _cli("corpus", "build", "--domain", "code", *sources, "--out", str(work / "corpus"), "--workers", "1")
    _cli("tokenizer", "train", "--domain", "code", "--corpus", str(work / "corpus"), "--vocab-size", str(vocab),
         "--out", str(work / "tokenizer"))
    return work / "tokenizer"


def held_out() -> dict[str, list[str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    splits: dict[str, list[str]] = {"dev": [], "report": []}
    for path in sorted(stdlib.glob("*.py")):
        key = "dev" if int(hashlib.sha1(path.name.encode()).hexdigest(), 16) % 3 == 0 else "report"
        splits[key].append(path.read_text(encoding="utf-8", errors="replace"))
    return splits


def with_old_normalizer(folder: Path, work: Path) -> Path:
    """A copy of `folder` whose tokenizer.json carries the normalizer shipped before 2026-12-02."""
    from tokenizers import Tokenizer, normalizers

    old = work / "tokenizer-old-fallback"
    shutil.rmtree(old, ignore_errors=True)
    shutil.copytree(folder, old)
    backend = Tokenizer.from_file(str(old / "tokenizer.json"))
    backend.normalizer = normalizers.Sequence([normalizers.Replace(" ", "▁"), normalizers.Replace("\t", "␉"),
                                               normalizers.Replace("\n", "↵")])
    backend.save(str(old / "tokenizer.json"))
    return old


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/code-agreement"))
    parser.add_argument("--vocab", type=int, default=16000)
    args = parser.parse_args()
    import tokenizers
    import transformers

    folder = train(args.work, args.vocab)
    old = with_old_normalizer(folder, args.work)
    results = {"date": str(date.today()), "python": platform.python_version(), "machine": platform.machine(),
               "tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
               "vocab": args.vocab, "train_packages": list(TRAIN_PACKAGES), "splits": {}}
    print("| held-out split | files | fallback | identical files | token agreement | plain/toolkit tokens |")
    print("|---|---|---|---|---|---|")
    for split, texts in held_out().items():
        languages = ["python"] * len(texts)
        for name, path in (("before (spaces/tabs/newlines only)", old), ("raw_code_normalizer", folder)):
            r = fallback_agreement(path, texts, languages)
            results["splits"].setdefault(split, {})[name] = r
            print(f"| {split} | {r['files']} | {name} | {r['identical']} ({r['identical_share']:.3f}) | "
                  f"{r['token_agreement']:.3f} | {r['length_ratio']:.3f} |", flush=True)
    out = ROOT / "benchmarks" / "results" / "code_tokenizer_agreement.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
