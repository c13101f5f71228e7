"""Per-format readers (text, HTML, JSONL, JSON, CSV/TSV, Parquet, XML; gzip/zstd), all streaming.

Each yields Documents or :class:`Skipped` records; `readers.read_source` picks the reader by extension
and turns exceptions (truncated archives, unreadable files ...) into counted reasons.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Iterator, Union
from xml.etree import ElementTree

import zstandard

from ..domain import Document

SNIFF_BYTES = 8192
JSON_ARRAY_MAX_BYTES = 512 << 20  # a .json array is parsed whole; bigger ones should be JSONL
COMPRESSION = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


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


def split_suffix(name: str) -> tuple[str, str]:
    """'a.jsonl.gz' -> ('.jsonl', 'gzip'); 'LICENSE' -> ('', '')."""
    import os

    lower = name.lower()
    compression = ""
    for ext, kind in COMPRESSION.items():
        if lower.endswith(ext):
            compression, lower = kind, lower[: -len(ext)]
            break
    return os.path.splitext(lower)[1], compression


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


def read_capped(stream: io.BufferedIOBase, opts: ReadOptions, source: str) -> str | Skipped:
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


def record_doc(record: object, opts: ReadOptions, source: str) -> Item:
    value = _field(record, opts.text_field)
    if not isinstance(value, str):
        return Skipped("missing_field", source, f"no string field '{opts.text_field}'")
    if len(value) > opts.max_chars:
        return Skipped("too_long", source)
    return Document(value, source)


def with_joined_rows(items: Iterator[Item], opts: ReadOptions, source: str) -> Iterator[Item]:
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


def read_jsonl(stream, opts: ReadOptions, source: str, first_line: int = 1) -> Iterator[Item]:
    for lineno, line in enumerate(_lines(stream, opts.max_line_bytes), first_line):
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
        yield record_doc(record, opts, where)


def read_json(stream, opts: ReadOptions, source: str) -> Iterator[Item]:
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
        yield record_doc(record, opts, f"{source}[{i}]")


def read_csv(stream, opts: ReadOptions, source: str, delimiter: str) -> Iterator[Item]:
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
        yield record_doc({"t": row[column]}, ReadOptions("t", max_chars=opts.max_chars), where)


def read_parquet(path: str, opts: ReadOptions) -> Iterator[Item]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if opts.text_field not in parquet.schema_arrow.names:
        yield Skipped("missing_field", path, f"no column '{opts.text_field}'")
        return
    row = 0
    for batch in parquet.iter_batches(batch_size=1024, columns=[opts.text_field]):
        for value in batch.column(0).to_pylist():
            yield record_doc({"t": value}, ReadOptions("t", max_chars=opts.max_chars), f"{path}#{row}")
            row += 1


def read_xml(stream, opts: ReadOptions, source: str) -> Iterator[Item]:
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


