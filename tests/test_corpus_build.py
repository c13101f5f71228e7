"""build_corpus end to end: shards, split, dedup, decontamination, bad inputs, the pool, real data."""
from __future__ import annotations

import gzip
import json
import random
import sysconfig
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.errors import UserError

WORDS = ("agreement party licence term payment notice court claim damages breach warranty service customer "
         "supplier invoice period written consent law state obligation right remedy fee delivery product "
         "termination confidential information liability indemnify jurisdiction dispute clause section").split()
PLANTED = "the supplier shall indemnify the customer against every claim arising from a breach of this warranty"

PLUGIN = f'''
import os
from domain_electra.domain import Domain, EvalTask, MaskingPolicy, TaskData, TokenizerRecipe

def load(data_dir=None, **options):
    return TaskData(train=[], dev=[], test={{"en": [{{"text": "{PLANTED}", "label": 0}}]}})

def missing(data_dir=None, **options):
    raise FileNotFoundError("data set not downloaded")

def faults(doc):
    if "CRASH_THE_WORKER" in doc.text:
        os._exit(3)  # a hard crash (segfault, OOM kill) in a worker process
    if "RAISE_IN_STEP" in doc.text:
        raise RuntimeError("a buggy cleaner")
    return doc

DOMAIN = Domain(name="toy", description="test domain", languages=("en",), cleaners=lambda options: [faults],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(),
                eval_tasks=(EvalTask("planted", "classification", "", load), EvalTask("absent", "classification", "", missing)),
                examples=(), file_extensions=(".txt", ".jsonl", ".csv"))
'''


def sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 20))).capitalize() + "."


def paragraph(rng, n=8):
    return " ".join(sentence(rng) for _ in range(n))


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy_plugin.py"
    path.write_text(PLUGIN)
    return str(path)


def config(toy, sources, **kw):
    base = dict(domain=toy, sources=[str(s) for s in sources], min_chars=50, languages=[], workers=1)
    return CorpusConfig(**(base | kw))


def corpus_folder(root: Path, n=40, seed=0):
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    texts = [paragraph(rng) for _ in range(n)]
    for i, text in enumerate(texts):
        (root / f"doc{i:03d}.txt").write_text(text)
    return texts


def test_build_writes_shards_stats_summary_and_split(toy, tmp_path):
    texts = corpus_folder(tmp_path / "src", 40)
    out = tmp_path / "out"
    stats = build_corpus(config(toy, [tmp_path / "src"], shard_docs=15, val_fraction=0.2), out, progress=False)
    assert stats["documents"]["kept"] == 40 and stats["documents"]["train"] + stats["documents"]["validation"] == 40
    assert [p.name for p in sorted(out.glob("train-*.parquet"))] == stats["shards"]["train"]
    assert len(stats["shards"]["train"]) == -(-stats["documents"]["train"] // 15)
    assert pq.read_schema(out / "train-00000.parquet").names == ["text", "source", "domain", "language", "hash"]
    rows = list(read_shards(out, "train", ("text", "source", "domain", "language", "hash")))
    rows += list(read_shards(out, "validation", ("text", "source", "domain", "language", "hash")))
    assert sorted(r["text"] for r in rows) == sorted(texts)
    assert {r["domain"] for r in rows} == {"toy"} and {r["language"] for r in rows} == {"en"}
    assert 2 <= stats["documents"]["validation"] <= 16
    summary = (out / "summary.md").read_text()
    assert "40 read -> 40 kept" in summary and json.loads((out / "stats.json").read_text())["documents"]["kept"] == 40
    # The split is a function of content and seed only: the same documents land in validation again.
    again = build_corpus(config(toy, [tmp_path / "src"], val_fraction=0.2), tmp_path / "out2", progress=False)
    assert sorted(r["hash"] for r in read_shards(tmp_path / "out2", "validation", ("hash",))) == \
        sorted(r["hash"] for r in read_shards(out, "validation", ("hash",)))
    assert again["documents"]["validation"] == stats["documents"]["validation"]
    with pytest.raises(UserError, match="no 'test' shards"):
        next(read_shards(out, "test"))


def test_exact_and_near_duplicates_and_decontamination(toy, tmp_path):
    rng = random.Random(1)
    src = tmp_path / "src"
    texts = corpus_folder(src, 20, seed=1)
    (src / "exact_copy.txt").write_text(texts[0])
    long_text = paragraph(rng, 14)
    (src / "original.txt").write_text(long_text)
    words = long_text.split()
    words[5] = "amended"  # a near-copy (word 5-gram Jaccard ~0.95): one word changed, two appended
    (src / "z_near_copy.txt").write_text(" ".join(words) + " Signed twice.")
    (src / "contaminated.txt").write_text(paragraph(rng, 3) + " " + PLANTED.capitalize() + ". " + paragraph(rng, 2))
    stats = build_corpus(config(toy, [src]), tmp_path / "out", progress=False)
    dropped = stats["documents"]["dropped"]
    assert dropped == {"exact_duplicate": 1, "near_duplicate": 1, "contaminated": 1}
    assert stats["documents"]["kept"] == 21
    assert stats["decontamination"]["tasks"]["planted"] == "1 test texts"
    assert stats["decontamination"]["tasks"]["absent"].startswith("skipped: FileNotFoundError")
    samples = {s["reason"]: s["source"] for s in stats["samples"]}
    assert samples["near_duplicate"].endswith("near_copy.txt") and samples["contaminated"].endswith("contaminated.txt")
    # Near-dedup off (threshold 0) and decontamination off: only the exact copy goes.
    loose = build_corpus(config(toy, [src], near_dup_threshold=0.0, decontaminate=False), tmp_path / "o2", progress=False)
    assert loose["documents"]["dropped"] == {"exact_duplicate": 1}


def broken_inputs(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "latin1.txt").write_bytes("Geb\u00fchr f\u00fcr S\u00e4umnis".encode("latin-1"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "trunc.jsonl.gz").write_bytes(gzip.compress(b'{"text": "never complete"}\n' * 50)[:-20])
    (folder / "bad.jsonl").write_text('{"text": \n')
    (folder / "bad.csv").write_text('id,text\n1,"a","b"\n')
    with open(folder / "long.jsonl", "w") as f:
        f.write('{"text": "' + "z" * (50 << 20) + '"}\n')
    (folder / "dangling.txt").symlink_to(folder / "nowhere")
    (folder / "loop").symlink_to(folder)


def test_broken_inputs_plus_one_good_file(toy, tmp_path):
    src = tmp_path / "src"
    broken_inputs(src)
    good = paragraph(random.Random(3))
    (src / "good.txt").write_text(good)
    # Reader robustness, not the failure threshold (tested below): accept any share of failed sources.
    stats = build_corpus(config(toy, [src], max_chars=100_000, max_failed_share=1.0), tmp_path / "out", progress=False)
    assert stats["documents"]["kept"] == 1
    assert [r["text"] for r in read_shards(tmp_path / "out", "train", ("text",))] + \
        [r["text"] for r in read_shards(tmp_path / "out", "validation", ("text",))] == [good]
    skipped = stats["inputs"]["skipped"]
    for reason in ("binary", "invalid_utf8", "empty", "truncated_archive", "malformed_json", "malformed_row",
                   "line_too_long", "unreadable", "symlink_loop"):
        assert skipped.get(reason, 0) >= 1, (reason, skipped)
    assert any(s["reason"] == "line_too_long" for s in stats["samples"])
    # Lost sources (not content left out on purpose: binary, empty, bad lines) are counted apart.
    assert stats["failures"]["reasons"] == {"invalid_utf8": 1, "truncated_archive": 1, "unreadable": 1}
    assert stats["failures"]["failed"] == 3 and stats["failures"]["sources"] == 9


def test_empty_result_is_a_user_error_naming_reasons(toy, tmp_path):
    src = tmp_path / "src"
    broken_inputs(src)
    (src / "long.jsonl").unlink()
    with pytest.raises(UserError, match=r"kept no documents .*top reasons: .*(binary|empty|invalid_utf8)"):
        build_corpus(config(toy, [src]), tmp_path / "out", progress=False)
    assert (tmp_path / "out" / "stats.json").is_file()  # written first, for auditing
    with pytest.raises(UserError, match="min_chars < max_chars"):
        build_corpus(config(toy, [src], min_chars=10, max_chars=5), tmp_path / "o2", progress=False)


def test_worker_pool_matches_single_process_and_survives_faults(toy, tmp_path):
    src = tmp_path / "src"
    texts = corpus_folder(src, 30, seed=4)
    one = build_corpus(config(toy, [src]), tmp_path / "one", progress=False)
    (src / "crash.txt").write_text(paragraph(random.Random(5)) + " CRASH_THE_WORKER")
    (src / "raise.txt").write_text(paragraph(random.Random(6)) + " RAISE_IN_STEP")
    two = build_corpus(config(toy, [src], workers=2, max_failed_share=0.1), tmp_path / "two", progress=False)
    assert two["inputs"]["skipped"] == {"worker_crashed": 1, "worker_error": 1}
    assert two["failures"] | {"examples": {}} == {"sources": 32, "failed": 2, "share": 0.0625, "max_failed_share": 0.1,
                                                 "reasons": {"worker_crashed": 1, "worker_error": 1}, "examples": {}}
    assert two["failures"]["examples"]["worker_error"].endswith("raise.txt: RuntimeError: a buggy cleaner")
    assert two["documents"]["kept"] == one["documents"]["kept"] == len(texts)
    hashes = {split: sorted(r["hash"] for r in read_shards(tmp_path / name, split, ("hash",)))
              for name in ("one", "two") for split in ("train", "validation")}
    assert hashes  # same documents, same split, whatever the worker count
    for split in ("train", "validation"):
        assert sorted(r["hash"] for r in read_shards(tmp_path / "one", split, ("hash",))) == \
            sorted(r["hash"] for r in read_shards(tmp_path / "two", split, ("hash",)))


def truncated_gzip_files(folder: Path, n: int, seed=8) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        data = gzip.compress(paragraph(rng).encode())
        (folder / f"bad{i:02d}.txt.gz").write_bytes(data[: len(data) // 2])


def test_failed_sources_over_the_share_fail_the_build_in_one_line(toy, tmp_path):
    """20 truncated gzip files and one good one: before, the build exited 0 with "done"."""
    src = tmp_path / "src"
    truncated_gzip_files(src, 20)
    (src / "good.txt").write_text(paragraph(random.Random(9)))
    with pytest.raises(UserError, match=r"20 of 21 sources failed \(95.2% > max_failed_share 5%\): "
                                        r"truncated_archive \(20\), e.g. .*bad00.txt.gz: Compressed file ended") as err:
        build_corpus(config(toy, [src]), tmp_path / "out", progress=False)
    assert "\n" not in str(err.value) and "max_failed_share=1" in str(err.value)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())  # written first, for auditing
    assert stats["documents"]["kept"] == 1 and stats["failures"]["reasons"] == {"truncated_archive": 20}
    assert "failed sources: 20 of 21 (95.2%, limit 5%): truncated_archive 20" in (tmp_path / "out" / "summary.md").read_text()
    assert build_corpus(config(toy, [src], max_failed_share=1.0), tmp_path / "o2", progress=False)["failures"]["failed"] == 20
    with pytest.raises(UserError, match="max_failed_share must be in"):
        build_corpus(config(toy, [src], max_failed_share=1.5), tmp_path / "o3", progress=False)


def test_failed_sources_under_the_share_are_reported_on_the_terminal(toy, tmp_path):
    from conftest import run_cli

    src = tmp_path / "src"
    truncated_gzip_files(src, 1)
    corpus_folder(src, 20, seed=10)
    (src / "latin1.txt").write_bytes("Geb\u00fchr".encode("latin-1"))  # 2 of 22: 9.1%, under a 10% limit
    result = run_cli("corpus", "build", "--domain", toy, "--source", str(src), "--out", str(tmp_path / "out"),
                     "--set", "decontaminate=false", "--set", "min_chars=50", "--set", "max_failed_share=0.1")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("failed sources:"))
    assert line.startswith("failed sources: 2 of 22 (9.1%, limit 10%): ") and "invalid_utf8 1" in line
    assert "truncated_archive 1" in line and "bad00.txt.gz: Compressed file ended" in result.stdout
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["documents"]["kept"] == 20 and stats["failures"]["failed"] == 2
    over = run_cli("corpus", "build", "--domain", toy, "--source", str(src), "--out", str(tmp_path / "o2"),
                   "--set", "decontaminate=false", "--set", "min_chars=50")  # default 5%: 9.1% fails
    assert over.returncode != 0 and "Traceback" not in over.stderr
    assert over.stderr.strip().splitlines()[-1].startswith("error: corpus build: 2 of 22 sources failed (9.1% > ")


def test_max_docs_stops_early(toy, tmp_path):
    corpus_folder(tmp_path / "src", 30, seed=7)
    for workers in (1, 2):
        stats = build_corpus(config(toy, [tmp_path / "src"], max_docs=7, workers=workers), tmp_path / f"o{workers}",
                             progress=False)
        assert stats["documents"]["kept"] == 7 and stats["stopped_early"]


# ----------------------------------------------------------------------------- real data
def data_dir() -> Path:
    import os

    return Path(os.environ.get("DOMAIN_ELECTRA_DATA") or Path(__file__).resolve().parents[1] / "../shared/data")


def test_real_code_stdlib_quick(tmp_path):
    stdlib = sysconfig.get_paths()["stdlib"]
    stats = build_corpus(CorpusConfig(domain="code", sources=[stdlib], exclude=["*/site-packages", "*/test", "*/tests"],
                                      max_docs=150, decontaminate=False), tmp_path / "out", progress=False)
    assert stats["documents"]["kept"] == 150 and set(stats["languages"]) <= {"python", "c", "cpp", "javascript"}
    row = next(read_shards(tmp_path / "out", "train", ("text", "language", "source")))
    assert row["source"].startswith(stdlib) and "    " in row["text"]  # indentation kept for code


def test_real_medquad_answers_and_fomc_rows(tmp_path):
    medquad, fomc = data_dir() / "medical/medquad", data_dir() / "finance/fomc-unlabelled-corpus"
    if not medquad.is_dir() or not fomc.is_dir():
        pytest.skip(f"real data not found under {data_dir()} (set DOMAIN_ELECTRA_DATA)")
    xml = sorted(medquad.glob("1_CancerGov_QA/*.xml"))[:5]
    stats = build_corpus(CorpusConfig(domain="medical", sources=[str(p) for p in xml], text_field="Answer",
                                      decontaminate=False, languages=["en"]), tmp_path / "med", progress=False)
    assert stats["documents"]["read"] >= 5 * 3 and stats["languages"] == {"en": stats["documents"]["kept"]}
    csvs = sorted(fomc.glob("meeting_minutes/*.csv"))[:3]
    stats = build_corpus(CorpusConfig(domain="finance", sources=[str(p) for p in csvs], text_field="sentence",
                                      join_rows=True, decontaminate=False), tmp_path / "fin", progress=False)
    assert stats["documents"]["read"] == 3 and stats["documents"]["kept"] == 3


GERMAN = ("Der Lieferant haftet gegenüber dem Kunden für alle Schäden, die aus einer Verletzung dieser Garantie "
          "entstehen, soweit nicht ausdrücklich etwas anderes schriftlich vereinbart wurde. ") * 3


def test_language_id_off_labels_every_document_with_the_declared_language(toy, tmp_path):
    rng = random.Random(5)
    (tmp_path / "src").mkdir()
    for i in range(6):
        (tmp_path / "src" / f"en{i}.txt").write_text(paragraph(rng))
    (tmp_path / "src" / "de.txt").write_text(GERMAN)
    detected = build_corpus(config(toy, [tmp_path / "src"], languages=["en"], near_dup_threshold=0),
                            tmp_path / "on", progress=False)
    assert detected["documents"]["dropped"].get("language_not_kept") == 1  # the detector sees German
    off = build_corpus(config(toy, [tmp_path / "src"], languages=["en"], language_id=False, near_dup_threshold=0),
                       tmp_path / "off", progress=False)
    assert off["documents"]["kept"] == 7 and off["languages"] == {"en": 7}
    assert off["language_detector"].startswith("off (language_id: false")
    assert "language identification: off" in (tmp_path / "off" / "summary.md").read_text()
    with pytest.raises(UserError, match=r"language_id: false needs the corpus's one language"):
        build_corpus(config(toy, [tmp_path / "src"], languages=["en", "de"], language_id=False), tmp_path / "x")
