"""Every reader, and every bad input: each becomes documents or a counted Skipped reason, never a crash."""
from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from domain_electra.corpus.readers import ReadOptions, Skipped, Source, iter_sources, read_source
from domain_electra.errors import UserError

TEXT = "The licensee shall pay the fees within thirty days of the invoice date."
EXTS = (".txt", ".md", ".html", ".htm", ".xml", ".jsonl", ".json", ".csv", ".tsv", ".parquet")


def read_all(sources, opts=ReadOptions(extensions=EXTS), exclude=()):
    docs, skipped = [], []
    for src in iter_sources([str(s) for s in sources], opts.extensions, exclude):
        if isinstance(src, Skipped):
            skipped.append(src)
            continue
        for item in read_source(src, opts):
            (skipped if isinstance(item, Skipped) else docs).append(item)
    return docs, skipped


def reasons(skipped):
    return sorted(s.reason for s in skipped)


def test_plain_text_markdown_and_extensionless(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT)
    (tmp_path / "b.md").write_text("# Title\n\n" + TEXT)
    (tmp_path / "LICENSE").write_text(TEXT)  # no extension: plain text in a text domain
    (tmp_path / "img.png").write_bytes(b"\x89PNG")
    docs, skipped = read_all([tmp_path])
    assert sorted(Path(d.source).name for d in docs) == ["LICENSE", "a.txt", "b.md"]
    assert reasons(skipped) == ["unsupported_extension"]


def test_html_text_extraction(tmp_path):
    (tmp_path / "p.html").write_text("<html><head><style>p{}</style><script>var x=1;</script></head>"
                                     "<body><h1>Terms</h1><p>You agree &amp; accept.</p></body></html>")
    docs, _ = read_all([tmp_path])
    assert "Terms" in docs[0].text and "You agree & accept." in docs[0].text
    assert "var x" not in docs[0].text and "p{}" not in docs[0].text


def test_jsonl_json_array_nested_field(tmp_path):
    lines = [json.dumps({"meta": {"body": f"{TEXT} {i}"}}) for i in range(3)]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.json").write_text(json.dumps([{"meta": {"body": "first"}}, {"meta": {"body": "second"}}]))
    docs, skipped = read_all([tmp_path], ReadOptions("meta.body", EXTS))
    assert [d.text for d in docs] == [f"{TEXT} 0", f"{TEXT} 1", f"{TEXT} 2", "first", "second"]
    assert docs[1].source.endswith("a.jsonl:2") and not skipped


def test_csv_tsv_parquet_columns(tmp_path):
    (tmp_path / "a.csv").write_text(',sentence\n0,"Rates rose, again."\n1,"Inflation, with ""quotes"", eased."\n')
    (tmp_path / "b.tsv").write_text("id\tsentence\n1\tSecond file row.\n")
    pq.write_table(pa.table({"sentence": ["From parquet.", "Another row."], "x": [1, 2]}), tmp_path / "c.parquet")
    docs, skipped = read_all([tmp_path], ReadOptions("sentence", EXTS))
    assert [d.text for d in docs] == ["Rates rose, again.", 'Inflation, with "quotes", eased.', "Second file row.",
                                      "From parquet.", "Another row."]
    assert not skipped


def test_join_rows_one_document_per_file_chunked(tmp_path):
    rows = "\n".join(f'{i},"Sentence number {i} of the minutes."' for i in range(10))
    (tmp_path / "m.csv").write_text(",sentence\n" + rows + "\n")
    docs, _ = read_all([tmp_path], ReadOptions("sentence", EXTS, max_chars=200, join_rows=True))
    assert len(docs) == 2 and all(len(d.text) <= 200 for d in docs)
    assert docs[0].text.startswith("Sentence number 0") and "Sentence number 9" in docs[1].text


def test_xml_elements_streamed(tmp_path):
    (tmp_path / "q.xml").write_text('<?xml version="1.0"?><Document><QAPairs>'
                                    '<QAPair><Question>What?</Question><Answer>First answer.</Answer></QAPair>'
                                    '<QAPair><Question>Why?</Question><Answer>Second answer.</Answer></QAPair>'
                                    '</QAPairs></Document>')
    docs, _ = read_all([tmp_path], ReadOptions("Answer", EXTS))
    assert [d.text for d in docs] == ["First answer.", "Second answer."]


def test_gzip_and_zstd_compressed(tmp_path):
    payload = (json.dumps({"text": TEXT}) + "\n").encode() * 3
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(payload))
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(TEXT.encode()))
    docs, skipped = read_all([tmp_path])
    assert len(docs) == 7 and all(d.text == TEXT for d in docs) and not skipped


def test_saved_dataset_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"text": ["one doc", "two doc"], "y": [0, 1]}).save_to_disk(str(tmp_path / "ds"))
    docs, skipped = read_all([tmp_path / "ds"])
    assert [d.text for d in docs] == ["one doc", "two doc"] and not skipped


def test_code_tree_language_from_extension(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("def f():\n    return 1\n")
    (tmp_path / "pkg" / "M.java").write_text("class M {}\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\x00\x01")
    (tmp_path / "pkg" / "notes.txt").write_text("not code")
    docs, skipped = read_all([tmp_path], ReadOptions(extensions=(".py", ".java")))
    assert {(Path(d.source).name, d.language) for d in docs} == {("m.py", "python"), ("M.java", "java")}
    assert reasons(skipped) == ["hidden_or_cache_directory", "unsupported_extension"]


def test_glob_and_exclude(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "copyright").write_text(TEXT)
    docs, skipped = read_all([str(tmp_path / "*" / "copyright")], exclude=("*/b/*",))
    assert [Path(d.source).parent.name for d in docs] == ["a"] and reasons(skipped) == ["excluded"]
    with pytest.raises(UserError, match="matches no files"):
        read_all([str(tmp_path / "*.nothing")])
    with pytest.raises(UserError, match="source not found"):
        read_all([str(tmp_path / "missing-folder")])


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_each_counted(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"\x7fELF\x00\x00\x00binary")
    (bad / "latin1.txt").write_bytes("Vertragsstrafe f\u00fcr S\u00e4umnis".encode("latin-1"))
    (bad / "empty.txt").write_bytes(b"")
    (bad / "blank.txt").write_text("   \n\n  ")
    (bad / "trunc.jsonl.gz").write_bytes(gzip.compress((json.dumps({"text": TEXT}) + "\n").encode() * 200)[:-30])
    zst = zstandard.ZstdCompressor().compress((TEXT * 500).encode())
    (bad / "trunc.txt.zst").write_bytes(zst[: len(zst) // 2])
    (bad / "garbage.txt.gz").write_bytes(b"this is not gzip at all")
    (bad / "lines.jsonl").write_text(f'{json.dumps({"text": TEXT})}\n{{"text": broken\n[1, 2]\n{json.dumps({"text": "ok"})}\n')
    (bad / "rows.csv").write_text('id,text\n1,"good row"\n2,"too","many"\n3,"fine again"\n')
    (bad / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    (bad / "broken.xml").write_text("<Document><text>one</text><text>unclosed")
    os.symlink(bad / "nowhere.txt", bad / "dangling.txt")
    os.symlink(bad / "loop_b.txt", bad / "loop_a.txt")
    os.symlink(bad / "loop_a.txt", bad / "loop_b.txt")
    os.symlink(bad, bad / "self_dir")  # a directory symlink loop
    docs, skipped = read_all([bad])
    got = reasons(skipped)
    for reason in ("binary", "invalid_utf8", "empty", "truncated_archive", "corrupt_archive", "malformed_json",
                   "missing_field", "malformed_row", "unreadable", "malformed_xml", "symlink_loop"):
        assert reason in got, (reason, got)
    assert got.count("empty") == 2 and got.count("symlink_loop") == 3  # 2 file loops + the directory loop
    texts = sorted(d.text for d in docs)
    # Documents before the fault are kept: the truncated gzip's complete lines, the good JSON/CSV rows.
    assert texts.count(TEXT) >= 100 and "ok" in texts and "good row" in texts and "fine again" in texts
    assert "one" in texts  # XML elements before the parse error


def test_single_50mb_line_is_skipped_without_loading(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as f:
        f.write(json.dumps({"text": "short one"}) + "\n")
        f.write('{"text": "' + "x" * (50 << 20) + '"}\n')
        f.write(json.dumps({"text": "after the long line"}) + "\n")
    docs, skipped = read_all([path], ReadOptions(extensions=EXTS, max_chars=100_000))
    assert [d.text for d in docs] == ["short one", "after the long line"]
    assert reasons(skipped) == ["line_too_long"]
    (tmp_path / "huge.txt").write_text("y" * (5 << 20))
    docs, skipped = read_all([tmp_path / "huge.txt"], ReadOptions(extensions=EXTS, max_chars=100_000))
    assert not docs and reasons(skipped) == ["too_long"]


def test_unreadable_file_counted(tmp_path, monkeypatch):
    path = tmp_path / "secret.txt"
    path.write_text(TEXT)
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    items = list(read_source(Source("file", str(path), path.stat().st_size), ReadOptions()))
    assert [(i.reason, "Permission denied" in i.detail) for i in items] == [("unreadable", True)]
