"""Legal data set: multilingual unfair-ToS clauses (CLAUDETTE), sentence-level multi-label."""
from __future__ import annotations

from pathlib import Path

from domain_electra.plugin_api import TaskData, bad_format, dataset_dir, key_split, source_license

UNFAIR_TOS = "legal/multilingual-unfair-tos"
UNFAIR_TOS_SOURCE = "github.com/nlp-unibo/Multilingual-Unfair-Clause-Detection (corpus/)"
LANGUAGES = ("en", "de", "it", "pl")
# Categories of list_tags.txt; a sentence has a category when it is tagged potentially (2) or clearly (3)
# unfair for it. "1" (clearly fair) and the "countrym" marker are not unfairness labels.
CATEGORIES = ("a", "ch", "cr", "j", "law", "ltd", "ter", "use", "pinc")
CATEGORY_NAMES = ("arbitration", "unilateral change", "content removal", "jurisdiction", "choice of law",
                  "limitation of liability", "unilateral termination", "contract by using", "privacy included")


def _lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_document(folder: Path, lang: str, name: str) -> list[dict]:
    """One ToS document: sentence i of sentences/<lang>/original/<name> with the tags on line i of tags/."""
    sentences = _lines(folder / "sentences" / lang / "original" / name)
    tag_path = folder / "tags" / lang / "original" / name
    tags = _lines(tag_path)
    if len(tags) != len(sentences):
        raise bad_format(tag_path, f"one tag line per sentence line ({len(tags)} vs {len(sentences)})")
    rows = []
    for sentence, line in zip(sentences, tags):
        labels = set()
        for tag in line.split():
            category, level = tag.rstrip("0123456789"), tag[len(tag.rstrip("0123456789")):]
            if category in CATEGORIES and level in ("2", "3"):
                labels.add(CATEGORIES.index(category))
        # "source_file", not "document": that key holds retrieval text, which TAPT and decontamination read.
        rows.append({"text": sentence, "label": sorted(labels), "tagged": bool(line.strip()), "source_file": name})
    return rows


def read_list(folder: Path, name: str) -> list[str]:
    path = folder / "lists" / name
    if not path.is_file():
        raise bad_format(path, "the published fold lists (lists/LIST_TRAIN_k.txt, LIST_TEST_k.txt)")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_unfair_tos(data_dir=None, fold: int = 0, train_language: str = "en",
                    test_languages: tuple[str, ...] = LANGUAGES) -> TaskData:
    """Train on LIST_TRAIN_<fold> documents in `train_language` (about 10% of them held out as dev),
    test on the LIST_TEST_<fold> documents in each test language: no document is in train and test."""
    folder = dataset_dir(data_dir, UNFAIR_TOS, ("lists", "sentences", "tags"), UNFAIR_TOS_SOURCE)
    train_docs = read_list(folder, f"LIST_TRAIN_{fold}.txt")
    test_docs = read_list(folder, f"LIST_TEST_{fold}.txt")
    dev_docs = [d for d in train_docs if key_split(d, dev=10, test=0) == "dev"] or train_docs[-1:]
    train, dev = [], []
    for doc in train_docs:
        (dev if doc in dev_docs else train).extend(read_document(folder, train_language, doc))
    test = {lang: [row for doc in test_docs for row in read_document(folder, lang, doc)] for lang in test_languages}
    return TaskData(train=train, dev=dev, test=test, labels=CATEGORY_NAMES, license=source_license(folder))
