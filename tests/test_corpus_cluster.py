"""The datatrove path: the same pipeline as datatrove steps on LocalPipelineExecutor with several tasks."""
from __future__ import annotations

import json
import random

import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.corpus import cluster_dedup as D

pytest.importorskip("datatrove")

from domain_electra.corpus.cluster import build_corpus_datatrove  # noqa: E402

WORDS = "contract party notice payment court claim breach warranty customer supplier invoice term law".split()


def test_datatrove_tasks_match_local_build(tmp_path):
    rng = random.Random(0)
    src = tmp_path / "src"
    src.mkdir()
    texts = [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(12)]
    for i, text in enumerate(texts):
        (src / f"d{i:02d}.txt").write_text(text)
    (src / "copy.txt").write_text(texts[3])  # an exact duplicate across tasks
    (src / "bad.txt").write_bytes(b"\xff\xfe\x00binary")
    config = CorpusConfig(domain="legal", sources=[str(src)], min_chars=50, decontaminate=False, val_fraction=0.25)
    local = build_corpus(config, tmp_path / "local", progress=False)
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=3, workers=2)
    assert stats["documents"]["kept"] == local["documents"]["kept"] == 12
    assert stats["documents"]["dropped"] == {"exact_duplicate": 1} and stats["inputs"]["skipped"] == {"binary": 1}
    for split in ("train", "validation"):
        assert sorted(r["hash"] for r in read_shards(tmp_path / "dt", split, ("hash",))) == \
            sorted(r["hash"] for r in read_shards(tmp_path / "local", split, ("hash",)))
    assert len(list((tmp_path / "dt" / "_datatrove" / "logs" / "process" / "completions").iterdir())) == 3


class _Planted:
    """A pickle that, when loaded, creates a marker file: what an attacker with scratch access would plant."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_parts_are_plain_data_and_a_planted_pickle_is_never_loaded(tmp_path):
    import pickle

    from domain_electra.corpus.cluster import buckets_task, cluster_task, finish_task, process_task, write_task
    from domain_electra.errors import UserError
    from domain_electra.config import to_dict

    rng = random.Random(1)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"d{i}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(120)))
    config = to_dict(CorpusConfig(domain="legal", sources=[str(src)], min_chars=50, decontaminate=False))
    work, parts = tmp_path / "work", tmp_path / "work" / "parts"

    def later_stages(out):
        for rank in (0, 1):
            buckets_task(None, rank, 2, config=config, work_dir=str(work))
        cluster_task(None, 0, 1, config=config, work_dir=str(work))
        for rank in (0, 1):
            write_task(None, rank, 2, config=config, work_dir=str(work))
        finish_task(None, 0, 1, config=config, work_dir=str(work), out=str(tmp_path / out))

    for rank in (0, 1):
        process_task(None, rank, 2, config=config, work_dir=str(work))
    assert sorted(p.name for p in parts.iterdir()) == ["00000.jsonl", "00001.jsonl", "decontamination.json"]
    for part in parts.glob("*.jsonl"):  # every line is JSON: nothing in a part can run code when read
        assert all(json.loads(line) for line in part.read_text().splitlines())
    scratch = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.is_file() and "parts" not in p.parts)
    assert scratch == ["buckets/00000/00000-000.npy", "buckets/00000/00001-000.npy", "buckets/00001/00000-000.npy",
                       "buckets/00001/00001-000.npy"]
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    (parts / "00000.pkl").write_bytes(payload)  # the old part name: ignored
    later_stages("out")
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["documents"]["kept"] == 4
    assert not marker.exists()
    (parts / "00002.jsonl").write_bytes(payload)  # a pickle under a part's name: refused, not run
    with pytest.raises(UserError, match="00002.jsonl is not a corpus part"):
        later_stages("out2")
    assert not marker.exists() and not (tmp_path / "out2").exists()
    (parts / "00002.jsonl").unlink()
    for name in ("collisions/00001-000.bands.npy", "dedup/dropped.npy"):  # a pickle under a scratch array's name
        (work / name).write_bytes(payload)
        with pytest.raises(UserError, match=f"{name.split('/')[1]} is not a corpus scratch array"):
            (cluster_task(None, 0, 1, config=config, work_dir=str(work)) if name.startswith("collisions") else
             write_task(None, 0, 2, config=config, work_dir=str(work)))
        assert not marker.exists()
    (work / "shards" / "00001.json").unlink()  # a write task that left no counts: finish refuses, writes nothing
    with pytest.raises(UserError, match=r"stage 'write' is incomplete: tasks \[1\] of 2 left no counts"):
        finish_task(None, 0, 1, config=config, work_dir=str(work), out=str(tmp_path / "out5"))
    assert not (tmp_path / "out5").exists()
    (parts / "00001.jsonl").unlink()  # a task whose part is missing: its sources would vanish silently
    with pytest.raises(UserError, match=r"incomplete: tasks \[1\] of 2 missing"):
        later_stages("out3")


def test_datatrove_build_fails_over_the_failed_source_share(tmp_path):
    import gzip

    from domain_electra.errors import UserError

    rng = random.Random(2)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        data = gzip.compress(" ".join(rng.choice(WORDS) for _ in range(200)).encode())
        (src / f"bad{i}.txt.gz").write_bytes(data[: len(data) // 2])
    (src / "good.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(120)))
    config = CorpusConfig(domain="legal", sources=[str(src)], min_chars=50, decontaminate=False)
    with pytest.raises(UserError, match=r"4 of 5 sources failed \(80.0% > max_failed_share 5%\): truncated_archive"):
        build_corpus_datatrove(config, tmp_path / "dt", tasks=2, workers=1)
    failures = json.loads((tmp_path / "dt" / "stats.json").read_text())["failures"]
    assert failures["failed"] == 4 and failures["reasons"] == {"truncated_archive": 4}
    assert not list((tmp_path / "dt").rglob("*.pkl"))


# ----------------------------------------------------------------------------- distributed dedup
def _local_rule(keys: "np.ndarray") -> dict:
    """The local build's dedup, written out plainly (a reference): raw repeats, then exact, then LSH bands."""
    seen_raw, seen_exact, kept_bands, out = set(), set(), [set() for _ in range(keys.shape[1] - 2)], {}
    for i, (raw, exact, *bands) in enumerate(keys.tolist()):
        if raw in seen_raw:
            out[i] = D.REPEAT
            continue
        seen_raw.add(raw)
        if exact in seen_exact:  # the same cleaned text as any earlier document, kept or not
            out[i] = D.EXACT_DUPLICATE
            continue
        seen_exact.add(exact)
        if any(key in kept for key, kept in zip(bands, kept_bands)):
            out[i] = D.NEAR_DUPLICATE
        else:
            for key, kept in zip(bands, kept_bands):
                kept.add(key)
    return out


def _distributed(keys: "np.ndarray", world: int) -> dict:
    """keys split over `world` stage-1 tasks (contiguous), through partition -> collisions -> verdicts."""
    import numpy as np

    cuts = np.linspace(0, len(keys), world + 1).astype(int)
    rows, to_global = [[] for _ in range(world)], {}
    for rank in range(world):
        part = keys[cuts[rank]: cuts[rank + 1]]
        ids = np.array([D.record_id(rank, p) for p in range(len(part))], dtype=np.uint64)
        to_global.update({int(i): cuts[rank] + p for p, i in enumerate(ids)})
        for owner, owned in enumerate(D.partition(D.key_rows(part, ids), world)):
            rows[owner].append(owned)
    ids, codes, _ = D.verdicts([D.collisions(np.concatenate(r)) for r in rows])
    return {to_global[int(i)]: int(c) for i, c in zip(ids, codes)}


def test_bucketed_verdicts_equal_the_sequential_local_rule_not_transitive_clusters():
    import numpy as np

    # A, B share band 0; B, C share band 1; A and C share nothing: the local build keeps A and C (C is
    # compared with kept documents only), a transitive "one per cluster" would drop C.
    a, b, c = [10, 11, 12, 100, 200], [20, 21, 22, 100, 201], [30, 31, 32, 101, 201]
    copy_b, repeat_a, copy_a = [40, 21, 22, 100, 201], [10, 11, 12, 100, 200], [50, 11, 12, 100, 200]
    keys = np.array([a, b, c, copy_b, repeat_a, copy_a], dtype=np.uint64)
    expected = {1: D.NEAR_DUPLICATE, 3: D.EXACT_DUPLICATE, 4: D.REPEAT, 5: D.EXACT_DUPLICATE}  # 3: B's text
    assert _local_rule(keys) == expected
    for world in (1, 2, 3, 8):
        assert _distributed(keys, world) == expected


def test_bucketed_verdicts_equal_the_local_rule_on_random_collisions():
    import numpy as np

    rng = np.random.default_rng(0)
    for trial in range(30):
        texts = rng.integers(0, 4, size=(40, 6)).astype(np.uint64) + np.arange(6, dtype=np.uint64) * 10
        texts[:, 1] = np.arange(40) + 1000  # the content key: one per text
        docs = rng.integers(0, 40, size=120)  # which text each document has (copies share all keys)
        keys = texts[docs].copy()
        keys[:, 0] = docs * 10 + rng.integers(0, 2, size=120)  # two raw variants of each text
        expected = _local_rule(keys)
        assert expected and len(expected) < 120
        for world in (1, 3, 8):
            assert _distributed(keys, world) == expected, (trial, world)


def test_task_sources_are_contiguous_and_cover_every_source():
    from domain_electra.corpus.cluster import task_sources
    from domain_electra.corpus.readers import Source

    sources = [Source(f"s{i}", size) for i, size in enumerate([5, 0, 900, 3, 3, 3, 40, 0, 7])]
    for world in (1, 2, 3, 8, 20):
        runs = [task_sources(sources, rank, world) for rank in range(world)]
        assert [s for run in runs for s in run] == sources


def _planted_corpus(root):
    """Real text: stdlib modules and Debian licences, plus planted exact and near duplicates."""
    import shutil
    import sysconfig
    from pathlib import Path

    src = root / "src"
    src.mkdir()
    stdlib = sorted(p for p in Path(sysconfig.get_paths()["stdlib"]).glob("*.py") if 4000 < p.stat().st_size < 30000)
    for path in stdlib[::4][:24]:
        shutil.copyfile(path, src / f"a_{path.stem}.txt")
    for path in sorted(Path("/usr/share/common-licenses").iterdir()):  # GPL, LGPL, GFDL: links to a version
        (src / f"b_{path.name}.txt").write_text(path.read_text(encoding="utf-8", errors="replace"))
    module = (src / "a_" f"{stdlib[0].stem}.txt").read_text()
    apache = (src / "b_Apache-2.0.txt").read_text()
    near = _near_copy(module, 0.004, seed=1)
    chain_b = _near_copy(apache, 0.02, seed=2, part=(0.0, 0.5))
    chain_c = _near_copy(chain_b, 0.02, seed=3, part=(0.5, 1.0))
    planted = {"a_zz_near.txt": near, "c_chain_b.txt": chain_b, "c_chain_c.txt": chain_c,
               "z_copy_module.txt": module, "z_copy_apache.txt": apache,  # raw copies (another task)
               "z_copy_near.txt": near,  # a raw copy of a near duplicate
               "z_spaces_module.txt": module.replace("\n", "  \n"),  # the same text once cleaned
               "z_spaces_near.txt": near.replace("\n", " \n")}  # ... of a near duplicate
    for name, text in planted.items():
        (src / name).write_text(text)
    return src


def _near_copy(text: str, share: float, seed: int, part=(0.0, 1.0)) -> str:
    """`text` with `share` of the words in [part) replaced."""
    words = text.split(" ")
    lo, hi = int(part[0] * len(words)), int(part[1] * len(words))
    rng = random.Random(seed)
    for i in rng.sample(range(lo, hi), max(1, int(share * len(words)))):
        words[i] = f"changed{rng.randrange(10**6)}"
    return " ".join(words)


def _rows(corpus) -> dict:
    return {split: [(r["source"], r["text"], r["hash"]) for r in read_shards(corpus, split, ("source", "text", "hash"))]
            for split in ("train", "validation")}


def _summary_without_time(corpus) -> str:
    text = (corpus / "summary.md").read_text()
    return "\n".join(line for line in text.split("## Samples")[0].splitlines() if not line.startswith("- time:"))


@pytest.fixture(scope="module")
def planted_local(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    src = _planted_corpus(root)
    config = CorpusConfig(domain="legal", sources=[str(src)], decontaminate=False, val_fraction=0.2)
    stats = build_corpus(config, root / "local", progress=False)
    return config, root / "local", stats


@pytest.mark.parametrize("tasks,workers", [(1, 1), (3, 2), (8, 1)])
def test_distributed_dedup_keeps_the_local_builds_documents_on_real_text(planted_local, tmp_path, tasks, workers):
    config, local_dir, local = planted_local
    dropped = local["documents"]["dropped"]
    assert dropped["exact_duplicate"] >= 4 and dropped["near_duplicate"] >= 3  # the planted copies are found
    kept_sources = {source.rsplit("/", 1)[1] for rows in _rows(local_dir).values() for source, _, _ in rows}
    assert "c_chain_c.txt" in kept_sources and not {"a_zz_near.txt", "c_chain_b.txt"} & kept_sources  # A-B-C chain
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=tasks, workers=workers)
    assert _rows(tmp_path / "dt") == _rows(local_dir)  # the same documents, texts and order in each split
    for key in ("documents", "inputs", "bytes", "languages", "edits", "duplicate_rate", "failures"):
        assert stats[key] == local[key], key
    for split, names in local["shards"].items():  # each write task shards its own part: no shard spans two
        assert (stats["shards"][split] == names if tasks == 1 else
                len(names) <= len(stats["shards"][split]) <= len(names) + tasks - 1), split
    assert _summary_without_time(tmp_path / "dt") == _summary_without_time(local_dir)
    notes = json.loads((tmp_path / "dt" / "_datatrove" / "dedup" / "notes.json").read_text())
    assert notes["near_duplicates"] >= 2 and notes["clusters"] >= 2
    if tasks > 1:  # the planted copies sit in other tasks than their originals: repeats, followers
        assert notes["repeats"] >= 3 and notes["exact_followers"] >= 2


@pytest.mark.parametrize("change", [{"val_fraction": 1e-9}, {"max_docs": 9, "shard_docs": 4}],
                         ids=["no-validation-hash", "max-docs"])
def test_global_rules_of_the_write_stage_match_the_local_build(planted_local, tmp_path, change):
    """Two rules a write task cannot apply alone: the held-back row (no content hash fell in validation,
    so the local build moves its last train row there) and the max_docs cut (global, in source order)."""
    from dataclasses import replace

    config = replace(planted_local[0], **change)
    local = build_corpus(config, tmp_path / "local", progress=False)
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=3, workers=1)
    assert _rows(tmp_path / "dt") == _rows(tmp_path / "local")
    if "val_fraction" in change:
        assert local["documents"]["validation"] == 1  # the held-back row
    for key in ("documents", "inputs", "bytes", "languages", "edits", "failures", "stopped_early"):
        assert stats[key] == local[key], key
    assert local["stopped_early"] == ("max_docs" in change)
    leftovers = sorted(p.name for p in (tmp_path / "dt" / "_datatrove" / "shards").rglob("*.parquet"))
    assert leftovers == []  # every shard moved into the output


@pytest.mark.parametrize("held_in_memory", [True, False], ids=["held-in-memory", "spilled-to-disk"])
def test_local_workers_keep_the_one_worker_documents_when_sources_finish_out_of_order(planted_local, tmp_path,
                                                                                      monkeypatch, held_in_memory):
    """The near-duplicate keep rule is sequential: with the Apache licence held back in one worker, its
    near copy (c_chain_b) reaches the main process first, and an arrival-order build keeps chain_b and drops
    both its neighbours. The pool must hand batches over in source order, so 2 workers = 1 worker, whether
    the waiting batches stay in memory or spill to disk."""
    import time
    from dataclasses import replace

    from domain_electra.corpus import pipeline
    from domain_electra.corpus.pipeline import Processor

    config, local_dir, local = planted_local
    process = Processor.process

    def slow_apache(self, src, index=0):
        if src.path.endswith("b_Apache-2.0.txt"):
            time.sleep(4)  # the other worker meanwhile reads every later source
        yield from process(self, src, index)

    monkeypatch.setattr(Processor, "process", slow_apache)  # forked workers inherit the patch
    if not held_in_memory:
        monkeypatch.setattr(pipeline, "ORDER_MEMORY_BYTES", 0)
    stats = build_corpus(replace(config, workers=2), tmp_path / "two", progress=False)
    assert _rows(tmp_path / "two") == _rows(local_dir)  # the same documents, texts and order in each split
    for key in ("documents", "inputs", "bytes", "languages", "duplicate_rate", "failures"):
        assert stats[key] == local[key], key  # drop counts too: an exact copy is exact whoever read it


def test_streamed_key_rows_and_sub_buckets_give_the_same_answer(planted_local, tmp_path, monkeypatch):
    """Stage 1 flushes its key rows every few records and stage 2 sorts one sub-bucket at a time (what keeps
    a task's memory flat at scale): forced to 3-record flushes and 4+ sub-buckets, nothing changes."""
    from domain_electra.corpus import cluster

    config, local_dir, local = planted_local
    monkeypatch.setattr(cluster, "FLUSH_RECORDS", 3)
    monkeypatch.setattr(cluster, "SUB_BUCKET_BYTES", 40_000)  # the planted corpus is ~0.4 MB: 4+ per task
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=3, workers=1)  # in-process: patches apply
    work = tmp_path / "dt" / "_datatrove"
    subs = json.loads((work / "parts" / "00000.jsonl").read_text().splitlines()[0])["sub_buckets"]
    assert subs >= 4 and len(list((work / "collisions").glob("00001-*.bands.npy"))) == subs
    assert not list(work.rglob("*.tmp"))
    assert _rows(tmp_path / "dt") == _rows(local_dir)
    assert stats["documents"] == local["documents"] and stats["edits"] == local["edits"]


def test_distributed_dedup_without_bloom_filters_matches_the_in_memory_local_index(planted_local, tmp_path,
                                                                                 monkeypatch):
    import sys

    from domain_electra.corpus.build import bloom_backend

    config, _, _ = planted_local
    monkeypatch.setitem(sys.modules, "pybloomfilter", None)  # datasketch's MinHashLSH, exact band bytes
    assert not bloom_backend()
    local = build_corpus(config, tmp_path / "local", progress=False)
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=3, workers=1)  # in-process: no Bloom either
    assert _rows(tmp_path / "dt") == _rows(tmp_path / "local")
    assert stats["documents"] == local["documents"] and local["documents"]["dropped"]["near_duplicate"] >= 3


def _small_corpus(root, n=6):
    rng = random.Random(3)
    src = root / "src"
    src.mkdir()
    texts = [" ".join(rng.choice(WORDS) for _ in range(120)) for _ in range(n)]
    for i, text in enumerate(texts):
        (src / f"d{i}.txt").write_text(text)
    (src / "e_copy.txt").write_text(texts[0])
    return CorpusConfig(domain="legal", sources=[str(src)], min_chars=50, decontaminate=False)


@pytest.mark.timeout(120)
def test_a_failing_task_is_one_line_not_a_hang(tmp_path, monkeypatch):
    import pickle
    import shutil

    from domain_electra.corpus import cluster_dedup
    from domain_electra.errors import UserError

    config = _small_corpus(tmp_path)
    out = tmp_path / "dt"
    assert build_corpus_datatrove(config, out, tasks=2, workers=2)["documents"]["kept"] == 6
    work = out / "_datatrove"
    marker = tmp_path / "pwned"
    planted = work / "buckets" / "00001" / "00000-000.npy"
    good = planted.read_bytes()
    planted.write_bytes(pickle.dumps(_Planted(marker)))
    shutil.rmtree(work / "logs" / "buckets")  # rerun stage 2 (stage 1 is complete and is skipped)
    with pytest.raises(UserError, match=r"00000-000.npy is not a corpus scratch array .*rerun stage 'process'") as err:
        build_corpus_datatrove(config, out, tasks=2, workers=2)  # in a pool worker
    assert "\n" not in str(err.value) and not marker.exists()

    def boom(rows):
        raise RuntimeError("disk on fire\nsecond line")

    planted.write_bytes(good)
    shutil.rmtree(work / "logs" / "buckets")  # both tasks run again
    monkeypatch.setattr(cluster_dedup, "collisions", boom)
    with pytest.raises(UserError, match=r"datatrove stage 'buckets' failed: RuntimeError: disk on fire second line "
                                        r"\(task logs in .*buckets") as err:
        build_corpus_datatrove(config, out, tasks=2, workers=1)  # in this process, so the patch applies
    assert "\n" not in str(err.value)


def _python_blocks(text: str) -> list[str]:
    import re
    import textwrap

    fenced = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    indented = re.findall(r"::\n\n((?:    .*\n|\n)+)", text)  # a docstring's literal block
    return [b for b in fenced + [textwrap.dedent(b) for b in indented] if "SlurmPipelineExecutor" in b]


def test_slurm_examples_in_readme_and_docstring_name_real_pipelines(monkeypatch):
    import inspect
    from pathlib import Path

    import datatrove.executor

    from domain_electra.corpus import cluster

    real = inspect.signature(datatrove.executor.SlurmPipelineExecutor.__init__)
    made = []

    class FakeSlurm:  # checks the arguments against the real executor, builds nothing on Slurm
        def __init__(self, *args, **kwargs):
            real.bind(self, *args, **kwargs)
            assert all(callable(step) for step in kwargs["pipeline"]) and kwargs["pipeline"]
            self.kwargs = kwargs
            made.append(self)

        def run(self):
            self.ran = True

    monkeypatch.setattr(datatrove.executor, "SlurmPipelineExecutor", FakeSlurm)
    monkeypatch.setattr(cluster, "piece_table", lambda config: {})  # the examples' /data folders are not here
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = _python_blocks(readme) + _python_blocks(cluster.__doc__)
    assert len(blocks) == 2
    for block in blocks:
        made.clear()
        exec(compile(block, "<example>", "exec"), {})
        names = [step.func.__name__ for ex in made for step in ex.kwargs["pipeline"]]
        assert names == ["process_task", "buckets_task", "cluster_task", "write_task", "finish_task"]
        tasks = [ex.kwargs["tasks"] for ex in made]
        assert tasks[0] == tasks[1] == tasks[3] and tasks[2] == tasks[4] == 1
        assert [ex.kwargs.get("depends") for ex in made] == [None, *made[:-1]] and getattr(made[-1], "ran", False)


# ----------------------------------------------------------------------------- large JSONL files as pieces
def _one_big_jsonl(root) -> CorpusConfig:
    """One JSONL file of real licence paragraphs, each three times (exact duplicates across pieces)."""
    from pathlib import Path

    licences = Path("/usr/share/common-licenses")
    if not licences.is_dir():
        pytest.skip("needs Debian's /usr/share/common-licenses")
    paragraphs = [p.strip() for f in sorted(licences.iterdir()) if f.is_file()
                  for p in f.read_text(errors="ignore").split("\n\n") if len(p.strip()) > 300][:300]
    path = root / "export.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for _ in range(3) for t in paragraphs))
    return CorpusConfig(domain="legal", sources=[str(path)], decontaminate=False)


def test_one_large_jsonl_file_spreads_over_the_tasks_and_keeps_the_local_documents(tmp_path, monkeypatch):
    from domain_electra.corpus import cluster, readers

    monkeypatch.setattr(readers.split_source, "__defaults__", (60_000,))
    config = _one_big_jsonl(tmp_path)
    table = cluster.piece_table(config)
    assert len(table) == 1 and len(next(iter(table.values()))[1]) > 6
    local = build_corpus(config, tmp_path / "local", progress=False)
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=3, workers=1)
    parts = sorted((tmp_path / "dt" / "_datatrove" / "parts").glob("*.jsonl"))
    records = [sum(len(json.loads(line)["records"]) for line in open(p).readlines()[1:]) for p in parts]
    assert len(records) == 3 and min(records) > 100, records  # every task read pieces of the one file
    assert stats["documents"] == local["documents"] and stats["inputs"] == local["inputs"]
    assert stats["inputs"]["sources_read"] == 1
    rows = {name: [(r["source"], r["text"]) for split in ("train", "validation")
                   for r in read_shards(tmp_path / name, split, ("source", "text"))] for name in ("local", "dt")}
    assert rows["dt"] == rows["local"]  # the same documents, "file:LINE" sources and order


def test_a_file_whose_pieces_fail_in_several_tasks_is_one_failed_source(tmp_path, monkeypatch):
    """Fault injection: every piece raises in its reader, the pieces lying in both tasks."""
    from domain_electra.corpus import readers

    monkeypatch.setattr(readers.split_source, "__defaults__", (60_000,))
    config = _one_big_jsonl(tmp_path)
    good = tmp_path / "good.txt"
    good.write_text("A plain paragraph of ordinary English text about a court ruling on contracts. " * 10)

    def broken(*args, **kwargs):
        raise RuntimeError("planted reader fault")
        yield

    monkeypatch.setattr(readers, "read_jsonl", broken)
    config = CorpusConfig(domain="legal", sources=[*config.sources, str(good)], decontaminate=False,
                          max_failed_share=1.0)
    stats = build_corpus_datatrove(config, tmp_path / "dt", tasks=2, workers=1)  # in this process: patched
    assert stats["failures"]["failed"] == 1 and stats["inputs"]["sources_read"] == 2, stats["failures"]
    assert stats["failures"]["reasons"]["unreadable"] > 6  # each piece reported its error


def test_a_file_changed_since_the_pipelines_were_built_is_refused(tmp_path):
    from domain_electra.corpus.cluster import with_pieces
    from domain_electra.corpus.readers import Source
    from domain_electra.errors import UserError

    table = {"/x.jsonl": [100, [[0, 60, 1], [60, 100, 7]]]}
    pieces = with_pieces([Source("file", "/x.jsonl", 100)], table)
    assert [(p.size, p.piece.first_line, p.piece.last) for p in pieces] == [(60, 1, False), (40, 7, True)]
    with pytest.raises(UserError, match=r"/x.jsonl is 120 bytes, not the 100 .* rerun stage 'process'"):
        with_pieces([Source("file", "/x.jsonl", 120)], table)
