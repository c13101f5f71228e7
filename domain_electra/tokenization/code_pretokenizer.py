"""Tree-sitter-aware pre-tokenization of source code, lossless up to `normalize_code`.

`pretokenize(text, language)` turns a file into *pre-tokens*: the words a WordPiece/Unigram model then
splits into vocabulary pieces. Pre-tokens never contain real whitespace; the layout travels in marker
characters, so `detokenize(pretokenize(x).words) == normalize_code(x)` for every input:

- "▁" (U+2581) is a space, "␉" (U+2409) a tab.
- A line break and the indentation change that follows it become structure characters: "↵" per
  newline, then "⇠" per indentation level closed, then "⇢" if a level opens. A level's width is spelled
  out after "⇢" ("⇢▁▁") except when it equals the file's first indentation step (its unit), so a
  4-space Python file writes "↵⇢", "↵", "↵⇠⇠", ...
- **A pre-token is one word plus the layout and punctuation leading into it**: "def", "▁f", "(self",
  ",▁x", "):↵⇢return", "▁self", ".foo", "▁=▁0", and a last punctuation-only pre-token (")↵") at the
  end. Like the "▁" space prefix of SentencePiece, the prefix lets WordPiece learn pieces such as
  "↵⇢return", "(self" or ".append", so most lines pay nothing extra for their layout and the
  frequent punctuation-word pairs cost one token. (Measured on held-out stdlib modules with a 16k
  vocabulary: 8.95 tokens/line with layout and punctuation as separate pre-tokens, 8.34 with only the
  layout attached, 7.07 with both; benchmarks/RESULTS.md.) Punctuation and operator leaves are never
  cut by the pre-tokenizer; the vocabulary decides how a prefix is split into pieces.
- Words in code (outside strings and comments) are tree-sitter leaves: keywords and numbers whole,
  identifiers cut at snake_case, camelCase and digit boundaries: "getUserById" -> "get" "User" "By"
  "Id", "max_len2" -> "max" "_len" "2". The marker of a sub-word boundary is the absence of any prefix:
  a pre-token that starts with a word character continues the identifier before it, and only the
  first pre-token of an identifier has word_start=True (whole-identifier masking).
- String literals and comments (tree-sitter's string/comment nodes) use natural-language words
  (\\w+, no identifier splitting); their quotes and comment markers are prefixes like any punctuation.
  A string inside a node of at most SPAN_BYTES is not visited by the walk and is lexed as code.
- Spans for span masking: tree-sitter nodes are visited top-down and a node whose text is at most
  SPAN_BYTES long (an identifier, a literal, a short expression or statement) becomes one span; larger
  nodes are split into their children. A pre-token starts a span when a span, a line or (in strings
  and comments longer than SPAN_BYTES) a word starts inside it; span_start implies word_start.

`normalize_code` (the documented whitespace normalisation): line endings become "\\n"; other Unicode
whitespace than space, tab and newline (form feed, NBSP, ...) becomes a space; whitespace at the end of
each line is removed; the marker characters above, when they occur in the input, become the whitespace
they stand for ("▁"->" ", "␉"->"\\t", "↵"->"\\n") or "<"/">" ("⇠"/"⇢").

Speed (the hot path of training and packing): the parsed path runs in C (_fastcode.c, built at install
time; ~6 MB/s per core, of which the tree-sitter parse alone is ~7) and gives exactly the pre-tokens of
the Python path below (`_parsed_python`, ~3.4 MB/s), which is its reference in the tests and the fallback
when the extension was not built. The Python path uses whole-string passes: one `str.split` for the
layout, one compiled regex `findall` per code/text segment, numpy for the span flags, and one per-node
loop, the span walk, which stops at nodes of SPAN_BYTES. A change to the rules must change both paths.

Graceful degradation: an unknown language, a grammar that fails to import or a parser exception fall
back to the natural-language pre-tokenizer for the whole file (still lossless); a tree with syntax
errors is used as it is (partial parse) and counted. Counts are in `STATS`.
"""
from __future__ import annotations

import importlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter

try:  # the parsed path in C (built by setup.py from _fastcode.c); same output as the Python path below
    from . import _fastcode
except ImportError:  # no C compiler at install time: the Python path is used, about half as fast
    _fastcode = None

SPACE, TAB, NEWLINE, INDENT, DEDENT = "▁", "␉", "↵", "⇢", "⇠"
SPAN_BYTES = 16
MAX_WORD_CHARS = 48  # longer pre-tokens (base64 blobs, ASCII art) are cut into glued chunks

# language -> (module, function returning the grammar). Only the installed wheels are usable.
GRAMMARS = {
    "python": ("tree_sitter_python", "language"), "javascript": ("tree_sitter_javascript", "language"),
    "java": ("tree_sitter_java", "language"), "go": ("tree_sitter_go", "language"),
    "c": ("tree_sitter_c", "language"), "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"), "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"), "rust": ("tree_sitter_rust", "language"),
}
ALIASES = {"py": "python", "js": "javascript", "jsx": "javascript", "node": "javascript", "c++": "cpp",
           "cc": "cpp", "cxx": "cpp", "h": "c", "hpp": "cpp", "c#": "csharp", "cs": "csharp",
           "c-sharp": "csharp", "c_sharp": "csharp", "rb": "ruby", "rs": "rust", "golang": "go"}
EXTENSIONS = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
              ".java": "java", ".go": "go", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
              ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php",
              ".rs": "rust"}
_REGION_NODE = re.compile(r"comment|string|heredoc|char_literal|character_literal|rune_literal")

STATS: Counter = Counter()  # parsed / partial_parse / fallback_unknown_language / fallback_error

_ODD_WHITESPACE = re.compile(r"[^\S \t\n]|[▁␉↵⇢⇠]")
_ODD_MAP = {SPACE: " ", TAB: "\t", NEWLINE: "\n", INDENT: ">", DEDENT: "<"}
_ODD_ASCII = "\x0b\x0c\x1c\x1d\x1e\x1f"

# A prefix (any run of non-word characters: markers, structure, punctuation) then one word. `*+`/`++`
# are possessive (no backtracking into the prefix); every position matches, so findall drops nothing.
_LOWER = r"[^\W\dA-Z_]"  # a word character that is not a digit, an ASCII capital or "_"
_IDENT = rf"_*(?:[A-Z]+(?=[A-Z]{_LOWER})|[A-Z]?{_LOWER}+|[A-Z]+)|_+"
_NUMBER = r"(?<!\w)\d\w*(?:\.(?!\.)\w*)?(?:(?<=[eE])[+-]\d\w*)?"
CODE_PATTERN = re.compile(rf"\W*+(?:{_IDENT}|{_NUMBER}|\d+)|\W++")
TEXT_PATTERN = re.compile(r"\W*+\w++|\W++")
_LINEBREAKS = re.compile("(\n+)([▁␉]*)")
_WORD_CHAR = re.compile(r"\w")
_FIRST = itemgetter(0)


@dataclass(frozen=True)
class PreTokens:
    """Pre-tokens of one document, with per-pre-token flags for whole-word and span masking."""

    words: list[str]
    word_start: list[bool]
    span_start: list[bool]
    parsed: bool  # False when the natural-language fallback was used


def normalize_code(text: str) -> str:
    """The whitespace normalisation under which decode(encode(text)) == text (see module docstring)."""
    # str methods instead of one regex: Python's regex engine scans at ~20 MB/s, str.replace at GB/s.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        for char in _ODD_ASCII:
            if char in text:
                text = text.replace(char, " ")
    else:
        text = _ODD_WHITESPACE.sub(lambda m: _ODD_MAP.get(m.group(), " "), text)
    return "\n".join([line.rstrip(" \t") for line in text.split("\n")])


def resolve_language(language: str | None) -> str | None:
    """A canonical grammar name for a language name, alias or file extension, else None."""
    if not language:
        return None
    name = language.strip().lower()
    if name.startswith("."):
        return EXTENSIONS.get(name)
    name = ALIASES.get(name, name)
    return name if name in GRAMMARS else None


@lru_cache(maxsize=None)
def _capsule(language: str):
    """The grammar wheel's PyCapsule (the TSLanguage pointer) for a canonical name; raises if not installed."""
    module, function = GRAMMARS[language]
    return getattr(importlib.import_module(module), function)()


@lru_cache(maxsize=None)
def tree_sitter_language(language: str):
    """The tree_sitter.Language of an installed grammar wheel (canonical name, see GRAMMARS), or None."""
    try:
        from tree_sitter import Language

        return Language(_capsule(language))
    except (ImportError, AttributeError, KeyError, ValueError):
        return None


@dataclass(frozen=True)
class _Grammar:
    parser: object  # tree_sitter.Parser
    region_ids: frozenset  # kind ids of string/comment nodes
    capsule: object  # the grammar wheel's PyCapsule, for the C path
    region_mask: bytes  # region_ids as a mask over kind ids, for the C path


@lru_cache(maxsize=None)
def _grammar(language: str) -> _Grammar | None:
    """Parser and string/comment kinds of an installed grammar, or None. Cached per language."""
    from tree_sitter import Parser

    lang = tree_sitter_language(language)
    if lang is None:
        return None
    region_ids = frozenset(i for i in range(lang.node_kind_count) if lang.node_kind_is_named(i)
                           and _REGION_NODE.search(lang.node_kind_for_id(i) or ""))
    mask = bytes(i in region_ids for i in range(lang.node_kind_count))
    return _Grammar(Parser(lang), region_ids, _capsule(language), mask)


def available_languages() -> list[str]:
    return [name for name in GRAMMARS if _grammar(name) is not None]


def _walk(root, region_ids) -> tuple[list[tuple[int, int]], list[int]]:
    """One top-down walk: outermost string/comment byte ranges, and span start bytes.

    A node of at most SPAN_BYTES is one span and is not descended into (the walk is the costly part
    after parsing); a string or comment node is a region and is not descended into either, so a
    string inside a short span is lexed as code (its tokens differ only in identifier splitting).
    """
    regions: list[tuple[int, int]] = []
    starts: list[int] = []
    cursor = root.walk()
    if not cursor.goto_first_child():
        return regions, starts
    while True:
        node = cursor.node
        start, end = node.start_byte, node.end_byte
        if end - start <= SPAN_BYTES or node.child_count == 0:
            if end > start:
                starts.append(start)
                if node.kind_id in region_ids:
                    regions.append((start, end))
        elif node.kind_id in region_ids:
            starts.append(start)
            regions.append((start, end))
        elif cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return regions, starts


def _layout(text: str) -> tuple[list[str], list[str]]:
    """The text with spaces/tabs as markers, split as [text, "\n"s, indentation, text, ...], where each
    indentation is already replaced by its structure characters ("⇠⇠", "⇢", "⇢▁▁" or "").

    Only the indentation changes need Python work; most lines keep it and become "". Line breaks stay
    "\n" here (the caller replaces them with "↵" in one pass). Also returns the original indentations.
    """
    parts = _LINEBREAKS.split(text.replace(" ", SPACE).replace("\t", TAB))
    indents = parts[2::3]
    if not indents:
        return parts, indents
    out = [""] * len(indents)
    stack, unit, top = [""], None, ""
    # A line break ending the file is left without dedents (its indentation is empty).
    for k in range(len(indents) - (parts[-1] == "")):
        indent = indents[k]
        if indent == top:
            continue
        pops = 0
        while not indent.startswith(stack[-1]):
            stack.pop()
            pops += 1
        token = DEDENT * pops
        if indent != stack[-1]:
            delta = indent[len(stack[-1]):]
            stack.append(indent)
            if unit is None:
                unit, token = delta, token + INDENT + delta
            else:
                token += INDENT if delta == unit else INDENT + delta
        top = indent
        out[k] = token
    parts[2::3] = out
    return parts, indents


def pretokenize(text: str, language: str | None = None) -> PreTokens:
    """Pre-tokens of a file (see module docstring). Never raises on bad code: it falls back."""
    text = normalize_code(text)
    name = resolve_language(language)
    grammar = _grammar(name) if name else None
    if grammar is None:
        STATS["fallback_unknown_language"] += 1
        return _plain(text)
    try:
        tokens = _parsed_native(text, grammar) if _fastcode is not None else _parsed_python(text, grammar)
    except Exception:  # a grammar bug must not stop a corpus run: count it and fall back
        STATS["fallback_error"] += 1
        return _plain(text)
    STATS["parsed" if tokens.parsed else "partial_parse"] += 1
    return PreTokens(tokens.words, tokens.word_start, tokens.span_start, parsed=True)


def _parsed_native(text: str, grammar: _Grammar) -> PreTokens:
    """The C path (_fastcode.c); `parsed` is False for a tree with syntax errors."""
    words, word_start, span_start, has_error = _fastcode.pretokenize(
        text, grammar.capsule, grammar.region_mask, SPAN_BYTES, MAX_WORD_CHARS)
    return PreTokens(words, word_start, span_start, parsed=not has_error)


def _parsed_python(text: str, grammar: _Grammar) -> PreTokens:
    """The Python path, the reference of the C one; `parsed` is False for a tree with syntax errors."""
    data = text.encode("utf-8")
    tree = grammar.parser.parse(data)
    byte_regions, byte_starts = _walk(tree.root_node, grammar.region_ids)
    has_error = tree.root_node.has_error
    import numpy as np

    parts, indents = _layout(text)
    marked = "".join(parts).replace("\n", NEWLINE)
    # Positions in `text` -> positions in `marked` (only the indentation parts change length).
    lengths = list(map(len, parts))
    new_starts = _starts(lengths)
    lengths[2::3] = map(len, indents)
    old_starts = _starts(lengths)

    def to_marked(chars):
        part = np.searchsorted(old_starts, chars, side="right") - 1
        offset = chars - old_starts[part]
        offset[part % 3 != 0] = 0  # never inside a line break or indentation: snap to its start
        return new_starts[part] + offset

    regions = np.asarray(byte_regions, dtype=np.int64).reshape(-1, 2)
    spans = np.asarray(byte_starts, dtype=np.int64)
    if len(data) != len(text):  # non-ASCII: byte offsets -> character offsets
        widths = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        widths = 1 + (widths >= 0x80) + (widths >= 0x800) + (widths >= 0x10000)
        byte_of_char = np.concatenate([[0], np.cumsum(widths)])
        regions = np.searchsorted(byte_of_char, regions)
        spans = np.searchsorted(byte_of_char, spans)
    regions = to_marked(regions.reshape(-1)).reshape(-1, 2).tolist()
    words: list[str] = []
    long_text = []  # token ranges of strings/comments longer than SPAN_BYTES: every word starts a span
    cursor = 0
    for start, end in regions:
        if start < cursor or end <= start:
            continue
        if start > cursor:
            _lex(CODE_PATTERN, marked, cursor, start, words)
        first = _lex(TEXT_PATTERN, marked, start, end, words)
        if end - start > SPAN_BYTES:
            long_text.append((first, len(words)))
        cursor = end
    if cursor < len(marked):
        _lex(CODE_PATTERN, marked, cursor, len(marked), words)
    span_points = np.concatenate([to_marked(spans), new_starts[1::3]])  # every line starts a span
    return _finish(words, span_points, long_text, parsed=not has_error)


def _starts(lengths: list[int]):
    """Start offsets of consecutive strings of these lengths, as an int64 array."""
    import numpy as np

    return np.fromiter(accumulate(lengths, initial=0), np.int64, len(lengths) + 1)[:-1]


def _lex(pattern, marked: str, start: int, end: int, words: list[str]) -> int:
    """Append the pre-tokens of marked[start:end]; a prefix left over from the previous segment (a
    quote, "(", a line break) joins the first word. Returns the index of the segment's first token."""
    tokens = pattern.findall(marked, start, end)
    if tokens and words and not (words[-1][-1].isalnum() or words[-1][-1] == "_"):
        tokens[0] = words.pop() + tokens[0]
    first = len(words)
    words += tokens
    return first


def _plain(text: str) -> PreTokens:
    """The natural-language fallback: the same layout markers, \\w+ words, every word a span."""
    import numpy as np

    words = TEXT_PATTERN.findall("".join(_layout(text)[0]).replace("\n", NEWLINE))
    return _finish(words, np.zeros(0, np.int64), [(0, len(words))], parsed=False)


def _finish(words: list[str], span_points, long_text, parsed: bool) -> PreTokens:
    """word_start / span_start flags from whole-list passes, then cut over-long pre-tokens."""
    import numpy as np

    n = len(words)
    word_start = [True] * n
    # Every pre-token has a prefix except the continuation of an identifier (and the file's first).
    for m in _WORD_CHAR.finditer("".join(map(_FIRST, words)), 1):
        word_start[m.start()] = False
    lengths = np.fromiter(map(len, words), np.int64, n)
    ends = np.cumsum(lengths)
    spans = np.zeros(n, dtype=bool)
    hit = np.searchsorted(ends, span_points, side="right")
    spans[hit[hit < n]] = True
    for lo, hi in long_text:
        spans[lo:hi] = True
    if n:
        spans[0] = True
    span_start = (spans & np.array(word_start, dtype=bool)).tolist()
    long_words = np.flatnonzero(lengths > MAX_WORD_CHARS).tolist()
    if long_words:
        words, word_start, span_start = _chunk_long(words, word_start, span_start, long_words)
    return PreTokens(words, word_start, span_start, parsed)


def _chunk_long(words, word_start, span_start, long_words: list[int]):
    """Cut over-long pre-tokens (base64, hashes, rulers) into glued chunks so WordPiece never maps them
    to [UNK]."""
    for i in reversed(long_words):
        chunks = [words[i][k:k + MAX_WORD_CHARS] for k in range(0, len(words[i]), MAX_WORD_CHARS)]
        words[i:i + 1] = chunks
        word_start[i + 1:i + 1] = [False] * (len(chunks) - 1)
        span_start[i + 1:i + 1] = [False] * (len(chunks) - 1)
    return words, word_start, span_start


_STRUCTURE = re.compile("(↵+)(⇠*)(?:⇢([▁␉]*))?")


def detokenize(pieces) -> str:
    """Text from pre-tokens or vocabulary pieces (continuation prefixes already removed)."""
    joined = "".join(pieces)
    out: list[str] = []
    stack, unit, pending, cursor = [""], None, None, 0
    for m in _STRUCTURE.finditer(joined):
        out.append(joined[cursor:m.start()])
        cursor = m.end()
        newlines, pops, delta = m.group(1), m.group(2), m.group(3)
        for _ in range(min(len(pops), len(stack) - 1)):
            stack.pop()
        if delta is not None:
            if delta and unit is None:
                unit = delta
            stack.append(stack[-1] + (delta or unit or ""))
        out.append("\n" * len(newlines))
        pending = stack[-1]
        if cursor < len(joined):
            out.append(pending)
    out.append(joined[cursor:])
    return "".join(out).replace(SPACE, " ").replace(TAB, "\t")
