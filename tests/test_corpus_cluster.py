"""The datatrove path: the same pipeline as datatrove steps on LocalPipelineExecutor with several tasks."""
from __future__ import annotations

import json
import random

import pytest

from domain_electra.corpus import CorpusConfig, build_corpus, read_shards

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

    from domain_electra.corpus.cluster import merge_task, process_task
    from domain_electra.errors import UserError
    from domain_electra.config import to_dict

    rng = random.Random(1)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"d{i}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(120)))
    config = to_dict(CorpusConfig(domain="legal", sources=[str(src)], min_chars=50, decontaminate=False))
    work, parts = tmp_path / "work", tmp_path / "work" / "parts"
    for rank in (0, 1):
        process_task(None, rank, 2, config=config, work_dir=str(work))
    assert sorted(p.name for p in parts.iterdir()) == ["00000.jsonl", "00001.jsonl", "decontamination.json"]
    for part in parts.glob("*.jsonl"):  # every line is JSON: nothing in a part can run code when read
        assert all(json.loads(line) for line in part.read_text().splitlines())
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    (parts / "00000.pkl").write_bytes(payload)  # the old part name: ignored
    merge_task(None, 0, 1, config=config, work_dir=str(work), out=str(tmp_path / "out"))
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["documents"]["kept"] == 4
    assert not marker.exists()
    (parts / "00002.jsonl").write_bytes(payload)  # a pickle under a part's name: refused, not run
    with pytest.raises(UserError, match="00002.jsonl is not a corpus part"):
        merge_task(None, 0, 1, config=config, work_dir=str(work), out=str(tmp_path / "out2"))
    assert not marker.exists() and not (tmp_path / "out2").exists()
    (parts / "00002.jsonl").unlink()
    (parts / "00001.jsonl").unlink()  # a task whose part is missing: its sources would vanish silently
    with pytest.raises(UserError, match=r"incomplete: tasks \[1\] of 2 missing"):
        merge_task(None, 0, 1, config=config, work_dir=str(work), out=str(tmp_path / "out3"))


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
