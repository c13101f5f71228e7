"""Corpus cleaners of the medical domain: de-identification of protected health information (PHI).

On by default. Each identifier is replaced by a typed placeholder and counted in stats.json ("phi"):
[NAME] [DATE] [PHONE] [EMAIL] [ID] [ADDRESS] [URL] [IP]. Two detectors, whose spans are merged
(overlaps: the longer span wins):
  rules: regular expressions for e-mails, URLs, IPv4/IPv6, phone/fax numbers, dates (numeric,
      ISO, month names; a bare year is kept, as HIPAA Safe Harbor allows), SSNs and labelled record,
      account, member and policy numbers, street addresses, "City, ST 12345" and P.O. boxes;
  spaCy: a blank English pipeline with an EntityRuler for person names (a title such as "Dr." or
      "Mrs.", a cue such as "Patient:" or "son", or a common first name, followed by capitalised
      words); if a trained English pipeline is installed (e.g. en_core_web_sm) its PERSON entities
      are used as well. Titles and cues stay in the text: "Dr. Jane Roe" -> "Dr. [NAME]".
Options: deidentify (true), spacy_model ("" = auto: a trained pipeline if installed, else blank).
Names with no title, cue or known first name are the known gap (see the PHI recall test).
"""
from __future__ import annotations

import re
import string
from typing import Any, Mapping, Sequence

from domain_electra.corpus.steps import with_edits
from domain_electra.domain import Document, Step

MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?"
         r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
STREET = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace"
          r"|Parkway|Pkwy|Circle|Cir|Highway|Hwy)")
RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]]")),
    ("IP", re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"
                      r"|\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\b")),
    ("ID", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),  # SSN
    ("ID", re.compile(r"(?i:\b(?:MRN|medical record(?: number| no\.?)?|record (?:number|no\.?)|account(?: number| no\.?)?"
                      r"|acct\.?|patient id|member id|policy(?: number| no\.?)?|insurance id|SSN|ID)"
                      r"\s*(?:[:#]|no\.?|number)?\s*#?\s*)(?P<phi>[A-Z]{0,4}-?\d[\dA-Z-]{3,})\b")),
    ("PHONE", re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?:\s*(?:x|ext\.?)\s*\d{1,5})?\b")),
    ("DATE", re.compile(rf"\b(?:{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTH}\.?,?\s+\d{{4}}"
                        rf"|{MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)\b|{MONTH}\.?\s+\d{{4}})\b")),
    ("DATE", re.compile(r"\b(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{2}-\d{2})\b")),
    ("ADDRESS", re.compile(rf"\b\d{{1,5}}\s+(?:[A-Z][a-z]+\s+){{1,3}}{STREET}\b\.?(?:,?\s+(?:Apt|Suite|Unit|#)\.?\s*\w+)?"
                           r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?(?:,\s*[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?")),
    ("ADDRESS", re.compile(r"\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?\b|\bP\.?\s?O\.?\s+Box\s+\d+\b")),
)
TITLES = ["mr", "mrs", "ms", "miss", "dr", "prof", "mr.", "mrs.", "ms.", "dr.", "prof."]
TITLE_CASED = [t.capitalize() for t in TITLES]
# Cues only count when a known first name follows ("see your doctor. Your BMI" is not a name).
CUES = ["doctor", "nurse", "patient", "pt", "name", "son", "daughter", "wife", "husband", "mother", "father", "brother", "sister",
        "signed", "dictated", "attending", "physician", "surgeon", "contact", "referred", "cc", "by", "guardian"]
FIRST_NAMES = """james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob gary
nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank patrick raymond jack
dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle walter ethan jeremy harold keith christian
roger noah gerald carl terry sean austin arthur lawrence jesse dylan bryan joe jordan billy bruce albert willie gabriel
logan alan juan wayne roy ralph randy eugene vincent russell elijah louis bobby philip johnny mary patricia jennifer
linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra ashley kimberly emily donna michelle
carol amanda dorothy melissa deborah stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda
pamela emma nicole helen samantha katherine christine debra rachel carolyn janet catherine maria heather diane ruth
julie olivia joyce virginia victoria kelly lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline
martha gloria teresa ann sara madison frances kathryn janice jean abigail alice judy sophia grace denise amber doris
marilyn danielle beverly isabella theresa diana natalie brittany charlotte marie kayla alexis lori jane rose""".split()


def _name_patterns() -> list[dict]:
    cap = {"IS_TITLE": True, "IS_ALPHA": True}
    surname = [{"IS_TITLE": True}, {"TEXT": "-", "OP": "?"}, {"IS_TITLE": True, "OP": "?"}]
    return [
        # Case-sensitive titles: "MS. Most patients" is multiple sclerosis, not Ms. Most.
        {"label": "NAME", "pattern": [{"TEXT": {"IN": TITLE_CASED}}, {"TEXT": ".", "OP": "?"}, *surname]},
        {"label": "NAME", "pattern": [{"TEXT": {"IN": TITLE_CASED}}, {"TEXT": ".", "OP": "?"}, cap, *surname]},
        {"label": "NAME", "pattern": [{"LOWER": {"IN": CUES}}, {"TEXT": {"IN": [":", ","]}, "OP": "?"},
                                      {"LOWER": {"IN": FIRST_NAMES}}, cap]},
        {"label": "NAME", "pattern": [{"LOWER": {"IN": ["patient", "pt", "name"]}}, {"TEXT": ":"}, cap, cap]},
        {"label": "NAME", "pattern": [{"LOWER": {"IN": FIRST_NAMES}, "IS_TITLE": True},
                                      {"IS_UPPER": True, "LENGTH": 1, "OP": "?"}, {"TEXT": ".", "OP": "?"}, cap]},
    ]


# Where a name pattern can start: a title, a cue or a first name followed by a capitalised word. spaCy
# runs only on a short window after each such place, which keeps de-identification fast on prose with
# no names in it (the blank pipeline's rules all start there). A trained pipeline sees the whole text.
CANDIDATE = re.compile(r"(?<!\w)([A-Za-z]+)\.?[:,]?\s+(?=[A-Z])")
TRIGGER_WORDS = frozenset(v for w in {t.rstrip(".") for t in TITLES} | set(CUES) for v in (w, w.capitalize(), w.upper())
                          ) | frozenset(n.capitalize() for n in FIRST_NAMES)
_WS_CAPITAL = re.compile(r"\s[A-Z]")
_LETTERS = frozenset(string.ascii_letters)


def name_starts(text: str) -> list[int]:
    """Starts of the CANDIDATE matches whose word is a trigger word (a test pins the equality).

    Found backwards from each whitespace-then-capital: a regex scan for that is about twice as fast as
    CANDIDATE's, which tries its word pattern at every word of the text.
    """
    starts = []
    for m in _WS_CAPITAL.finditer(text):
        end = m.start()
        while end and text[end - 1].isspace():
            end -= 1
        if end and text[end - 1] in ":,":
            end -= 1
        if end and text[end - 1] == ".":
            end -= 1
        start = end
        while start and text[start - 1] in _LETTERS:
            start -= 1
        if start < end and text[start:end] in TRIGGER_WORDS and not (
                start and (text[start - 1].isalnum() or text[start - 1] == "_")):  # CANDIDATE's (?<!\w)
            starts.append(start)
    return starts


# Every rule except EMAIL and URL needs a digit: those rules run only on windows around digits.
DIGITS = re.compile(r"\d[\d/.:-]*")
DIGIT_CONTEXT = 60
WINDOW = 120


class Deidentifier:
    """Finds PHI spans and replaces them with typed placeholders."""

    def __init__(self, spacy_model: str = ""):
        import spacy

        self.trained = None
        name = spacy_model or next((m for m in ("en_core_web_sm", "en_core_web_md", "en_core_web_lg")
                                    if spacy.util.is_package(m)), "")
        if name:
            self.trained = spacy.load(name, disable=["parser", "lemmatizer", "tagger", "attribute_ruler"])
        self.nlp = spacy.blank("en")
        ruler = self.nlp.add_pipe("entity_ruler")
        ruler.add_patterns(_name_patterns())

    def _rules(self, text: str) -> list[tuple[int, int, str]]:
        found = []
        regions = [(0, text)] if ("@" in text or "://" in text or "www." in text) else []
        windows: list[list[int]] = []
        for m in DIGITS.finditer(text):
            start, end = max(0, m.start() - DIGIT_CONTEXT), min(len(text), m.end() + DIGIT_CONTEXT)
            start = text.rfind(" ", 0, start) + 1 if start else 0  # never start inside a word
            if windows and start <= windows[-1][1]:
                windows[-1][1] = end
            else:
                windows.append([start, end])
        chunks = [(a, text[a:b]) for a, b in windows]
        for kind, pattern in RULES:
            targets = regions if kind in ("EMAIL", "URL") else chunks
            group = "phi" if "phi" in pattern.groupindex else 0
            for offset, chunk in targets:
                for m in pattern.finditer(chunk):
                    found.append((offset + m.start(group), offset + m.end(group), kind))
        return found

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = self._rules(text) + self._names(text)
        # Longest first, then earliest; a span overlapping an accepted one is dropped.
        accepted: list[tuple[int, int, str]] = []
        for start, end, kind in sorted(set(found), key=lambda s: (-(s[1] - s[0]), s[0])):
            if all(end <= a or start >= b for a, b, _ in accepted):
                accepted.append((start, end, kind))
        return sorted(accepted)

    def _names(self, text: str) -> list[tuple[int, int, str]]:
        starts = name_starts(text)
        windows = [(start, text[start:start + WINDOW]) for start in starts]
        docs = []
        if windows:  # most texts have none, and setting up nlp.pipe costs ~50 us even then
            docs = [(offset, doc) for (offset, _), doc in zip(windows, self.nlp.pipe(w for _, w in windows))]
        if self.trained is not None:
            docs.append((0, self.trained(text)))
        out = []
        for offset, doc in docs:
            for ent in doc.ents:
                if ent.label_ not in ("NAME", "PERSON"):
                    continue
                tokens = list(ent)
                while tokens and (tokens[0].lower_ in TITLES or tokens[0].lower_ in CUES or tokens[0].is_punct):
                    tokens.pop(0)  # keep "Dr." / "Patient:" in the text, replace the name only
                if tokens:
                    out.append((offset + tokens[0].idx, offset + tokens[-1].idx + len(tokens[-1].text), "NAME"))
        return out

    def __call__(self, text: str) -> tuple[str, dict[str, int]]:
        parts, counts, last = [], {}, 0
        for start, end, kind in self.spans(text):
            parts.append(text[last:start])
            parts.append(f"[{kind}]")
            counts[kind] = counts.get(kind, 0) + 1
            last = end
        parts.append(text[last:])
        return "".join(parts), counts


def deidentify(deidentifier: Deidentifier) -> Step:
    def step(doc: Document) -> Document | str:
        text, counts = deidentifier(doc.text)
        if not counts:
            return doc
        return with_edits(doc, text, **{f"phi:{k}": v for k, v in counts.items()})
    return step


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    if not options.get("deidentify", True):
        return []
    return [deidentify(Deidentifier(str(options.get("spacy_model", ""))))]
