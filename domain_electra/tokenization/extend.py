"""Extend a checkpoint's vocabulary with domain words, with Fast Vocabulary Transfer (FVT).

1. Count the words of the corpus as the base tokenizer pre-tokenizes them (its own normalizer, so an
   uncased base counts lowercased words).
2. Score each word not yet in the vocabulary by fragmentation gain: frequency x (pieces - 1), the
   tokens saved if it were one token; keep the K best with at least `min_frequency` occurrences.
3. Add them to the tokenizer's model vocabulary (WordPiece: a word-initial entry; Unigram: a "▁word"
   piece scored like the best existing piece), so they are used exactly where the word occurs.
4. Resize the embeddings of every model in the checkpoint (an ELECTRA export's discriminator and
   generator, or a single HF model folder) and initialise each new row as the mean of the base rows of
   its old pieces (FVT, Gee et al. 2022); an untied output layer and its bias get the same treatment.
Old rows are untouched, so text that never uses a new token gives exactly the same outputs.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

MODEL_FOLDERS = ("discriminator", "generator")


@dataclass(frozen=True)
class ExtendConfig:
    """Add up to K domain words to a checkpoint's vocabulary (FVT-initialised embeddings).

    domain: a registered domain (its recipe's max_new_tokens is the default K).
    max_new_tokens: K, the most tokens to add (None: the recipe's).
    min_frequency: a word must occur at least this often in the corpus to be added.
    min_pieces: only words the base tokenizer splits into at least this many pieces are candidates.
    max_docs: read at most this many training documents (None: all).
    languages: keep only documents in these languages (empty: all).
    """

    domain: str = "legal"
    max_new_tokens: int | None = None
    min_frequency: int = 20
    min_pieces: int = 2
    max_docs: int | None = None
    languages: tuple[str, ...] = ()


def model_folders(base_dir: Path) -> dict[str, Path]:
    """{"discriminator": ..., "generator": ...} for an ELECTRA export, {".": base} for one model."""
    base_dir = Path(base_dir)
    subs = {name: base_dir / name for name in MODEL_FOLDERS if (base_dir / name / "config.json").is_file()}
    if subs:
        return subs
    if (base_dir / "config.json").is_file():
        return {".": base_dir}
    raise UserError(f"{base_dir} is not a model folder (no config.json, no discriminator/ or generator/ inside)")


def count_words(tok, texts) -> Counter:
    """Word frequencies as the base tokenizer's normalizer + pre-tokenizer see them."""
    backend = tok.hf.backend_tokenizer
    counts: Counter = Counter()
    for text in texts:
        normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
        words = backend.pre_tokenizer.pre_tokenize_str(normalized) if backend.pre_tokenizer else [(normalized, None)]
        counts.update(w for w, _ in words)
    return counts


def choose_new_tokens(tok, counts: Counter, k: int, min_frequency: int, min_pieces: int) -> list[dict]:
    """The K words with the largest fragmentation gain, with their base pieces."""
    model = tok.hf.backend_tokenizer.model
    vocab = tok.hf.get_vocab()
    candidates = []
    for word, freq in counts.items():
        if freq < min_frequency or word in vocab or f"▁{word}" in vocab or not any(c.isalnum() for c in word):
            continue
        pieces = [t.id for t in model.tokenize(word)]
        if len(pieces) >= min_pieces and tok.unk_id not in pieces:
            candidates.append({"token": word, "frequency": freq, "pieces": pieces,
                               "gain": freq * (len(pieces) - 1)})
    candidates.sort(key=lambda c: (-c["gain"], c["token"]))
    return candidates[:k]


def _extended_backend(tok, new: list[dict]):
    """A copy of the base Rust tokenizer with the new words in its model vocabulary."""
    from tokenizers import Tokenizer

    data = json.loads(tok.hf.backend_tokenizer.to_str())
    model = data["model"]
    next_id = len(tok.hf)  # after every existing id, added tokens included
    if model["type"] == "WordPiece":
        for i, item in enumerate(new):
            model["vocab"][item["token"]] = next_id + i
    elif model["type"] == "Unigram":
        if next_id != len(model["vocab"]):
            raise UserError("this Unigram tokenizer has added tokens after its vocabulary; extension unsupported")
        best = max(score for _, score in model["vocab"][3:]) if len(model["vocab"]) > 3 else 0.0
        model["vocab"].extend([f"▁{item['token']}", best] for item in new)
    else:
        raise UserError(f"extending a {model['type']} tokenizer is not supported (WordPiece and Unigram are)")
    return Tokenizer.from_str(json.dumps(data))


def _load_model(folder: Path):
    import transformers

    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    arch = (config.get("architectures") or ["AutoModel"])[0]
    cls = getattr(transformers, arch, None) or transformers.AutoModel
    return cls.from_pretrained(str(folder))


def fvt_resize(model, new: list[dict], new_size: int) -> None:
    """Resize input (and untied output) embeddings; new row = mean of its old pieces' rows."""
    import torch

    old_size = model.get_input_embeddings().weight.shape[0]
    model.resize_token_embeddings(new_size, mean_resizing=False)
    with torch.no_grad():
        tables = [model.get_input_embeddings().weight]
        output = model.get_output_embeddings()
        if output is not None and output.weight.data_ptr() != tables[0].data_ptr():
            tables.append(output.weight)
        bias = getattr(output, "bias", None) if output is not None else None
        for i, item in enumerate(new):
            row, pieces = old_size + i, torch.tensor(item["pieces"])
            for table in tables:
                table[row] = table[pieces].mean(dim=0)
            if bias is not None and bias.shape[0] == new_size:
                bias[row] = bias[pieces].mean()


def extend_tokenizer(config: ExtendConfig, base_dir: Path, corpus_dir: Path, out: Path) -> dict:
    """Write the extended checkpoint (same layout as `base_dir`) to `out`. Returns stats."""
    from transformers import PreTrainedTokenizerFast

    from .loader import DomainTokenizer, load_tokenizer
    from .train import get_recipe, iter_documents

    started = time.perf_counter()
    folders = model_folders(Path(base_dir))
    tok = load_tokenizer(next(iter(folders.values())))
    if tok.pretokenizer != "bert":
        raise UserError(f"{base_dir}: extending a code (tree-sitter) tokenizer is not supported; train a new one")
    k = config.max_new_tokens if config.max_new_tokens is not None else get_recipe(config.domain).max_new_tokens
    texts = [row["text"] for row in iter_documents(corpus_dir, "train", config.max_docs, tuple(config.languages))]
    if not texts:
        raise UserError(f"no training documents in {corpus_dir} (check the corpus and the languages filter)")
    counts = count_words(tok, texts)
    new = choose_new_tokens(tok, counts, k, config.min_frequency, config.min_pieces)
    backend = _extended_backend(tok, new)
    specials = {name: getattr(tok.hf, name) for name in
                ("pad_token", "unk_token", "cls_token", "sep_token", "mask_token", "bos_token", "eos_token")
                if getattr(tok.hf, name, None) is not None}
    hf = PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=tok.hf.model_max_length, **specials)
    extended = DomainTokenizer(hf, "bert", None)
    out = Path(out)
    for name, folder in folders.items():
        model = _load_model(folder)
        fvt_resize(model, new, len(hf))
        target = out if name == "." else out / name
        model.save_pretrained(str(target))
        extended.save(target)
    sample = texts[:200]  # a quick before/after on the first documents; `inspect` does the full comparison
    sample_words = max(1, sum(count_words(tok, sample).values()))
    before = sum(len(tok.encode(t)) for t in sample)
    after = sum(len(extended.encode(t)) for t in sample)
    return {"domain": config.domain, "base": str(base_dir), "models": sorted(folders), "added": len(new),
            "vocab_size": len(hf), "documents": len(texts), "words": sum(counts.values()),
            "tokens_per_word_before": round(before / sample_words, 4),
            "tokens_per_word_after": round(after / sample_words, 4),
            "new_tokens": [{k: v for k, v in item.items() if k != "pieces"} | {"pieces": len(item["pieces"])}
                           for item in new[:50]],
            "seconds": round(time.perf_counter() - started, 2)}
