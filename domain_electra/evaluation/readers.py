"""Generic readers of labelled files: CSV/TSV, JSON lines, JSON, Parquet, `datasets` folders, CoNLL/BIO.

Every reader returns plain records (dicts); a malformed file is a one-line UserError naming the file
and the line or row. Nothing here knows about a particular data set.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..errors import UserError
from .files import bad_format, read_json, read_jsonl

TAG_PREFIXES = ("B-", "I-", "E-", "S-")


def read_table(path: Path, delimiter: str = ",", encoding: str = "utf-8-sig", quoting: bool | None = None
               ) -> list[dict]:
    """Rows of a CSV/TSV file with a header line, as {column: value} (a BOM and CRLF are fine).

    Quotes are CSV quoting by default but literal characters in tab-separated files (as in GLUE's TSVs,
    whose sentences hold unbalanced quotes); `quoting` overrides that."""
    path = Path(path)
    quoted = delimiter != "\t" if quoting is None else quoting
    csv.field_size_limit(2**31 - 1)  # a long document in one cell is still one cell
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise bad_format(path, "a header line naming the columns")
            header = [h.strip() for h in header]
            rows = []
            for record in reader:
                if not any(field.strip() for field in record):
                    continue  # blank line
                if len(record) != len(header):
                    raise bad_format(path, f"line {reader.line_num} has {len(record)} fields, the header has "
                                           f"{len(header)} (delimiter {delimiter!r})")
                rows.append(dict(zip(header, record)))
    except UnicodeDecodeError as exc:
        raise bad_format(path, f"text in {encoding}: {exc.reason} at byte {exc.start}") from None
    except csv.Error as exc:
        raise bad_format(path, f"CSV: {exc}") from None
    return rows


def read_records(path: Path) -> list[dict]:
    """A JSON file holding a list of records, or an object with exactly one such list (e.g. {"data": [...]})."""
    data = read_json(Path(path))
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        data = lists[0] if len(lists) == 1 else data
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise bad_format(path, "a JSON list of records (objects), or an object holding one such list")
    return data


def read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(str(path)).to_pylist()
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise bad_format(path, f"Parquet: {type(exc).__name__}: {exc}") from None


def _label_names(features: Any) -> dict[str, Any]:
    """column -> ClassLabel (or Sequence of ClassLabel) feature, to turn label ids back into names."""
    out = {}
    for column, feature in (features or {}).items():
        inner = getattr(feature, "feature", feature)
        if isinstance(feature, list) and feature:
            inner = feature[0]
        if hasattr(inner, "int2str") and hasattr(inner, "names"):
            out[column] = inner
    return out


def dataset_rows(dataset: Any) -> list[dict]:
    """A `datasets.Dataset` as records, with ClassLabel ids turned into their names."""
    names = _label_names(dataset.features)
    rows = dataset.to_list()
    for row in rows:
        for column, feature in names.items():
            value = row.get(column)
            if isinstance(value, list):
                row[column] = [feature.int2str(v) for v in value]
            elif isinstance(value, int):
                row[column] = feature.int2str(value)
    return rows


def read_datasets(path: Path) -> dict[str, list[dict]]:
    """A folder written by `save_to_disk`: split name -> records (a single Dataset is split "train")."""
    import datasets

    try:
        loaded = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise bad_format(path, f"a folder written by datasets' save_to_disk: {type(exc).__name__}: {exc}") from None
    if isinstance(loaded, datasets.DatasetDict):
        return {name: dataset_rows(split) for name, split in loaded.items()}
    return {"train": dataset_rows(loaded)}


def read_hub(hub_id: str) -> dict[str, list[dict]]:
    """A data set from the Hugging Face hub (online users only): split name -> records."""
    import datasets

    try:
        loaded = datasets.load_dataset(hub_id)
    except Exception as exc:
        raise UserError(f"hub data set '{hub_id}' could not be loaded ({type(exc).__name__}: {str(exc)[:200]}); "
                        "download it once and give its save_to_disk folder as `path`") from None
    return {name: dataset_rows(split) for name, split in loaded.items()}


def to_iob2(tags: list[str]) -> list[str]:
    """IOB1 / IOB2 / BIOES tags -> IOB2: an entity starts with B-, every I- continues an entity of its type."""
    out = []
    for i, tag in enumerate(tags):
        kind, label = (tag[:1], tag[2:]) if tag != "O" else ("O", "")
        if kind in ("S", "B"):
            out.append("B-" + label)
        elif kind in ("I", "E"):
            previous = out[i - 1] if i else "O"
            out.append(("I-" if previous != "O" and previous[2:] == label else "B-") + label)
        else:
            out.append("O")
    return out


def read_conll(path: Path, token_column: int = 0, tag_column: int = -1) -> list[dict]:
    """Sentences {tokens, tags} of a CoNLL/BIO file: one token a line with its columns separated by a tab or
    spaces, a blank line between sentences. `-DOCSTART-` lines are skipped; CRLF line ends are fine;
    IOB1, IOB2 and BIOES tags all come back as IOB2."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise bad_format(path, f"UTF-8 text: {exc.reason} at byte {exc.start}") from None
    sentences, tokens, tags = [], [], []

    def close() -> None:
        if tokens:
            sentences.append({"tokens": list(tokens), "tags": to_iob2(tags)})
        tokens.clear()
        tags.clear()

    for number, line in enumerate(lines, 1):
        if not line.strip():
            close()
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        if cols[0].strip() == "-DOCSTART-":
            close()
            continue
        cols = [c.strip() for c in cols]
        try:
            token, tag = cols[token_column], cols[tag_column]
        except IndexError:
            token, tag = "", ""
        if len(cols) < 2 or not token:
            raise bad_format(path, f"line {number}: {len(cols)} column(s); expected a token and a BIO tag "
                                   f"(columns {token_column} and {tag_column})")
        if not (tag == "O" or (tag[:2] in TAG_PREFIXES and len(tag) > 2)):
            raise bad_format(path, f"line {number}: token columns ending in a BIO tag (O, B-X, I-X), got {tag!r}")
        tokens.append(token)
        tags.append(tag)
    close()
    return sentences


__all__ = ["read_table", "read_jsonl", "read_records", "read_parquet", "read_datasets", "read_hub", "read_conll",
           "to_iob2", "dataset_rows"]
