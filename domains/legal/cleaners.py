"""Corpus cleaners of the legal domain: repair what PDF/print extraction does to contracts and rulings.

Steps (each counts its edits in stats.json "edits"):
  page furniture: lines that are page numbers ("Page 3 of 12", "- 3 -", "3") and short lines repeated
      on many pages (running headers/footers such as "CONFIDENTIAL - Master Services Agreement");
  line numbers: pleading-paper numbering (most lines start with consecutive 1, 2, 3 ...) is removed;
  de-hyphenation: "agree-\\nment" -> "agreement" (only when the next line starts in lower case);
  section symbols and enumerations: "§12" / "§  12" -> "§ 12", "Sec. 4" -> "Section 4",
      "a)" / "iv)" / "1)" at a line start -> "(a)" / "(iv)" / "(1)", bullets -> "- ".
Options: repeated_line_min (3): how many times a short line must repeat to count as a header/footer;
dehyphenate / strip_page_furniture / strip_line_numbers / normalize_sections (all true).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Mapping, Sequence

from domain_electra.corpus.steps import with_edits
from domain_electra.domain import Document, Step

PAGE_NUMBER = re.compile(r"^\s*(?:page\s+\d+(?:\s+of\s+\d+)?|[-–—]?\s*\d{1,4}\s*[-–—]?|\[\d{1,4}\]|\d{1,4}\s*/\s*\d{1,4})\s*$",
                         re.IGNORECASE)
LINE_NUMBER = re.compile(r"^\s*(\d{1,3})\s+(?=\S)")
HYPHEN_BREAK = re.compile(r"(\w)-\n[ \t]*([a-zäöüßàèéìòù]\w*)")
SECTION = re.compile(r"§(§?)(?=\w)")  # "§12" -> "§ 12" (spaces are already collapsed)
SEC_ABBREV = re.compile(r"\bSec(?:t)?\.\s*(?=\d)")
ENUM = re.compile(r"^([ \t]*)(\d{1,2}|[a-z]|[ivxlc]{1,5})\)[ \t]+", re.MULTILINE)
BULLET = re.compile(r"^([ \t]*)[•◦▪●‣∙·–][ \t]+", re.MULTILINE)


def strip_page_furniture(repeated_min: int) -> Step:
    def step(doc: Document) -> Document | str:
        lines = doc.text.split("\n")
        counts = Counter(line.strip() for line in lines if 3 <= len(line.strip()) <= 100)
        furniture = {line for line, n in counts.items() if n >= repeated_min and len(line.split()) >= 2
                     and not line.endswith((".", ":", ";", ","))}
        kept, pages, repeated = [], 0, 0
        for line in lines:
            stripped = line.strip()
            if stripped and PAGE_NUMBER.match(stripped):
                pages += 1
            elif stripped in furniture:
                repeated += 1
            else:
                kept.append(line)
        if repeated > 0.5 * len(lines):  # mostly repeated lines: that is content, not page furniture
            repeated, kept = 0, [line for line in lines if not (line.strip() and PAGE_NUMBER.match(line.strip()))]
        if not pages and not repeated:
            return doc
        return with_edits(doc, "\n".join(kept), page_numbers_removed=pages, headers_footers_removed=repeated)
    return step


def strip_line_numbers(doc: Document) -> Document | str:
    """Remove leading line numbers when most non-empty lines carry them in increasing order."""
    lines = doc.text.split("\n")
    numbered = [(i, int(m.group(1))) for i, line in enumerate(lines) if (m := LINE_NUMBER.match(line))]
    nonempty = sum(1 for line in lines if line.strip())
    if len(numbered) < 5 or len(numbered) < 0.6 * nonempty:
        return doc
    increasing = sum(1 for (_, a), (_, b) in zip(numbered, numbered[1:]) if b == a + 1 or b == 1)
    if increasing < 0.8 * (len(numbered) - 1):
        return doc
    for i, _ in numbered:
        lines[i] = LINE_NUMBER.sub("", lines[i], count=1)
    return with_edits(doc, "\n".join(lines), line_numbers_removed=len(numbered))


def dehyphenate(doc: Document) -> Document | str:
    text, n = HYPHEN_BREAK.subn(r"\1\2", doc.text)
    return with_edits(doc, text, dehyphenated=n) if n else doc


def normalize_sections(doc: Document) -> Document | str:
    text, a = SECTION.subn(lambda m: f"§{m.group(1)} ", doc.text)
    text, b = SEC_ABBREV.subn("Section ", text)
    text, c = ENUM.subn(r"\1(\2) ", text)
    text, d = BULLET.subn(r"\1- ", text)
    changed = text != doc.text
    return with_edits(doc, text, sections_normalized=(a + b) if changed else 0,
                      enumerations_normalized=(c + d) if changed else 0) if changed else doc


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    steps: list[Step] = []
    if options.get("strip_page_furniture", True):
        steps.append(strip_page_furniture(int(options.get("repeated_line_min", 3))))
    if options.get("strip_line_numbers", True):
        steps.append(strip_line_numbers)
    if options.get("dehyphenate", True):
        steps.append(dehyphenate)
    if options.get("normalize_sections", True):
        steps.append(normalize_sections)
    return steps
