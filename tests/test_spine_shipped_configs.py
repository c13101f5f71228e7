"""Every shipped config loads: corpus recipes into CorpusConfig, suites into a Suite of registered or declared tasks."""
from pathlib import Path

import pytest

from domain_electra.config import load_config
from domain_electra.corpus import CorpusConfig
from domain_electra.evaluation.suite import load_suite
from domain_electra.registry import get_domain

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("path", sorted((REPO / "corpora").glob("*.yaml")), ids=lambda p: p.name)
def test_corpus_recipe_loads(path):
    config = load_config(CorpusConfig, path)
    assert get_domain(config.domain).name == path.stem and config.sources


@pytest.mark.parametrize("path", sorted((REPO / "evals").glob("*.yaml")), ids=lambda p: p.name)
def test_suite_loads(path):
    from domain_electra.evaluation.bench import _finetune_config

    suite = load_suite(path)
    assert suite.tasks and all(st.task in get_domain(st.domain).eval_tasks for st in suite.tasks if st.domain)
    assert all(_finetune_config(suite, st, {}, 0).epochs >= 1 for st in suite.tasks)  # budgets are valid values


def test_a_shipped_suite_mixes_domains():
    suite = load_suite(REPO / "evals" / "cross-domain.yaml")
    assert suite.name == "cross-domain" and suite.domain is None
    assert [st.domain for st in suite.tasks] == ["medical", "finance", "legal"]


def test_every_domain_has_a_corpus_recipe_and_a_suite():
    for name in ("code", "legal", "medical", "finance"):
        assert (REPO / "corpora" / f"{name}.yaml").is_file() and (REPO / "evals" / f"{name}.yaml").is_file()
