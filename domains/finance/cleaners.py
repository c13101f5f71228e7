"""Corpus cleaners of the finance domain: boilerplate out, tables handled by option, numbers optional.

Steps (edits counted in stats.json):
  boilerplate: paragraphs that are forward-looking-statement / safe-harbor disclaimers, investment
      disclaimers ("not investment advice", "past performance is not ...") or legal footers
      ("All rights reserved", "Member FDIC", ...) are removed, as are paragraphs repeated 3+ times in a
      document (the same footer under every page); a document left empty is dropped as "boilerplate".
  tables ("keep" | "strip" (default) | "drop"): a line is table-like when it has >= 3 numeric cells and
      numbers make up at least half its words, or it is a |-separated row. "strip" removes runs of 3+
      table lines; "drop" drops documents whose lines are mostly table-like ("table_heavy",
      max_table_share 0.5); "keep" leaves them.
  normalize_numbers (false): "1,234,567" -> "1234567", accounting negatives "(1,234)" -> "-1234",
      "12 %" -> "12%", "US$"/"USD " -> "$".
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Mapping, Sequence

from domain_electra.corpus.steps import with_edits
from domain_electra.domain import Document, Step
from domain_electra.errors import UserError

# Substring tests, not one big regex: Python's re rescans for every "risk" in a paragraph, and FOMC
# minutes say "risk" a lot. A forward-looking-statement disclaimer names itself and one of its tells.
FLS = ("forward-looking statement", "forward looking statement")
FLS_TELLS = ("risk", "uncertaint", "undue reliance", "safe harbor", "actual results")
FOOTERS = ("private securities litigation reform act", "not investment advice", "not intended as investment advice",
           "does not constitute investment advice", "past performance is not", "past performance does not",
           "all rights reserved", "member fdic", "is for informational purposes only",
           "does not constitute an offer to sell")


_ANY_TELL = FLS + FOOTERS


def may_hold_disclaimer(text: str) -> bool:
    """Cheap whole-document test: no paragraph can be a disclaimer unless the document names one."""
    lower = text.lower()
    return any(f in lower for f in _ANY_TELL)


def is_disclaimer(paragraph: str) -> bool:
    lower = paragraph.lower()
    if any(f in lower for f in FLS) and any(t in lower for t in FLS_TELLS):
        return True
    return any(f in lower for f in FOOTERS)


NUMBER = re.compile(r"^[(\-–+$€£¥]*\d[\d,.]*%?\)?$")
THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,]*\d)")
NEGATIVE = re.compile(r"\((\d[\d,]*(?:\.\d+)?)\)")
PERCENT = re.compile(r"(\d)\s+%")
DOLLAR = re.compile(r"\bUS\$\s?|\bUSD\s?(?=\d)")


def _paragraphs(text: str) -> list[str]:
    return text.split("\n\n") if "\n\n" in text else text.split("\n")


def boilerplate(doc: Document) -> Document | str:
    sep = "\n\n" if "\n\n" in doc.text else "\n"
    paragraphs = _paragraphs(doc.text)
    keys = [p.strip() for p in paragraphs]
    counts = Counter(k for k in keys if len(k) >= 20)
    check = may_hold_disclaimer(doc.text)  # one scan instead of one per paragraph (FOMC: 100 lines a file)
    if not check and (not counts or max(counts.values()) < 3):
        return doc
    kept, removed, seen = [], 0, set()
    for paragraph, key in zip(paragraphs, keys):
        repeated = counts.get(key, 0) >= 3
        if (check and len(key) < 3000 and is_disclaimer(key)) or (repeated and key in seen):
            removed += 1
            continue
        if repeated:
            seen.add(key)  # the first copy of a repeated paragraph stays
        kept.append(paragraph)
    if not removed:
        return doc
    text = sep.join(kept).strip()
    return with_edits(doc, text, boilerplate_removed=removed) if text else "boilerplate"


_DIGIT_RUNS = re.compile(r"\d+")


def is_table_line(line: str) -> bool:
    if line.count("|") >= 2:
        return True
    if len(_DIGIT_RUNS.findall(line)) < 3:  # cheap rejection: prose lines rarely hold 3 numbers
        return False
    words = line.split()
    numeric = sum(1 for w in words if NUMBER.match(w))
    return numeric >= 3 and numeric >= 0.5 * len(words)


def tables(mode: str, max_share: float) -> Step:
    def step(doc: Document) -> Document | str:
        lines = doc.text.split("\n")
        flags = [is_table_line(line) for line in lines]
        if not any(flags):
            return doc
        if mode == "drop":
            nonempty = sum(1 for line in lines if line.strip())
            return "table_heavy" if sum(flags) > max_share * max(nonempty, 1) else doc
        keep = [True] * len(lines)
        i = 0
        while i < len(lines):  # strip runs of 3+ table lines; a lone numeric line is prose
            j = i
            while j < len(lines) and flags[j]:
                j += 1
            if j - i >= 3:
                keep[i:j] = [False] * (j - i)
            i = max(j, i + 1)
        removed = keep.count(False)
        if not removed:
            return doc
        text = "\n".join(line for line, k in zip(lines, keep) if k).strip()
        return with_edits(doc, text, table_lines_removed=removed) if text else "table_heavy"
    return step


def normalize_numbers(doc: Document) -> Document | str:
    text = NEGATIVE.sub(lambda m: "-" + m.group(1), doc.text)
    text = THOUSANDS.sub(lambda m: m.group(1).replace(",", ""), text)
    text = PERCENT.sub(r"\1%", text)
    text = DOLLAR.sub("$", text)
    return with_edits(doc, text, numbers_normalized=1) if text != doc.text else doc


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    steps: list[Step] = []
    if options.get("remove_boilerplate", True):
        steps.append(boilerplate)
    mode = str(options.get("tables", "strip"))
    if mode not in ("keep", "strip", "drop"):
        raise UserError(f"finance cleaner option tables must be keep, strip or drop, got {mode!r}")
    if mode != "keep":
        steps.append(tables(mode, float(options.get("max_table_share", 0.5))))
    if options.get("normalize_numbers", False):
        steps.append(normalize_numbers)
    return steps
