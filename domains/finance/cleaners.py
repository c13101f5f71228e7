"""Corpus cleaners of this domain (placeholder until the corpus work lands)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from domain_electra.domain import Step


def make_cleaners(options: Mapping[str, Any]) -> Sequence[Step]:
    return []
