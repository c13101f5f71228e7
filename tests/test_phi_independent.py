"""De-identification measured on notes the cleaner was not built from (benchmarks/phi_notes.py, Faker).

The old test planted names from the cleaner's own first-name list; this one plants Faker names from
twelve locales, bare, "Last, First", lower-case and upper-case, with ages over 89, street lines,
cities and hospitals. Before the rewrite the cleaner scored recall 0.369 on these 30 notes (names 0.241).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from domain_electra.domains.medical import cleaners as medical

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
faker = pytest.importorskip("faker", reason="the PHI evaluation set needs faker (pip install -e '.[dev]')")
import phi_eval  # noqa: E402
import phi_notes  # noqa: E402

NOTES = phi_notes.generate(30, seed=1, pool="test")  # not the reported seed (benchmarks/RESULTS.md)


@pytest.fixture(scope="module")
def trained():
    if not medical.trained_pipeline_name():
        if os.environ.get("CI"):
            pytest.fail(f"CI must install a trained spaCy pipeline ({medical.INSTALL_HINT})")
        pytest.skip(f"no trained spaCy pipeline installed ({medical.INSTALL_HINT})")
    return medical.Deidentifier.from_options({})


def test_the_set_is_reproducible_and_covers_every_kind():
    again = phi_notes.generate(30, seed=1, pool="test")
    assert [n.text for n in again] == [n.text for n in NOTES]
    kinds = {kind for note in NOTES for *_, kind in note.spans}
    assert kinds == set(phi_notes.KINDS)
    assert {note.case for note in NOTES} == {"as is", "lower", "upper"}
    for note in NOTES:  # gold spans hold the planted text and never overlap
        assert all(a < b <= c for (a, b, _), (c, _, _) in zip(note.spans, note.spans[1:]))


def test_recall_with_the_trained_pipeline(trained):
    result = phi_eval.score(NOTES, trained.spans)
    print("rules+ner", result["recall_overall"], result["precision_overall"], result["recall"])
    assert trained.describe().startswith("PHI: spaCy ")
    assert result["recall_overall"] >= 0.96 and result["precision_overall"] >= 0.93  # measured 0.992 / 0.983
    assert result["recall"]["NAME"] >= 0.95 and min(result["recall"].values()) >= 0.9


def test_recall_rules_only_fallback():
    rules = medical.Deidentifier.from_options({"phi_ner": "none"})
    assert rules.describe().startswith("PHI: rules only") and medical.INSTALL_HINT in rules.describe()
    result = phi_eval.score(NOTES, rules.spans)
    print("rules", result["recall_overall"], result["precision_overall"], result["recall"])
    assert result["recall_overall"] >= 0.93 and result["precision_overall"] >= 0.9  # measured 0.973 / 0.967
    assert result["recall"]["NAME"] >= 0.85


def test_ordinary_medical_prose_keeps_its_words(trained):
    prose = ("Parkinson disease is treated with levodopa 100 mg; Alzheimer disease affects 6.7 million people in "
             "2023. Hodgkin lymphoma responds to ABVD. Graves disease and Bell palsy are named after physicians. "
             "A Foley catheter was placed. Stage II: the cancer has spread to nearby lymph nodes. Key Points. "
             "Follow up in clinic in two weeks. The patient is a 45-year-old man; BP 142/88, HR 96.")
    for deid in (trained, medical.Deidentifier.from_options({"phi_ner": "none"})):
        assert deid(prose) == (prose, {}), deid.describe()


def test_unknown_backend_and_missing_pipeline_are_one_line_errors():
    from domain_electra.errors import UserError

    with pytest.raises(UserError, match="phi_backend"):
        medical.Deidentifier.from_options({"phi_backend": "magic"})
    with pytest.raises(UserError, match="not installed"):
        medical.Deidentifier.from_options({"phi_ner": "xx_no_such_pipeline"})


def test_presidio_backend_when_installed(trained):
    pytest.importorskip("presidio_analyzer", reason="phi_backend: presidio needs pip install -e '.[presidio]'")
    deid = medical.Deidentifier.from_options({"phi_backend": "presidio"})
    assert deid.describe().startswith("PHI: Presidio analyzer")
    text, counts = deid("Patient: John Okafor was seen at 617-555-0134 on March 3, 2021.")
    assert "Okafor" not in text and "617-555-0134" not in text and counts["NAME"] == 1


def test_corpus_summary_names_the_detector_that_ran(tmp_path):
    from domain_electra.corpus import CorpusConfig
    from domain_electra.corpus.build import build_corpus

    note = ("Patient: Adelmo Pergolesi was admitted on 03/04/2021 with community-acquired pneumonia. "
            "He lives at 12 Oak Street, Springfield, IL 62704 and can be reached at 217-555-0134. ") * 3
    (tmp_path / "note.txt").write_text(note)
    config = CorpusConfig(domain="medical", sources=[str(tmp_path / "note.txt")], decontaminate=False,
                          languages=["en"], min_chars=10, cleaner_options={"deidentify": True, "phi_ner": "none"})
    stats = build_corpus(config, tmp_path / "out", progress=False)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert stats["cleaners"] == [medical.Deidentifier.from_options({"phi_ner": "none"}).describe()]
    assert "- cleaner: PHI: rules only" in summary and medical.INSTALL_HINT in summary
    assert stats["phi"]["NAME"] == 3 and "Pergolesi" not in summary


STREET_LINES = [  # written by hand: Australian unit/number lines and street types that are everyday words
    "12/40 Banksia Parade", "3/7a Wattle Corso", "88 Harding Dell", "6 Kestrel Upper", "417 Marlow Fall",
    "Unit 4, 17 Quandong Range", "240 Ferris Rue, Suite 12", "9 Ostler Rapid", "55 Corrie Via", "71 Tamsin Steps"]
NOT_STREETS = ["BP 120 within target range today.", "About 1 in 4 people fall again within a year.",
               "Take 2 tablets at bed time and 1 in the morning.", "Scores of 90 or more in the upper range."]


@pytest.mark.parametrize("case", [str, str.lower, str.upper])
def test_street_lines_without_a_cue(case):
    """A street line counts only when the rules cover all of it; everyday words after a number stay."""
    rules = medical.Deidentifier.from_options({"phi_ner": "none"})
    for line in STREET_LINES:
        text = case(f"EMS picked her up outside {line} at noon.")
        start = text.index(case(line))
        covered = set()
        for a, b, kind in rules.spans(text):
            covered |= set(range(a, b))
        assert set(range(start, start + len(line))) <= covered, text
    for text in NOT_STREETS:
        assert not [s for s in rules.spans(text) if s[2] == "ADDRESS"], text
