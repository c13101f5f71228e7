"""`load_tokenizer(path) -> DomainTokenizer`: a Hugging Face tokenizer plus the toolkit's pre-tokenizer.

A tokenizer folder is a plain HF folder (AutoTokenizer loads it) plus, for folders this toolkit wrote,
`domain_electra_tokenizer.json` = {"pretokenizer": "code" | "bert", "default_language": ...}.

- "bert" (or no such file): text goes straight through the HF tokenizer's own pre-tokenizer.
- "code": text is first split by the tree-sitter pre-tokenizer (`code_pretokenizer.pretokenize`) into
  marked pre-tokens (one word each, with the spaces "▁", line breaks/indentation "↵⇢⇠" and punctuation
  leading into it as a prefix); the HF model then splits each pre-token into vocabulary pieces. The tokenizer.json itself carries a
  plain whitespace/punctuation pre-tokenizer so AutoTokenizer alone still works on raw text.

Outside the toolkit (plain `AutoTokenizer.from_pretrained(folder)`), a code tokenizer can only run what a
tokenizer.json can hold: regex normalizers and a regex split, no parser and no memory of the previous
line. `raw_code_normalizer()` reproduces what that allows (the whitespace normalisation, and the layout
markers where one line of context tells them: an indented line after ":"/"("/"["/"{" opens a level,
"else"/"elif"/"except"/"finally" and closing brackets close one, other indentation is dropped as the
parser drops it for an unchanged level); it cannot know how many levels a line closes, nor where a string
or comment starts. `fallback_agreement` measures the difference (benchmarks/code_tokenizer_agreement.py).
The training-time ids outside the toolkit's own commands are one call away:
`load_tokenizer(folder).batch(texts, max_length, language="python")`.

Only torch/transformers are imported here; tree-sitter is imported on first use of a code tokenizer.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Sequence

from ..errors import UserError

META_FILE = "domain_electra_tokenizer.json"
SPECIAL_NAMES = ("pad", "cls", "sep", "mask", "unk")


def _special_id(hf, name: str) -> int:
    token_id = getattr(hf, f"{name}_token_id", None)
    if token_id is None:
        # BERT-style names first, then the RoBERTa/XLM-R style that some checkpoints use.
        fallback = {"pad": ("[PAD]", "<pad>"), "cls": ("[CLS]", "<s>"), "sep": ("[SEP]", "</s>"),
                    "mask": ("[MASK]", "<mask>"), "unk": ("[UNK]", "<unk>")}[name]
        vocab = hf.get_vocab()
        token_id = next((vocab[t] for t in fallback if t in vocab), None)
    if token_id is None:
        raise UserError(f"tokenizer has no {name} token; add one to its special tokens (e.g. [{name.upper()}])")
    return int(token_id)


class DomainTokenizer:
    """The toolkit's view of a tokenizer folder. `.hf` is the PreTrainedTokenizerFast underneath."""

    def __init__(self, hf, pretokenizer: str = "bert", default_language: str | None = None,
                 source: Path | None = None):
        if pretokenizer not in ("bert", "code"):
            raise UserError(f"unknown pretokenizer '{pretokenizer}' in {source} (expected 'bert' or 'code')")
        self.hf = hf
        self.pretokenizer = pretokenizer
        self.default_language = default_language
        self.source = source
        self.pad_id, self.cls_id, self.sep_id, self.mask_id, self.unk_id = (
            _special_id(hf, n) for n in SPECIAL_NAMES)
        self._pieces = None  # id -> surface string, built on first code decode
        # A private copy of the Rust tokenizer: checkpoints often ship tokenizer.json with padding or
        # truncation switched on, which must not leak into encode().
        from tokenizers import Tokenizer

        self._backend = Tokenizer.from_str(hf.backend_tokenizer.to_str())
        self._backend.no_truncation()
        self._backend.no_padding()
        if pretokenizer == "code":
            # Pre-tokens never contain whitespace (spaces travel as "▁"), so a whitespace split is the
            # identity on them; the folder's own raw-text pre-tokenizer must not split them further.
            from tokenizers.pre_tokenizers import WhitespaceSplit

            self._backend.pre_tokenizer = WhitespaceSplit()
            self._backend.normalizer = None  # pre-tokens are already in marker form

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def encode(self, text: str, language: str | None = None) -> list[int]:
        return self.encode_with_structure(text, language)[0]

    def encode_with_structure(self, text: str, language: str | None = None
                              ) -> tuple[list[int], list[bool], list[bool]]:
        return self.encode_batch_with_structure([text], [language])[0]

    def encode_batch_with_structure(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
                                    ) -> list[tuple[list[int], list[bool], list[bool]]]:
        """(ids, word_start, span_start) for each text, batched through the Rust tokenizer."""
        return [(ids.tolist(), ws.astype(bool).tolist(), ss.astype(bool).tolist())
                for ids, ws, ss in self.encode_arrays(texts, languages)]

    def encode_arrays(self, texts: Sequence[str], languages: Sequence[str | None] | None = None):
        """Like encode_batch_with_structure, as numpy arrays (ids uint32, flags uint8): the packer's path."""
        import numpy as np

        languages = list(languages) if languages is not None else [None] * len(texts)
        if self.pretokenizer == "bert":
            encodings = self._backend.encode_batch(list(texts), add_special_tokens=False)
            out = []
            for enc in encodings:
                starts = _first_of_word(np.array(enc.word_ids, dtype=np.int64)).astype(np.uint8)
                out.append((np.array(enc.ids, dtype=np.uint32), starts, starts.copy()))
            return out
        pres = [self._pretokenize(t, lang or self.default_language) for t, lang in zip(texts, languages)]
        # Pre-tokens hold no whitespace (layout travels as markers), so one space-joined string per text,
        # cut again by the backend's WhitespaceSplit, gives the same words as `is_pretokenized=True` and
        # is ~1.5x faster in tokenizers (one string to convert instead of one per pre-token).
        encodings = self._backend.encode_batch([" ".join(p.words) for p in pres], add_special_tokens=False)
        out = []
        for pre, enc in zip(pres, encodings):
            word_ids = np.array(enc.word_ids, dtype=np.int64)
            if len(word_ids) and word_ids[-1] != len(pre.words) - 1:  # a pre-token with whitespace after all
                enc = self._backend.encode(pre.words, is_pretokenized=True, add_special_tokens=False)
                word_ids = np.array(enc.word_ids, dtype=np.int64)
            first = _first_of_word(word_ids)
            ws = np.array(pre.word_start, dtype=bool)[word_ids] & first if len(word_ids) else first
            ss = np.array(pre.span_start, dtype=bool)[word_ids] & first if len(word_ids) else first
            out.append((np.array(enc.ids, dtype=np.uint32), ws.astype(np.uint8), ss.astype(np.uint8)))
        return out

    def _pretokenize(self, text: str, language: str | None):
        """Tree-sitter pre-tokens; special tokens written in the text ("[MASK]") stay single words."""
        from .code_pretokenizer import PreTokens, pretokenize

        specials = [t for t in self.hf.all_special_tokens if t in text]
        if not specials:
            return pretokenize(text, language)
        import re

        words, word_start, span_start = [], [], []
        for part in re.split("(" + "|".join(map(re.escape, sorted(specials, key=len, reverse=True))) + ")", text):
            if part in specials:
                words.append(part)
                word_start.append(True)
                span_start.append(True)
            elif part:
                pre = pretokenize(part, language)
                words += pre.words
                word_start += pre.word_start
                span_start += pre.span_start
        return PreTokens(words, word_start, span_start, parsed=False)

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids if int(i) not in (self.pad_id, self.cls_id, self.sep_id)]
        if self.pretokenizer == "bert":
            return self.hf.decode(ids, clean_up_tokenization_spaces=False)
        from .code_pretokenizer import detokenize

        if self._pieces is None:
            self._pieces = _surface_table(self._backend)
        return detokenize([self._pieces[i] for i in ids])

    def batch(self, texts: Sequence[str], max_length: int, text_pairs: Sequence[str] | None = None,
              language: str | None = None) -> dict:
        """[CLS] a [SEP] (b [SEP]) as LongTensors, truncated to max_length and right-padded."""
        import torch

        firsts = [e[0] for e in self.encode_batch_with_structure(texts, [language] * len(texts))]
        seconds = ([e[0] for e in self.encode_batch_with_structure(text_pairs, [language] * len(text_pairs))]
                   if text_pairs is not None else None)
        rows, types = [], []
        for i, a in enumerate(firsts):
            b = seconds[i] if seconds is not None else None
            a, b = _truncate_pair(a, b, max_length)
            row = [self.cls_id, *a, self.sep_id] + ([*b, self.sep_id] if b is not None else [])
            rows.append(row)
            types.append([0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else []))
        width = max((len(r) for r in rows), default=0)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        token_types = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (row, tt) in enumerate(zip(rows, types)):
            input_ids[i, :len(row)] = torch.tensor(row)
            attention[i, :len(row)] = 1
            token_types[i, :len(tt)] = torch.tensor(tt)
        return {"input_ids": input_ids, "attention_mask": attention, "token_type_ids": token_types}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        if self.pretokenizer == "code":  # what plain AutoTokenizer runs (our own encode never uses it)
            self.hf.backend_tokenizer.normalizer = raw_code_normalizer()
        self.hf.save_pretrained(str(path))
        meta = {"pretokenizer": self.pretokenizer, "default_language": self.default_language}
        (path / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return (f"DomainTokenizer(pretokenizer={self.pretokenizer!r}, vocab_size={self.vocab_size}, "
                f"source={str(self.source)!r})")


def raw_code_normalizer():
    """The normalizer a code tokenizer.json carries for raw text (see the module docstring).

    Chosen on held-out stdlib modules (benchmarks/code_tokenizer_agreement.py, its dev split): the share of
    the tree-sitter path's tokens that plain AutoTokenizer reproduces, 0.888 with spaces/tabs/newlines
    mapped alone, 0.947 with these rules (0.882 -> 0.948 on the modules not used to choose them)."""
    from tokenizers import Regex, normalizers

    replace = normalizers.Replace
    return normalizers.Sequence([
        # normalize_code: one kind of line break, odd whitespace as a space, no trailing whitespace
        replace("\r\n", "\n"), replace("\r", "\n"), replace(Regex(r"[^\S \t\n]"), " "),
        replace(Regex(r"[ \t]+(?=\n|$)"), ""),
        # layout one line of context can tell; any other indentation is an unchanged level (dropped)
        replace(Regex(r"(?<=[:(\[{])\n[ \t]+"), "↵⇢"),
        replace(Regex(r"\n[ \t]*(?=(?:else|elif|except|finally)\b|[)\]}])"), "↵⇠"),
        replace(Regex(r"\n[ \t]+"), "\n"),
        replace(" ", "▁"), replace("\t", "␉"), replace("\n", "↵")])


def upgrade_raw_fallback(folder: str | Path) -> bool:
    """Give a code tokenizer folder written before raw_code_normalizer the current one (True if changed)."""
    folder = Path(folder)
    meta, tokenizer_json = folder / META_FILE, folder / "tokenizer.json"
    if not (meta.is_file() and tokenizer_json.is_file()):
        return False
    if json.loads(meta.read_text(encoding="utf-8")).get("pretokenizer") != "code":
        return False
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(tokenizer_json))
    wanted = json.loads(raw_code_normalizer().__getstate__())  # the normalizer's JSON form
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    if data.get("normalizer") == wanted:
        return False
    backend.normalizer = raw_code_normalizer()
    backend.save(str(tokenizer_json))
    return True


def fallback_agreement(folder: str | Path, texts: Sequence[str], languages: Sequence[str | None] | None = None
                       ) -> dict:
    """How far plain `AutoTokenizer.from_pretrained(folder)` is from the toolkit's ids on `texts`.

    identical: share of texts whose ids are equal; token_agreement: the share of the toolkit's tokens that
    the plain ids reproduce in order (difflib matching blocks, weighted by length); length_ratio: plain
    tokens per toolkit token."""
    import difflib

    from transformers import AutoTokenizer

    ours = [ids for ids in (e[0] for e in load_tokenizer(folder).encode_batch_with_structure(texts, languages))]
    plain = AutoTokenizer.from_pretrained(str(folder))
    theirs = [plain(t, add_special_tokens=False, verbose=False)["input_ids"] for t in texts]
    matched = sum(sum(b.size for b in difflib.SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
                  for a, b in zip(ours, theirs))
    total = max(sum(map(len, ours)), 1)
    return {"files": len(texts), "identical": sum(a == b for a, b in zip(ours, theirs)),
            "identical_share": sum(a == b for a, b in zip(ours, theirs)) / max(len(texts), 1),
            "token_agreement": matched / total, "length_ratio": sum(map(len, theirs)) / total}


def _first_of_word(word_ids):
    """True where a token is the first piece of its pre-token (word id -1/None never occurs here)."""
    import numpy as np

    first = np.ones(len(word_ids), dtype=bool)
    if len(word_ids) > 1:
        first[1:] = word_ids[1:] != word_ids[:-1]
    return first


def _truncate_pair(a: list[int], b: list[int] | None, max_length: int) -> tuple[list[int], list[int] | None]:
    """Longest-first truncation, as HF does, leaving room for [CLS]/[SEP]s."""
    budget = max_length - (3 if b is not None else 2)
    if budget < 0:
        raise UserError(f"max_length={max_length} leaves no room for the special tokens; use at least 3")
    if b is None:
        return a[:budget], None
    a, b = list(a), list(b)
    while len(a) + len(b) > budget:
        (a if len(a) >= len(b) else b).pop()
    return a, b


def _surface_table(backend) -> list[str]:
    """id -> the text a token stands for in a code tokenizer (WordPiece '##' continuation removed)."""
    vocab = backend.get_vocab(with_added_tokens=True)
    prefix = getattr(backend.model, "continuing_subword_prefix", None)  # None for Unigram, "" for our code
    table = [""] * (max(vocab.values()) + 1)
    added = {t.content for t in backend.get_added_tokens_decoder().values()}
    for token, idx in vocab.items():
        if prefix and token not in added and token.startswith(prefix) and token != prefix:
            token = token[len(prefix):]
        table[idx] = token
    return table


def load_tokenizer(path: str | Path) -> DomainTokenizer:
    """Load a tokenizer folder (ours or any HF checkpoint folder) as a DomainTokenizer."""
    from transformers import AutoTokenizer

    path = Path(path).expanduser()
    if not path.is_dir():
        raise UserError(f"tokenizer folder not found: {path} (give a folder holding tokenizer.json)")
    if not ((path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()
            or (path / "tokenizer_config.json").is_file()):
        raise UserError(f"{path} holds no tokenizer files (tokenizer.json / vocab.txt); "
                        "point at a tokenizer or model folder")
    meta_path = path / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    hf = AutoTokenizer.from_pretrained(str(path))
    if not getattr(hf, "is_fast", False):
        raise UserError(f"{path}: only fast (tokenizer.json) tokenizers are supported")
    return DomainTokenizer(hf, meta.get("pretokenizer", "bert"), meta.get("default_language"), source=path)


def copy_tokenizer_files(src: str | Path, dst: str | Path) -> None:
    """Copy a tokenizer folder's files (HF files + our meta file) into a model folder."""
    src, dst = Path(src), Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                 "added_tokens.json", "sentencepiece.bpe.model", META_FILE):
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
