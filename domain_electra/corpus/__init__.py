"""Corpus building: private text in; cleaned, deduplicated, decontaminated Parquet shards out.

    from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
    stats = build_corpus(CorpusConfig(domain="legal", sources=["contracts/"]), Path("corpus"))
    for row in read_shards("corpus", "train"): ...
"""
from .build import CorpusConfig, build_corpus
from .writer import read_shards

__all__ = ["CorpusConfig", "build_corpus", "read_shards"]
