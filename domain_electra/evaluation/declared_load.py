"""Reading a declared task's files into TaskData: rows -> examples, missing splits cut, labels checked.

Every example carries its origin ("<file>: row N") while it is checked, so a bad value is reported with
the file, the row and the suite key that named the column; the origin is dropped before training.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..domain import TaskData
from ..errors import UserError
from . import readers
from .declared import DeclaredTask, resolve
from .splits import stratified_split

WHERE = "_where"
DEV_NAMES = ("dev", "validation", "valid", "val")


def _read_file(spec: DeclaredTask, path: Path) -> list[dict] | dict[str, list[dict]]:
    fmt, opts = spec.format, spec.options
    if fmt in ("csv", "tsv"):
        return readers.read_table(path, opts.get("delimiter", "," if fmt == "csv" else "\t"),
                                  opts.get("encoding", "utf-8-sig"), opts.get("quoting"))
    if fmt == "conll":
        return readers.read_conll(path, opts.get("token_column", 0), opts.get("tag_column", -1))
    reader = {"jsonl": readers.read_jsonl, "json": readers.read_records, "parquet": readers.read_parquet,
              "datasets": readers.read_datasets}[fmt]
    return reader(path)


def _pick(splits: dict[str, list[dict]], names: tuple[str, ...]) -> list[dict] | None:
    return next((splits[n] for n in names if n in splits), None)


def _raw_splits(spec: DeclaredTask, data_dir) -> dict[str, Any]:
    """split -> (file, records); test -> {language: (file, records)}; a datasets folder may fill several."""
    out: dict[str, Any] = {}
    for key, rel in spec.files.items():
        if key == "test" and isinstance(rel, dict):
            out["test"] = {lang: _one(spec, path, key, data_dir) for lang, path in rel.items()}
        elif spec.format == "datasets" and key == "train":
            out |= _dataset_dict(spec, rel, data_dir)
        else:
            out[key] = _one(spec, rel, key, data_dir)
    if "test" in out and not isinstance(out["test"], dict):
        out["test"] = {spec.language: out["test"]}
    return out


def _one(spec: DeclaredTask, rel: str, key: str, data_dir) -> tuple[str, list[dict]]:
    path = resolve(spec, rel, key, data_dir)
    records = _read_file(spec, path)
    if isinstance(records, dict):  # a datasets folder given for one split
        if len(records) != 1:
            raise UserError(f"{path}: files.{key} must be a single split, this folder holds {sorted(records)}")
        records = next(iter(records.values()))
    return str(path), records


def _dataset_dict(spec: DeclaredTask, rel: str, data_dir) -> dict[str, Any]:
    """A save_to_disk folder (the hub id when the folder is absent): its train/validation/test splits."""
    try:
        path = resolve(spec, rel, "train", data_dir)
    except UserError:
        if not spec.hub:
            raise
        splits, where = readers.read_hub(spec.hub), f"hub:{spec.hub}"
    else:
        splits, where = readers.read_datasets(path), str(path)
    out = {"train": (f"{where}[train]", _pick(splits, ("train",)) or [])}
    dev = _pick(splits, DEV_NAMES)
    if dev is not None:
        out["dev"] = (f"{where}[dev]", dev)
    if "test" in splits:
        out["test"] = (f"{where}[test]", splits["test"])
    return out


def _text(record: dict, spec: DeclaredTask, key: str, where: str) -> str:
    column = spec.columns[key]
    if column not in record:
        raise UserError(f"{where}: no column '{column}' (the task's '{key}' key; columns: "
                        f"{', '.join(map(str, record)) or 'none'})")
    value = record[column]
    if value is None or isinstance(value, (dict, list)):
        raise UserError(f"{where}: column '{column}' (key '{key}') must hold text, got {value!r}")
    return str(value)


def _label(record: dict, spec: DeclaredTask, where: str) -> Any:
    column = spec.columns["label"]
    if column not in record:
        raise UserError(f"{where}: no column '{column}' (the task's 'label' key; columns: {', '.join(map(str, record))})")
    value = record[column]
    if spec.kind == "regression":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: column '{column}' (key 'label') must be a number, got {value!r}") from None
    if spec.kind == "multilabel":
        if isinstance(value, str):
            sep = spec.options.get("label_separator", "|")
            return sorted({v.strip() for v in value.split(sep) if v.strip()})
        if isinstance(value, list):
            return sorted({str(v) for v in value})
        raise UserError(f"{where}: column '{column}' (key 'label') must be a list or a '|'-separated string")
    if value is None or str(value).strip() == "":
        raise UserError(f"{where}: empty label in column '{column}' (key 'label')")
    return str(value).strip()


def _token_example(record: dict, spec: DeclaredTask, where: str) -> dict:
    if spec.format == "conll":
        return {"tokens": record["tokens"], "tags": record["tags"]}
    values = {}
    for key in ("tokens", "tags"):
        column = spec.columns[key]
        value = record.get(column)
        if not isinstance(value, list) or not value:
            raise UserError(f"{where}: column '{column}' (key '{key}') must be a non-empty list, got {value!r}")
        values[key] = [str(v) for v in value]
    if len(values["tokens"]) != len(values["tags"]):
        raise UserError(f"{where}: {len(values['tokens'])} tokens but {len(values['tags'])} tags")
    for tag in values["tags"]:
        if not (tag == "O" or (tag[:2] in readers.TAG_PREFIXES and len(tag) > 2)):
            raise UserError(f"{where}: tag {tag!r} in column '{spec.columns['tags']}' (key 'tags') is not a BIO tag")
    return {"tokens": values["tokens"], "tags": readers.to_iob2(values["tags"])}


def to_example(record: dict, spec: DeclaredTask, where: str) -> dict:
    if spec.kind == "token":
        example = _token_example(record, spec, where)
    elif spec.kind == "retrieval":
        example = {"query": _text(record, spec, "query", where), "document": _text(record, spec, "document", where)}
    else:
        example = {key: _text(record, spec, key, where) for key in spec.columns if key in ("text", "text_pair")}
        example["label"] = _label(record, spec, where)
    return {**example, WHERE: where}


def _examples(spec: DeclaredTask, file_rows: tuple[str, list[dict]]) -> list[dict]:
    path, records = file_rows
    if not records:
        raise UserError(f"{path}: no rows (task '{spec.name}')")
    noun = "sentence" if spec.format == "conll" else "row"
    return [to_example(r, spec, f"{path}: {noun} {i}") for i, r in enumerate(records, 1)]


def _key_text(spec: DeclaredTask):
    if spec.kind == "token":
        return lambda r: " ".join(r["tokens"])
    return (lambda r: r["query"]) if spec.kind == "retrieval" else (lambda r: r["text"])


def _stratum(spec: DeclaredTask):
    return (lambda r: r["label"]) if spec.kind in ("classification", "pair", "multilabel") else None


def _cut(spec: DeclaredTask, train: list[dict], dev: float, test: float) -> dict[str, list[dict]]:
    return stratified_split(train, dev=dev, test=test, seed=spec.split["seed"], text=_key_text(spec),
                            label=_stratum(spec))


def _splits(spec: DeclaredTask, raw: dict) -> tuple[list, list, dict]:
    """train, dev, test (language -> rows): missing dev/test cut from train by the seeded stratified split."""
    train = _examples(spec, raw["train"]) if "train" in raw else []
    dev = _examples(spec, raw["dev"]) if "dev" in raw else None
    test = {lang: _examples(spec, fr) for lang, fr in raw["test"].items()} if "test" in raw else None
    if not train:
        if spec.kind != "retrieval":
            raise UserError(f"{spec.where}: a {spec.kind} task needs a train file (only retrieval can be test-only)")
        return [], dev or [], test
    if test is None or dev is None:
        parts = _cut(spec, train, 0.0 if dev is not None else spec.split["dev"],
                     0.0 if test is not None else spec.split["test"])
        train, dev = parts["train"], dev if dev is not None else parts["dev"]
        test = test if test is not None else {spec.language: parts["test"]}
    return train, dev, test


def _sorted_labels(values: set[str]) -> tuple[str, ...]:
    """Labels found in train, in numeric order when they are all integers ("2" after "1", not "10")."""
    if all(v.lstrip("-").isdigit() for v in values):
        return tuple(sorted(values, key=int))
    return tuple(sorted(values))


def _entity_tags(tags: set[str]) -> tuple[str, ...]:
    types = sorted({t[2:] for t in tags if t != "O"})
    return ("O", *[f"{p}-{t}" for t in types for p in ("B", "I")])


def _labels(spec: DeclaredTask, train: list[dict]) -> tuple[str, ...]:
    if spec.kind in ("retrieval", "regression"):
        return ()
    if spec.labels:
        if spec.kind == "token" and "O" not in spec.labels:
            raise UserError(f"{spec.where}: 'labels' of a token task must include the tag 'O'")
        return spec.labels
    if spec.kind == "token":
        return _entity_tags({t for r in train for t in r["tags"]})
    found = {v for r in train for v in (r["label"] if spec.kind == "multilabel" else [r["label"]])}
    return _sorted_labels(found)


def _encode(spec: DeclaredTask, rows: list[dict], labels: tuple[str, ...]) -> list[dict]:
    """Label names -> indices (token tags stay names); a name outside `labels` is a one-line error."""
    index = {name: i for i, name in enumerate(labels)}
    origin = "listed in 'labels'" if spec.labels else "found in train"
    if spec.kind in ("retrieval", "regression"):
        return [{k: v for k, v in row.items() if k != WHERE} for row in rows]
    out = []
    for row in rows:
        values = row["tags"] if spec.kind == "token" else row["label"] if spec.kind == "multilabel" else [row["label"]]
        unknown = [v for v in values if v not in index]
        if unknown:
            key = "tags" if spec.kind == "token" else "label"
            raise UserError(f"{row[WHERE]}: unknown label {unknown[0]!r} in column '{spec.columns[key]}' (key "
                            f"'{key}'; labels {origin}: {', '.join(labels) or 'none'})")
        clean = {k: v for k, v in row.items() if k != WHERE}
        if spec.kind in ("classification", "pair"):
            clean["label"] = index[row["label"]]
        elif spec.kind == "multilabel":
            clean["label"] = [index[v] for v in row["label"]]
        out.append(clean)
    return out


def _check_nonempty(spec: DeclaredTask, train: list, dev: list, test: dict) -> None:
    named = [("train", train), ("dev", dev)] + [(f"test ({lang})", rows) for lang, rows in test.items()]
    for split, rows in named:
        zero_shot = spec.kind == "retrieval" and not spec.files.get("train") and split in ("train", "dev")
        if not rows and not zero_shot:
            raise UserError(f"{spec.where}: the {split} split is empty (too few rows to cut it with split "
                            f"{spec.split}? give a larger file or a {split.split()[0]} file)")


def _candidates(spec: DeclaredTask, data_dir, languages) -> dict[str, list[str]]:
    rel = spec.files.get("candidates")
    if not rel:
        return {}
    path, records = _one(spec, rel, "candidates", data_dir)
    if not records:
        raise UserError(f"{path}: no rows (task '{spec.name}' candidates)")
    docs = [_text(r, spec, "document", f"{path}: row {i}") for i, r in enumerate(records, 1)]
    return {lang: docs for lang in languages}


def load_declared(spec: DeclaredTask, data_dir=None) -> TaskData:
    """Read, convert, split and check a declared task's files."""
    train, dev, test = _splits(spec, _raw_splits(spec, data_dir))
    labels = _labels(spec, train)
    _check_nonempty(spec, train, dev, test)
    if spec.kind not in ("retrieval", "regression", "token") and len(labels) < 2:
        raise UserError(f"{spec.where}: train holds a single label ({', '.join(labels)}); a {spec.kind} task "
                        "needs at least two")
    from .declared import _check_metric

    _check_metric(spec.kind, spec.metric, labels, f"{spec.where}: metric")
    return TaskData(train=_encode(spec, train, labels), dev=_encode(spec, dev, labels),
                    test={lang: _encode(spec, rows, labels) for lang, rows in test.items()}, labels=labels,
                    license=spec.license, **_candidates_field(_candidates(spec, data_dir, test)))


def _candidates_field(candidates: dict) -> dict:
    return {"candidates": candidates} if candidates else {}  # TaskData.candidates: retrieval only
