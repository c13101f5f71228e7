"""Readers: folders, globs, files and saved `datasets` in; Documents (or counted skip reasons) out.

Everything streams: a text-like file is read up to a byte cap and never held whole beyond it, JSONL and
CSV go line by line (a line over the cap is drained in 1 MiB chunks and counted, not loaded), Parquet
goes by record batch, XML by `iterparse` with the tree cleared as it goes (see formats.py). Bad input
never raises out of `read_source`: it becomes a :class:`Skipped` with a short reason ("binary",
"invalid_utf8", "truncated_archive", "malformed_json", "line_too_long", "symlink_loop", ...) that the
build counts.
"""
from __future__ import annotations

import errno
import fnmatch
import glob
import gzip
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping
from xml.etree import ElementTree

import zstandard

from ..domain import Document
from ..errors import UserError
from .formats import (Item, ReadOptions, Skipped, html_to_text, open_binary, read_capped, read_csv, read_json,
                      read_jsonl, read_parquet, read_xml, record_doc, split_suffix, with_joined_rows)

__all__ = ["Item", "Piece", "ReadOptions", "Skipped", "Source", "iter_sources", "read_source", "split_source",
           "split_suffix"]

FORMATS = {".txt": "text", ".md": "text", ".rst": "text", ".text": "text", ".html": "html", ".htm": "html",
           ".xml": "xml", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv",
           ".tsv": "tsv", ".parquet": "parquet"}
# Programming language by extension; tree-sitter confirms it in the code domain's cleaners.
CODE_LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
                  ".java": "java", ".go": "go", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp",
                  ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp", ".rb": "ruby", ".php": "php",
                  ".rs": "rust"}
# Never text: skipped as unsupported_extension instead of being sniffed (PDFs need a converter first).
BINARY_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".pdf", ".zip", ".tar", ".tgz", ".7z",
                     ".rar", ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".pyc", ".pyo", ".class", ".jar", ".bin",
                     ".woff", ".woff2", ".ttf", ".otf", ".mp3", ".mp4", ".wav", ".avi", ".mov", ".db", ".sqlite",
                     ".npy", ".npz", ".pt", ".safetensors", ".pkl", ".xlsx", ".docx", ".doc", ".xls", ".pptx"}
SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn"}


@dataclass(frozen=True)
class Piece:
    """Bytes [start, end) of a plain JSONL file, cut just after a newline, whose first line is line
    `first_line` of the file (so document ids read "file:LINE" as in an unsplit read)."""

    start: int
    end: int
    first_line: int
    last: bool  # the file's last piece: it alone counts the file as read


@dataclass(frozen=True)
class Source:
    """One unit of reading work: a file (or a piece of a large JSONL file), a saved `datasets` folder,
    or a hub id."""

    kind: str  # "file" | "dataset" | "hub" | "task" (an eval task's train split: TASK_PREFIX)
    path: str
    size: int = 0
    meta: Mapping[str, str] = field(default_factory=dict)
    piece: Piece | None = None


# A plain JSONL file larger than this is read as pieces of about this size, so that one large export (a
# hospital's notes in one file) spreads over the workers like many small files do. The cut depends on the
# file alone, never on the worker count, so every worker count reads the same pieces.
PIECE_BYTES = 16 << 20
_SCAN_CHUNK = 1 << 20


def split_source(src: Source, piece_bytes: int = PIECE_BYTES) -> list[Source]:
    """`src` as pieces when it is an uncompressed JSONL file over `piece_bytes`, else `[src]`.

    One pass over the file counts newlines (C speed), so each piece knows the number of its first line;
    cuts fall just after a newline, so no line straddles two pieces."""
    ext, compression = split_suffix(src.path)
    if src.kind != "file" or src.piece is not None or src.size <= piece_bytes or compression \
            or FORMATS.get(ext) != "jsonl":
        return [src]
    cuts, lines, pos, next_cut = [(0, 1)], 0, 0, piece_bytes
    try:
        with open(src.path, "rb") as f:
            while chunk := f.read(_SCAN_CHUNK):
                while next_cut < pos + len(chunk):
                    i = chunk.find(b"\n", max(next_cut - pos, 0))
                    if i < 0:
                        next_cut = pos + len(chunk)  # no newline left here: look on in the next chunk
                        break
                    cuts.append((pos + i + 1, lines + chunk.count(b"\n", 0, i + 1) + 1))
                    next_cut = pos + i + 1 + piece_bytes
                lines += chunk.count(b"\n")
                pos += len(chunk)
    except OSError:
        return [src]  # read as one source: the reader reports the error as usual
    cuts = [(start, line) for start, line in cuts if start < pos]
    ends = [start for start, _ in cuts[1:]] + [pos]
    return as_pieces(src, [(start, end, line) for (start, line), end in zip(cuts, ends)])


def as_pieces(src: Source, spans: list) -> list[Source]:
    """`src` as the pieces (start, end, first_line) of `spans`, in file order; the last one is marked."""
    return [Source(src.kind, src.path, end - start, src.meta, Piece(start, end, line, k == len(spans) - 1))
            for k, (start, end, line) in enumerate(spans)]


# ----------------------------------------------------------------------------- enumerating sources
TASK_PREFIX = "task:"  # "task:DOMAIN/TASK" (or "task:DOMAIN/TASK:train"): the task's TRAIN split text (TAPT)
# "data:finance/fomc-unlabelled-corpus": a folder under the data root (the corpus config's data_dir, else
# $DOMAIN_ELECTRA_DATA, else ../shared/data), so a recipe works from any working directory.
DATA_PREFIX = "data:"


def resolve_source(spec: str, data_dir: str | None = None) -> str:
    """A `data:` source as its path under the data root (refused in one line when missing); any other
    source unchanged."""
    if not spec.startswith(DATA_PREFIX):
        return spec
    from ..domain import data_path

    path = data_path(data_dir, spec[len(DATA_PREFIX):].lstrip("/"))
    if not path.exists():
        raise UserError(f"source {spec}: {path} does not exist; set $DOMAIN_ELECTRA_DATA (or the corpus "
                        "config's data_dir) to the folder that holds the data sets")
    return str(path)


def _task_source(spec: str, data_dir: str | None = None) -> Source:
    """Task-adaptive data: only the train split is ever read (never dev or test); the build's
    decontamination against the test splits applies to these documents like to any other."""
    name, _, split = spec[len(TASK_PREFIX):].partition(":")
    if split not in ("", "train"):
        raise UserError(f"source {spec}: only an eval task's train split can be pretraining text (dev and test "
                        "stay unseen); write task:DOMAIN/TASK")
    domain, _, task = name.rpartition("/")
    if not domain or not task:
        raise UserError(f"source {spec}: write task:DOMAIN/TASK, e.g. task:medical/ncbi-disease")
    from ..registry import get_domain

    try:
        get_domain(domain).task(task)  # a misspelt name fails here, in one line, not as a skipped source
    except KeyError as exc:
        raise UserError(f"source {spec}: {exc.args[0]}") from None
    return Source("task", name, meta={"domain": domain, "task": task, "split": "train", "data_dir": data_dir})


def _is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("dataset_dict.json", "dataset_info.json", "state.json"))


def _accept(name: str, extensions: tuple[str, ...]) -> bool:
    ext, _ = split_suffix(name)
    if ext in extensions:
        return True
    # Extension-less or unknown files (LICENSE, GPL-3, copyright) are plain text in text domains.
    return (".txt" in extensions and ext not in FORMATS and ext not in CODE_LANGUAGES
            and ext not in BINARY_EXTENSIONS)


def _os_skip(path: str, exc: OSError) -> Skipped:
    return Skipped("symlink_loop" if exc.errno == errno.ELOOP else "unreadable", path, exc.strerror or str(exc))


def _file_source(path: str) -> Source | Skipped:
    try:
        st = os.stat(path)
    except OSError as exc:
        return _os_skip(path, exc)
    return Source("file", path, st.st_size)


def _excluded(path: str, exclude: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in exclude)


def _walk(root: str, extensions: tuple[str, ...], seen: set, exclude: tuple[str, ...] = ()) -> Iterator[Source | Skipped]:
    """Depth-first, sorted, following symlinks but never entering a directory twice (loops)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield _os_skip(folder, exc)
            continue
        if (st.st_dev, st.st_ino) in seen:
            yield Skipped("symlink_loop", folder, "directory already visited")
            continue
        seen.add((st.st_dev, st.st_ino))
        subdirs = []
        for entry in entries:
            if exclude and _excluded(entry.path, exclude):
                yield Skipped("excluded", entry.path)
                continue
            try:
                is_dir = entry.is_dir()
            except OSError as exc:
                yield _os_skip(entry.path, exc)
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or entry.name.startswith("."):
                    yield Skipped("hidden_or_cache_directory", entry.path)
                else:
                    subdirs.append(entry.path)
            elif not _accept(entry.name, extensions):
                yield Skipped("unsupported_extension", entry.path)
            else:
                yield _file_source(entry.path)
        stack.extend(reversed(subdirs))


def iter_sources(sources: list[str] | tuple[str, ...], extensions: tuple[str, ...],
                 exclude: tuple[str, ...] = (), data_dir: str | None = None) -> Iterator[Source | Skipped]:
    """Expand the user's sources. Named files and glob matches are read whatever their extension;
    paths matching an `exclude` pattern (fnmatch, e.g. "*/site-packages") are skipped, counted."""
    seen: set = set()
    for named in sources:
        if named.startswith(TASK_PREFIX):
            yield _task_source(named, data_dir)
            continue
        spec = resolve_source(named, data_dir)
        path = Path(spec).expanduser()
        if _is_saved_dataset(path):
            yield Source("dataset", str(path))
        elif path.is_dir():
            yield from _walk(str(path), extensions, seen, exclude)
        elif os.path.lexists(path):
            yield _file_source(str(path))
        elif glob.has_magic(spec):
            matches = sorted(glob.glob(os.path.expanduser(spec), recursive=True))
            if not matches:
                raise UserError(f"source glob '{spec}' matches no files (check the pattern)")
            for match in matches:
                if exclude and _excluded(match, exclude):
                    yield Skipped("excluded", match)
                elif os.path.isdir(match):
                    yield from _walk(match, extensions, seen, exclude)
                else:
                    yield _file_source(match)
        elif re.fullmatch(r"[\w.-]+/[\w.-]+", spec) and not spec.startswith("."):
            yield Source("hub", spec)  # a Hugging Face hub id, for users who are online
        else:
            raise UserError(f"source not found: {spec} (give a folder, file, glob or saved dataset folder)")


class _Window:
    """Bytes [start, end) of an open file, read by lines (what `read_jsonl` asks of a stream)."""

    def __init__(self, raw, start: int, end: int) -> None:
        raw.seek(start)
        self.raw, self.left = raw, end - start

    def readline(self, limit: int = -1) -> bytes:
        n = self.left if limit < 0 else min(limit, self.left)
        line = self.raw.readline(n) if n > 0 else b""
        self.left -= len(line)
        return line


def _read_piece(src: Source, opts: ReadOptions) -> Iterator[Item]:
    piece = src.piece
    with open(src.path, "rb") as raw:
        yield from read_jsonl(_Window(raw, piece.start, piece.end), opts, src.path, piece.first_line)


def _read_file(src: Source, opts: ReadOptions) -> Iterator[Item]:
    path = src.path
    if src.size == 0:
        yield Skipped("empty", path)
        return
    if src.piece is not None:
        yield from _read_piece(src, opts)
        return
    ext, compression = split_suffix(path)
    fmt = FORMATS.get(ext, "code" if ext in CODE_LANGUAGES else "text")
    if fmt == "parquet":
        if compression:
            yield Skipped("unsupported_compression", path, "parquet compresses internally")
        else:
            yield from read_parquet(path, opts)
        return
    with open_binary(path) as stream:
        if fmt in ("jsonl", "json", "csv", "tsv", "xml"):
            if fmt == "jsonl":
                items = read_jsonl(stream, opts, path)
            elif fmt == "json":
                items = read_json(stream, opts, path)
            elif fmt == "xml":
                items = read_xml(stream, opts, path)
            else:
                items = read_csv(stream, opts, path, "," if fmt == "csv" else "\t")
            yield from (with_joined_rows(items, opts, path) if opts.join_rows else items)
            return
        text = read_capped(stream, opts, path)
        if isinstance(text, Skipped):
            yield text
            return
        if fmt == "html":
            text = html_to_text(text)
        yield Document(text, path, language=CODE_LANGUAGES.get(ext, ""), meta={"ext": ext})


def _read_dataset(src: Source, opts: ReadOptions) -> Iterator[Item]:
    import datasets

    if src.kind == "hub":
        try:
            splits = {"train": datasets.load_dataset(src.path, split="train", streaming=True)}
        except Exception as exc:  # offline, unknown id, gated: say so and go on with other sources
            yield Skipped("hub_unavailable", src.path, f"{type(exc).__name__}: {str(exc)[:80]}")
            return
    else:
        loaded = datasets.load_from_disk(src.path)  # memory-mapped Arrow: flat memory
        splits = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"train": loaded}
    for split, ds in splits.items():
        names = ds.column_names or []
        if names and opts.text_field not in names:
            yield Skipped("missing_field", f"{src.path}#{split}", f"no column '{opts.text_field}' in {names[:8]}")
            continue
        for i, record in enumerate(ds):
            yield record_doc(record, opts, f"{src.path}#{split}/{i}")


# Task texts are joined into documents of at least this many characters: above every built-in recipe's
# min_chars, yet small, because decontamination drops a whole document when one of its texts overlaps a
# test split.
TAPT_DOC_CHARS = 400


def _read_task(src: Source) -> Iterator[Item]:
    """The task's train texts, consecutive ones joined into documents of >= TAPT_DOC_CHARS characters.

    Sentence-level tasks (ToS clauses, tweets, NER sentences) are mostly shorter than a recipe's
    `min_chars`: one document per sentence would drop nearly all of them. Data from $DOMAIN_ELECTRA_DATA
    or ../shared/data."""
    from ..registry import get_domain
    from .decontaminate import example_texts

    task = get_domain(src.meta["domain"]).task(src.meta["task"])
    texts, first, size = [], 0, 0
    for i, example in enumerate(task.load(src.meta.get("data_dir")).train):  # .train only: dev and test are never read
        for text in example_texts(example):
            texts.append(text)
            size += len(text) + 1
        if size >= TAPT_DOC_CHARS:
            yield Document("\n".join(texts), f"task:{src.path}#train/{first}-{i}", meta={"task": src.path})
            texts, first, size = [], i + 1, 0
    if texts:
        yield Document("\n".join(texts), f"task:{src.path}#train/{first}-end", meta={"task": src.path})


def read_source(src: Source, opts: ReadOptions) -> Iterator[Item]:
    """Documents of one source; every failure becomes a Skipped (documents already read are kept)."""
    try:
        if src.kind == "task":
            yield from _read_task(src)
        elif src.kind == "file":
            yield from _read_file(src, opts)
        else:
            yield from _read_dataset(src, opts)
    except EOFError as exc:
        yield Skipped("truncated_archive", src.path, str(exc)[:80])
    except (gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
        reason = "truncated_archive" if "truncat" in str(exc).lower() or "premature" in str(exc).lower() else "corrupt_archive"
        yield Skipped(reason, src.path, str(exc)[:80])
    except UnicodeDecodeError as exc:
        yield Skipped("invalid_utf8", src.path, f"byte {exc.start}")
    except ElementTree.ParseError as exc:
        yield Skipped("malformed_xml", src.path, str(exc)[:80])
    except OSError as exc:
        reason = "symlink_loop" if exc.errno == errno.ELOOP else "unreadable"
        yield Skipped(reason, src.path, f"{type(exc).__name__}: {(exc.strerror or str(exc))[:80]}")
    except Exception as exc:  # pyarrow errors on a broken parquet file, ...: skip the file, counted
        yield Skipped("unreadable", src.path, f"{type(exc).__name__}: {str(exc)[:80]}")
