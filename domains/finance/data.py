"""Finance data sets: Twitter Financial News Sentiment (CSV) and MultiFin (JSON lines, 15 languages)."""
from __future__ import annotations

import csv
from pathlib import Path

from domain_electra.plugin_api import (TaskData, bad_format, dataset_dir, key_split, read_json, read_jsonl,
                                         require_keys, source_license)

TWITTER = "finance/twitter-financial-news-sentiment"
TWITTER_SOURCE = "github.com/umaima-aman/Twee_Sentiment_Analysis-DeepLearning (HF zeroshot/twitter-financial-news-sentiment)"
TWITTER_LABELS = ("bearish", "bullish", "neutral")
MULTIFIN = "crosslingual/multifin"
MULTIFIN_SOURCE = "github.com/awinml/multifin (MultiFinDataset_EACL_2023/)"
MULTIFIN_LANGUAGES = {"English": "en", "Turkish": "tr", "Danish": "da", "Spanish": "es", "Polish": "pl",
                      "Greek": "el", "Finnish": "fi", "Hebrew": "he", "Japanese": "ja", "Hungarian": "hu",
                      "Norwegian": "no", "Russian": "ru", "Italian": "it", "Icelandic": "is", "Swedish": "sv"}


def _read_sentiment_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["text", "label"]:
            raise bad_format(path, "CSV with the header 'text,label'")
        rows = []
        for number, record in enumerate(reader, 2):
            if len(record) != 2 or record[1] not in ("0", "1", "2"):
                raise bad_format(path, f"line {number}: expected text,label with label 0/1/2")
            rows.append({"text": record[0], "label": int(record[1])})
    return rows


def load_twitter_sentiment(data_dir=None) -> TaskData:
    """Train = sent_train.csv minus a 10% dev share (by text hash); test = sent_valid.csv (the published split)."""
    folder = dataset_dir(data_dir, TWITTER, ("sent_train.csv", "sent_valid.csv"), TWITTER_SOURCE)
    train_all = _read_sentiment_csv(folder / "sent_train.csv")
    train = [r for r in train_all if key_split(r["text"], dev=10, test=0) == "train"]
    dev = [r for r in train_all if key_split(r["text"], dev=10, test=0) == "dev"]
    return TaskData(train=train, dev=dev, test={"en": _read_sentiment_csv(folder / "sent_valid.csv")},
                    labels=TWITTER_LABELS, license=source_license(folder) or "MIT")


def read_multifin(path: Path, level: str) -> list[dict]:
    """One MultiFin file -> {"text", "label", "language"} (label: str for high level, list[str] for low)."""
    rows = read_jsonl(path)
    out = []
    for row in rows:
        require_keys(row, ("text", "lang"), path)
        label = row.get("label", row.get("labels"))
        if label is None or row["lang"] not in MULTIFIN_LANGUAGES:
            raise bad_format(path, "records {text, label|labels, lang} with a known language name")
        out.append({"text": row["text"], "label": label, "language": MULTIFIN_LANGUAGES[row["lang"]]})
    return out


def load_multifin(data_dir=None, level: str = "high") -> TaskData:
    """MultiFin topics, train on 1-only-english-*, test on fixed-test-* split by language.

    level "high": 6 single-label classes (high2idx.json order); "low": 23 classes, multi-label.
    """
    if level not in ("high", "low"):
        raise bad_format(level, "level must be 'high' or 'low'")
    name = f"{level}level"
    files = (f"1-only-english-{name}/train.json", f"1-only-english-{name}/val.json", f"fixed-test-{name}/test.json",
             f"{level}2idx.json")
    folder = dataset_dir(data_dir, MULTIFIN, files, MULTIFIN_SOURCE)
    index = read_json(folder / f"{level}2idx.json")
    labels = tuple(sorted(index, key=index.get))

    def encode(rows: list[dict], path: str) -> list[dict]:
        for row in rows:
            names = row["label"] if isinstance(row["label"], list) else [row["label"]]
            if any(n not in index for n in names):
                raise bad_format(folder / path, f"labels must be among {level}2idx.json")
            ids = sorted({index[n] for n in names})
            row["label"] = ids if level == "low" else ids[0]
        return rows

    train = encode(read_multifin(folder / files[0], level), files[0])
    dev = encode(read_multifin(folder / files[1], level), files[1])
    test_rows = encode(read_multifin(folder / files[2], level), files[2])
    test = {code: [r for r in test_rows if r["language"] == code] for code in MULTIFIN_LANGUAGES.values()}
    return TaskData(train=train, dev=dev, test=test, labels=labels, license=source_license(folder))


def load_multifin_low(data_dir=None) -> TaskData:
    """MultiFin low level: 23 topics, multi-label."""
    return load_multifin(data_dir, level="low")
