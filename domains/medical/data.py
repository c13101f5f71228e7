"""Medical data sets: NCBI-disease (CoNLL), PubMedQA (JSON), MedQuAD (XML), Mantra GSC (brat in a zip)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from domain_electra.plugin_api import TaskData, bad_format, dataset_dir, key_split, read_conll, read_json, source_license

NCBI = "medical/ncbi-disease"
PUBMEDQA = "medical/pubmedqa"
MEDQUAD = "medical/medquad"
MANTRA = "crosslingual/mantra-gsc"
MANTRA_LANGUAGES = {"English": "en", "German": "de", "French": "fr", "Spanish": "es", "Dutch": "nl"}


def load_ncbi_disease(data_dir=None) -> TaskData:
    folder = dataset_dir(data_dir, NCBI, ("train.txt", "dev.txt", "test.txt"),
                         "github.com/allenai/scibert (data/ner/NCBI-disease)")
    return TaskData(train=read_conll(folder / "train.txt"), dev=read_conll(folder / "dev.txt"),
                    test={"en": read_conll(folder / "test.txt")}, labels=("O", "B-Disease", "I-Disease"),
                    license=source_license(folder))


PUBMEDQA_LABELS = ("yes", "no", "maybe")


def load_pubmedqa(data_dir=None) -> TaskData:
    """PQA-L: the official 500-question test split (test_ground_truth.json); the other 500 are train,
    with 10% (by PubMed id hash) as dev. Input = question paired with its abstract's contexts."""
    folder = dataset_dir(data_dir, PUBMEDQA, ("ori_pqal.json", "test_ground_truth.json"),
                         "github.com/pubmedqa/pubmedqa (data/)")
    data, truth = read_json(folder / "ori_pqal.json"), read_json(folder / "test_ground_truth.json")
    if not isinstance(data, dict) or not isinstance(truth, dict):
        raise bad_format(folder / "ori_pqal.json", "a JSON object keyed by PubMed id")
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for pmid, item in data.items():
        if not isinstance(item, dict) or item.get("final_decision") not in PUBMEDQA_LABELS or "QUESTION" not in item:
            raise bad_format(folder / "ori_pqal.json", f"{pmid}: needs QUESTION, CONTEXTS, final_decision yes/no/maybe")
        row = {"text": item["QUESTION"], "text_pair": " ".join(item.get("CONTEXTS", [])),
               "label": PUBMEDQA_LABELS.index(item["final_decision"]), "id": pmid}
        split = "test" if pmid in truth else key_split(pmid, dev=10, test=0)
        splits[split].append(row)
    return TaskData(train=splits["train"], dev=splits["dev"], test={"en": splits["test"]}, labels=PUBMEDQA_LABELS,
                    license=source_license(folder))


def read_medquad(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*_QA*/*.xml")):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as exc:
            raise bad_format(path, f"MedQuAD XML ({exc})") from None
        for question in root.iter("Question"):
            if question.get("qtype") and (question.text or "").strip():
                rows.append({"text": " ".join(question.text.split()), "qtype": question.get("qtype"),
                             "document": f"{path.parent.name}/{path.name}"})
    return rows


def load_medquad(data_dir=None) -> TaskData:
    """Question -> question type (16 classes). Split by source document so one focus entity's questions
    never straddle train and test."""
    folder = dataset_dir(data_dir, MEDQUAD, (), "github.com/abachaa/MedQuAD")
    rows = read_medquad(folder)
    if not rows:
        raise bad_format(folder, "subset folders *_QA*/ of MedQuAD XML documents")
    labels = tuple(sorted({r["qtype"] for r in rows}))
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for row in rows:
        splits[key_split(row["document"])].append({"text": row["text"], "label": labels.index(row["qtype"])})
    return TaskData(train=splits["train"], dev=splits["dev"], test={"en": splits["test"]}, labels=labels,
                    license=source_license(folder))


TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
GROUP_FIELD = re.compile(r"[A-Z]{4}(\|[A-Z]{4})*")


def brat_to_bio(text: str, ann: str, path: str) -> dict:
    """A brat document (text + standoff) -> word tokens with BIO tags of the UMLS semantic group.

    The entity type in Mantra is the CUI; its semantic group (DISO, CHEM, ...) is the last field of the
    AnnotatorNotes line. Overlapping mentions keep the longest (BIO cannot nest).
    """
    spans, groups = {}, {}
    for line in ann.splitlines():
        fields = line.split("\t")
        if line.startswith("T") and len(fields) >= 2:
            parts = fields[1].replace(";", " ").split()
            try:
                offsets = [int(p) for p in parts[1:]]
            except ValueError:
                raise bad_format(path, f"brat entity line '{line[:40]}'") from None
            spans[fields[0]] = (min(offsets), max(offsets))
        elif line.startswith("#") and len(fields) >= 3:
            # Quoted fields: CUI, preferred name, semantic type(s), semantic group(s) ("OBJC|CHEM": first).
            found = [f for f in re.findall(r'"([^"]*)"', fields[2]) if GROUP_FIELD.fullmatch(f)]
            if found:
                groups[fields[1].split()[-1]] = found[-1].split("|")[0]
    tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text)]
    tags = ["O"] * len(tokens)
    for tid, (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0] - kv[1][1]):
        inside = [i for i, (_, s, e) in enumerate(tokens) if s >= start and e <= end]
        if not inside or any(tags[i] != "O" for i in inside):
            continue
        group = groups.get(tid, "ENT")
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + group
    return {"tokens": [t for t, _, _ in tokens], "tags": tags, "mentions": len(spans)}


def read_mantra(path: Path) -> dict[str, list[dict]]:
    """language code -> documents ({tokens, tags, mentions, id}) from the published zip."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise bad_format(path, "the Mantra GSC brat zip") from None
    docs: dict[str, list[dict]] = {code: [] for code in MANTRA_LANGUAGES.values()}
    with archive:
        names = set(archive.namelist())
        for name in sorted(names):
            if "__MACOSX" in name or not name.endswith(".txt") or name[:-4] + ".ann" not in names:
                continue
            parts = name.split("/")
            lang = MANTRA_LANGUAGES.get(parts[1] if len(parts) > 2 else "")
            if lang is None:
                continue
            doc = brat_to_bio(archive.read(name).decode("utf-8"), archive.read(name[:-4] + ".ann").decode("utf-8"),
                              f"{path}:{name}")
            docs[lang].append({**doc, "id": "/".join(parts[2:])})
    if not any(docs.values()):
        raise bad_format(path, "brat .txt/.ann pairs under Mantra-GSC/<Language>/")
    return docs


def load_mantra(data_dir=None, train_language: str = "en") -> TaskData:
    """Concept mentions as NER (semantic-group BIO). English documents split 70/10/20 by name; every
    other language is a zero-shot test set in full."""
    folder = dataset_dir(data_dir, MANTRA, ("Mantra-GSC-brat.zip",), "github.com/mi-erasmusmc/Mantra-Gold-Standard-Corpus")
    docs = read_mantra(folder / "Mantra-GSC-brat.zip")
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for doc in docs[train_language]:
        splits[key_split(doc["id"])].append(doc)
    test = {train_language: splits["test"]} | {lang: rows for lang, rows in docs.items() if lang != train_language}
    labels = sorted({t for rows in docs.values() for d in rows for t in d["tags"]} - {"O"})
    return TaskData(train=splits["train"], dev=splits["dev"], test=test, labels=("O", *labels),
                    license=source_license(folder))
