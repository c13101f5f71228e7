"""Readers: folders, globs, files and saved `datasets` in; Documents (or counted skip reasons) out.

Everything streams: a text-like file is read up to a byte cap and never held whole beyond it, JSONL and
CSV go line by line (a line over the cap is drained in 1 MiB chunks and counted, not loaded), Parquet
goes by record batch, XML by `iterparse` with the tree cleared as it goes. Bad input never raises out
of `read_source`: it becomes a :class:`Skipped` with a short reason ("binary", "invalid_utf8",
"truncated_archive", "malformed_json", "line_too_long", "symlink_loop", ...) that the build counts.
"""
from __future__ import annotations

import csv
import errno
import fnmatch
import glob
import gzip
import io
import json
import os
import re
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Mapping, Union
from xml.etree import ElementTree

import zstandard

from ..domain import Document
from ..errors import UserError

COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}
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
SNIFF_BYTES = 8192
JSON_ARRAY_MAX_BYTES = 512 << 20  # a .json array is parsed whole; bigger ones should be JSONL


@dataclass(frozen=True)
class Skipped:
    """An input (file, line, row, record) that produced no document, and why."""

    reason: str
    source: str
    detail: str = ""


@dataclass(frozen=True)
class ReadOptions:
    """How files become documents (derived from CorpusConfig and the Domain)."""

    text_field: str = "text"  # JSON key / CSV column / Parquet column / XML element holding the text
    extensions: tuple[str, ...] = (".txt", ".md")  # what a folder walk picks up
    max_chars: int = 1_000_000  # longer records are skipped while reading (never loaded whole)
    join_rows: bool = False  # one document per table file (rows joined by newlines, chunked at max_chars)

    @property
    def max_bytes(self) -> int:
        return 4 * self.max_chars + 4096  # UTF-8 needs at most 4 bytes a character

    @property
    def max_line_bytes(self) -> int:
        return 6 * self.max_chars + 4096  # JSON escapes (\uXXXX) can make a line longer than its text


Item = Union[Document, Skipped]


@dataclass(frozen=True)
class Source:
    """One unit of reading work: a file, a saved `datasets` folder, or a hub id."""

    kind: str  # "file" | "dataset" | "hub"
    path: str
    size: int = 0
    meta: Mapping[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- enumerating sources
def split_suffix(name: str) -> tuple[str, str]:
    """'a.jsonl.gz' -> ('.jsonl', 'gzip'); 'LICENSE' -> ('', '')."""
    lower = name.lower()
    compression = ""
    for ext, kind in COMPRESSION.items():
        if lower.endswith(ext):
            compression, lower = kind, lower[: -len(ext)]
            break
    return os.path.splitext(lower)[1], compression


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
                 exclude: tuple[str, ...] = ()) -> Iterator[Source | Skipped]:
    """Expand the user's sources. Named files and glob matches are read whatever their extension;
    paths matching an `exclude` pattern (fnmatch, e.g. "*/site-packages") are skipped, counted."""
    seen: set = set()
    for spec in sources:
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


# ----------------------------------------------------------------------------- opening and decoding
class _ZstdRaw(io.RawIOBase):
    """Streaming zstd decompression that, unlike zstandard's stream_reader, notices a truncated file
    (the frame never ends) and raises EOFError like gzip does, so it is counted as truncated_archive."""

    def __init__(self, raw: io.BufferedIOBase):
        self.raw, self.buffer = raw, b""
        self.dobj = zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self.buffer:
            chunk = self.raw.read(1 << 16)
            if not chunk:
                if not self.dobj.eof:
                    raise EOFError("zstd stream ended before the end of its frame")
                return 0
            if self.dobj.eof:  # a new frame after a finished one (concatenated .zst files)
                self.dobj = zstandard.ZstdDecompressor().decompressobj()
            self.buffer = self.dobj.decompress(chunk)
        n = min(len(target), len(self.buffer))
        target[:n], self.buffer = self.buffer[:n], self.buffer[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_binary(path: str) -> io.BufferedIOBase:
    _, compression = split_suffix(path)
    raw = open(path, "rb")
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if compression == "zstd":
        return io.BufferedReader(_ZstdRaw(raw), buffer_size=1 << 16)
    return raw


def _decode(data: bytes, source: str) -> str | Skipped:
    if b"\x00" in data[:SNIFF_BYTES]:
        return Skipped("binary", source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped("invalid_utf8", source, f"byte {exc.start}")
    return text.removeprefix("\ufeff")


def _read_capped(stream: io.BufferedIOBase, opts: ReadOptions, source: str) -> str | Skipped:
    data = stream.read(opts.max_bytes + 1)
    if len(data) > opts.max_bytes:
        return Skipped("too_long", source, f"over {opts.max_bytes} bytes")
    if not data.strip():
        return Skipped("empty", source)
    return _decode(data, source)


class _TextExtractor(HTMLParser):
    """Visible text of an HTML page: script/style dropped, block tags become line breaks."""

    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre",
             "table", "ul", "ol", "blockquote", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "noscript", "template"):
            self.hidden += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "noscript", "template"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


# ----------------------------------------------------------------------------- per-format readers
def _lines(stream: io.BufferedIOBase, limit: int) -> Iterator[bytes | None]:
    """Lines of at most `limit` bytes; a longer line is drained chunk by chunk and yields None."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                chunk = stream.readline(1 << 20)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield None
        else:
            yield line


def _field(record: object, name: str) -> object:
    for key in name.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _record_doc(record: object, opts: ReadOptions, source: str) -> Item:
    value = _field(record, opts.text_field)
    if not isinstance(value, str):
        return Skipped("missing_field", source, f"no string field '{opts.text_field}'")
    if len(value) > opts.max_chars:
        return Skipped("too_long", source)
    return Document(value, source)


def _joined(items: Iterator[Item], opts: ReadOptions, source: str) -> Iterator[Item]:
    """Rows of one file joined into documents of at most max_chars (for one-sentence-per-row corpora)."""
    parts: list[str] = []
    size = 0
    part = 0
    for item in items:
        if isinstance(item, Skipped):
            yield item
            continue
        if parts and size + len(item.text) + 1 > opts.max_chars:
            yield Document("\n".join(parts), f"{source}#{part}")
            parts, size, part = [], 0, part + 1
        parts.append(item.text)
        size += len(item.text) + 1
    if parts:
        yield Document("\n".join(parts), f"{source}#{part}" if part else source)


def _read_jsonl(stream, opts: ReadOptions, source: str) -> Iterator[Item]:
    for lineno, line in enumerate(_lines(stream, opts.max_line_bytes), 1):
        where = f"{source}:{lineno}"
        if line is None:
            yield Skipped("line_too_long", where)
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            yield Skipped("malformed_json", where, str(exc)[:80])
            continue
        yield _record_doc(record, opts, where)


def _read_json(stream, opts: ReadOptions, source: str) -> Iterator[Item]:
    data = stream.read(JSON_ARRAY_MAX_BYTES + 1)
    if len(data) > JSON_ARRAY_MAX_BYTES:
        yield Skipped("too_long", source, "JSON array over 512 MiB: convert it to JSONL")
        return
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        yield Skipped("malformed_json", source, str(exc)[:80])
        return
    records = parsed if isinstance(parsed, list) else [parsed]
    for i, record in enumerate(records):
        yield _record_doc(record, opts, f"{source}[{i}]")


def _read_csv(stream, opts: ReadOptions, source: str, delimiter: str) -> Iterator[Item]:
    # stdlib csv (not pandas) so that every malformed row is counted and the file still streams.
    csv.field_size_limit(opts.max_bytes)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        yield Skipped("empty", source)
        return
    header = [h.removeprefix("\ufeff") for h in header]
    if opts.text_field not in header:
        yield Skipped("missing_field", source, f"no column '{opts.text_field}' in {header[:8]}")
        return
    column = header.index(opts.text_field)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Skipped("malformed_row", f"{source}:{reader.line_num}", str(exc)[:80])
            continue
        where = f"{source}:{reader.line_num}"
        if len(row) != len(header):
            if row:
                yield Skipped("malformed_row", where, f"{len(row)} fields, header has {len(header)}")
            continue
        yield _record_doc({"t": row[column]}, ReadOptions("t", max_chars=opts.max_chars), where)


def _read_parquet(path: str, opts: ReadOptions) -> Iterator[Item]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if opts.text_field not in parquet.schema_arrow.names:
        yield Skipped("missing_field", path, f"no column '{opts.text_field}'")
        return
    row = 0
    for batch in parquet.iter_batches(batch_size=1024, columns=[opts.text_field]):
        for value in batch.column(0).to_pylist():
            yield _record_doc({"t": value}, ReadOptions("t", max_chars=opts.max_chars), f"{path}#{row}")
            row += 1


def _read_xml(stream, opts: ReadOptions, source: str) -> Iterator[Item]:
    """Each element named text_field (namespace ignored) is one document, e.g. MedQuAD's <Answer>."""
    found = 0
    root = None
    for event, elem in ElementTree.iterparse(stream, events=("start", "end")):
        if root is None:
            root = elem
        if event != "end" or elem.tag.rsplit("}", 1)[-1] != opts.text_field:
            continue
        found += 1
        text = "".join(elem.itertext())
        yield Document(text, f"{source}#{found}") if text.strip() else Skipped("empty", f"{source}#{found}")
        root.clear()  # keep memory flat: finished subtrees are dropped
    if not found:
        yield Skipped("missing_field", source, f"no <{opts.text_field}> element")


def _read_file(src: Source, opts: ReadOptions) -> Iterator[Item]:
    path = src.path
    if src.size == 0:
        yield Skipped("empty", path)
        return
    ext, compression = split_suffix(path)
    fmt = FORMATS.get(ext, "code" if ext in CODE_LANGUAGES else "text")
    if fmt == "parquet":
        if compression:
            yield Skipped("unsupported_compression", path, "parquet compresses internally")
        else:
            yield from _read_parquet(path, opts)
        return
    with open_binary(path) as stream:
        if fmt in ("jsonl", "json", "csv", "tsv", "xml"):
            if fmt == "jsonl":
                items = _read_jsonl(stream, opts, path)
            elif fmt == "json":
                items = _read_json(stream, opts, path)
            elif fmt == "xml":
                items = _read_xml(stream, opts, path)
            else:
                items = _read_csv(stream, opts, path, "," if fmt == "csv" else "\t")
            yield from (_joined(items, opts, path) if opts.join_rows else items)
            return
        text = _read_capped(stream, opts, path)
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
            yield _record_doc(record, opts, f"{src.path}#{split}/{i}")


def read_source(src: Source, opts: ReadOptions) -> Iterator[Item]:
    """Documents of one source; every failure becomes a Skipped (documents already read are kept)."""
    try:
        if src.kind == "file":
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
