"""The datatrove path: the same pipeline as datatrove steps on LocalPipelineExecutor with several tasks."""
from __future__ import annotations

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
