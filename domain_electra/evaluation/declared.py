"""Tasks declared in a suite file, no Python: a kind, a file format, the files and which columns to read.

    - name: tweets
      kind: classification            # classification | multilabel | pair | token | retrieval | regression
      format: csv                     # csv | tsv | jsonl | json | parquet | datasets | conll (else from the suffix)
      files: {train: data/train.csv, dev: data/dev.csv, test: data/test.csv}
      text: sentence                  # column keys, see COLUMNS (defaults: the key's own name)
      label: sentiment
      labels: [negative, neutral, positive]   # optional; else the values found in train
      metric: macro_f1                # optional; else the kind's main metric
      license: CC-BY-4.0
      source: https://example.org/tweets
      split: {dev: 0.1, test: 0.2, seed: 0}   # how missing splits are cut (only one file, or no dev)
      options: {delimiter: ";"}       # reader options, see OPTIONS

Relative paths are looked up next to the suite file, then under --data-dir ($DOMAIN_ELECTRA_DATA,
../shared/data). Every mistake is a one-line UserError naming the suite or data file, the row and the
key, raised while the suite loads (load_suite reads declared tasks' files at once).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain import EvalTask, TaskData, data_path
from ..errors import UserError

KINDS = ("classification", "multilabel", "pair", "token", "retrieval", "regression")
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet",
           ".conll": "conll", ".bio": "conll"}
ALL_FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "datasets", "conll")
COLUMNS = {  # kind -> the column keys it reads (value: the default column name)
    "classification": ("text", "label"), "multilabel": ("text", "label"), "pair": ("text", "text_pair", "label"),
    "token": ("tokens", "tags"), "retrieval": ("query", "document"), "regression": ("text", "text_pair", "label"),
}
COLUMN_KEYS = ("text", "text_pair", "label", "tokens", "tags", "query", "document")
OPTIONS = {"delimiter": str, "encoding": str, "quoting": bool, "label_separator": str, "token_column": int,
           "tag_column": int}
FORMAT_OPTIONS = {"csv": {"delimiter", "encoding", "quoting"}, "tsv": {"delimiter", "encoding", "quoting"},
                  "conll": {"token_column", "tag_column"}}
FILE_KEYS = ("train", "dev", "test", "candidates")
KEYS = ("name", "kind", "format", "files", "path", "hub", "split", "columns", "labels", "metric", "license", "source",
        "description", "language", "options") + COLUMN_KEYS
SPLIT_KEYS = ("dev", "test", "seed")


@dataclass(frozen=True)
class DeclaredTask:
    """A parsed task entry. `files`: split -> path (test: language -> path); `where`: for messages."""

    name: str
    kind: str
    format: str
    files: dict
    columns: dict
    where: str
    suite_dir: Path
    labels: tuple[str, ...] = ()
    metric: str = ""
    license: str = ""
    source: str = ""
    description: str = ""
    language: str = "en"
    hub: str = ""
    split: dict = field(default_factory=lambda: {"dev": 0.1, "test": 0.2, "seed": 0})
    options: dict = field(default_factory=dict)


def _fail(where: str, message: str) -> UserError:
    return UserError(f"{where}: {message}")


def _check_metric(kind: str, metric: str, labels, where: str) -> None:
    try:
        from .metrics import check_metric
    except ImportError:  # an older metrics module: the kind's main metric only
        from .metrics import MAIN_METRIC

        if metric != MAIN_METRIC[kind]:
            raise _fail(where, f"metric '{metric}' is not one a {kind} task produces (valid: {MAIN_METRIC[kind]})")
        return
    check_metric(kind, metric, labels, where)


def _main_metric(kind: str) -> str:
    from .metrics import MAIN_METRIC

    return MAIN_METRIC[kind]


def _mapping(value: Any, where: str, key: str, valid: tuple[str, ...] | None = None) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(where, f"'{key}' must be a mapping, got {type(value).__name__}")
    unknown = [k for k in value if valid is not None and k not in valid]
    if unknown:
        raise _fail(where, f"unknown key '{key}.{unknown[0]}' (valid: {', '.join(valid)})")
    return dict(value)


def _files(entry: dict, where: str) -> tuple[dict, str]:
    """split -> path (test may be language -> path) and the file that names the format."""
    files = _mapping(entry.get("files"), where, "files", FILE_KEYS)
    if "path" in entry:
        if files.get("train") or files.get("dev") or files.get("test"):
            raise _fail(where, "give either 'path' (one file, split by the 'split' rule) or 'files', not both")
        files["train"] = entry["path"]
    if not (files.get("train") or files.get("test")):
        raise _fail(where, "a declared task needs 'files: {train, dev, test}' or 'path' (one file to split)")
    for split, value in files.items():
        ok = isinstance(value, str) or (split == "test" and isinstance(value, dict) and value
                                        and all(isinstance(v, str) for v in value.values()))
        if not ok:
            raise _fail(where, f"files.{split} must be a path" + (" or {language: path}" if split == "test" else ""))
    first = files.get("train") or files["test"]
    return files, first if isinstance(first, str) else next(iter(first.values()))


def _format(entry: dict, first: str, where: str) -> str:
    fmt = entry.get("format")
    if fmt is None:
        fmt = FORMATS.get(Path(first).suffix.lower())
        if fmt is None:
            raise _fail(where, f"cannot tell the format of '{first}' from its suffix; add 'format' "
                               f"({', '.join(ALL_FORMATS)})")
    if fmt not in ALL_FORMATS:
        raise _fail(where, f"unknown format '{fmt}' (valid: {', '.join(ALL_FORMATS)})")
    return fmt


def _columns(entry: dict, kind: str, fmt: str, where: str) -> dict:
    given = _mapping(entry.get("columns"), where, "columns", COLUMN_KEYS)
    for key in COLUMN_KEYS:
        if key in entry:
            if key in given:
                raise _fail(where, f"column key '{key}' given both at the top level and under 'columns'")
            given[key] = entry[key]
    wrong = [k for k in given if k not in COLUMNS[kind]]
    if wrong:
        raise _fail(where, f"key '{wrong[0]}' does not apply to a {kind} task (its column keys: "
                           f"{', '.join(COLUMNS[kind])})")
    if fmt == "conll" and (kind != "token" or given):
        raise _fail(where, "format conll holds token tasks only, with no column keys (token and tag columns: "
                           "options token_column, tag_column)")
    columns = {k: str(given.get(k, k)) for k in COLUMNS[kind]}
    if kind == "regression" and "text_pair" not in given:
        columns.pop("text_pair")  # a single-text regression unless a second column is named
    return columns


def _options(entry: dict, fmt: str, kind: str, where: str) -> dict:
    options = _mapping(entry.get("options"), where, "options")
    valid = sorted(FORMAT_OPTIONS.get(fmt, set()) | ({"label_separator"} if kind == "multilabel" else set()))
    for key, value in options.items():
        if key not in valid:
            raise _fail(where, f"unknown option 'options.{key}' for a {fmt} {kind} task (valid: "
                               f"{', '.join(valid) or 'none'})")
        if not isinstance(value, OPTIONS[key]) or (isinstance(value, bool) and OPTIONS[key] is not bool):
            raise _fail(where, f"options.{key} must be a {OPTIONS[key].__name__}, got {value!r}")
    return options


def _split_rule(entry: dict, where: str) -> dict:
    rule = {"dev": 0.1, "test": 0.2, "seed": 0} | _mapping(entry.get("split"), where, "split", SPLIT_KEYS)
    if not (isinstance(rule["seed"], int) and all(isinstance(rule[k], (int, float)) for k in ("dev", "test"))
            and 0 <= rule["dev"] < 1 and 0 <= rule["test"] < 1 and rule["dev"] + rule["test"] < 1):
        raise _fail(where, f"split needs dev and test shares in [0, 1) summing below 1 and an integer seed, got {rule}")
    return rule


def _labels(entry: dict, kind: str, where: str) -> tuple[str, ...]:
    labels = entry.get("labels")
    if labels is None:
        return ()
    if kind in ("retrieval", "regression"):
        raise _fail(where, f"'labels' does not apply to a {kind} task")
    if not isinstance(labels, list) or not labels or len(set(map(str, labels))) != len(labels):
        raise _fail(where, "'labels' must be a non-empty list of distinct label names")
    return tuple(str(x) for x in labels)


def parse_declared(entry: dict, where: str, suite_dir: Path) -> DeclaredTask:
    """Check a declared task entry's keys and values (no file is read yet)."""
    name, kind = entry.get("name"), entry.get("kind")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, "a declared task needs a 'name' (or 'task' to name a registered one)")
    where = f"{where} ('{name}')"
    unknown = [k for k in entry if k not in KEYS]
    if unknown:
        raise _fail(where, f"unknown key '{unknown[0]}' (valid: {', '.join(KEYS)}, finetune, probe)")
    if kind not in KINDS:
        raise _fail(where, f"unknown or missing kind '{kind}' (valid: {', '.join(KINDS)})")
    files, first = _files(entry, where)
    fmt = _format(entry, first, where)
    if "candidates" in files and kind != "retrieval":
        raise _fail(where, "files.candidates (a separate document corpus) applies to retrieval tasks only")
    if entry.get("hub") and fmt != "datasets":
        raise _fail(where, "'hub' applies to format datasets (a save_to_disk folder as 'path', the hub id as fallback)")
    metric = str(entry.get("metric") or _main_metric(kind))
    _check_metric(kind, metric, None, f"{where}: metric")
    return DeclaredTask(
        name=name, kind=kind, format=fmt, files=files, columns=_columns(entry, kind, fmt, where), where=where,
        suite_dir=suite_dir, labels=_labels(entry, kind, where), metric=metric, license=str(entry.get("license", "")),
        source=str(entry.get("source", "")), description=str(entry.get("description") or f"{kind} task from "
                                                                                         f"{fmt} files ({first})"),
        language=str(entry.get("language", "en")), hub=str(entry.get("hub") or ""), split=_split_rule(entry, where),
        options=_options(entry, fmt, kind, where))


def to_eval_task(spec: DeclaredTask) -> EvalTask:
    """An EvalTask whose loader reads the declared files (once per data dir: the suite check and the run
    share one read)."""
    cache: dict[str, TaskData] = {}

    def load(data_dir=None) -> TaskData:
        key = str(data_dir)
        if key not in cache:
            from .declared_load import load_declared

            cache[key] = load_declared(spec, data_dir)
        return cache[key]

    test = spec.files.get("test")
    languages = tuple(test) if isinstance(test, dict) else (spec.language,)
    return EvalTask(name=spec.name, kind=spec.kind, description=spec.description, load=load, metric=spec.metric,
                    train_language=spec.language, test_languages=languages, source_url=spec.source)


def resolve(spec: DeclaredTask, rel: str, key: str, data_dir) -> Path:
    """A declared file: absolute, else next to the suite file, else under the data dir."""
    path = Path(rel).expanduser()
    tried = [path] if path.is_absolute() else [spec.suite_dir / path, data_path(data_dir, rel)]
    for candidate in tried:
        if candidate.exists():
            return candidate
    raise _fail(spec.where, f"files.{key}: '{rel}' not found (looked at {' and '.join(map(str, tried))}; "
                            "pass --data-dir or fix the path)")

