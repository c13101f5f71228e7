"""`data:` corpus sources: a folder under the data root (the config's data_dir, else $DOMAIN_ELECTRA_DATA, else
../shared/data), so a shipped recipe builds from any working directory; `task:` sources load from the same root."""
from __future__ import annotations

from pathlib import Path

import pytest

from domain_electra import stages
from domain_electra.config import read_yaml
from domain_electra.corpus import CorpusConfig, build_corpus, read_shards
from domain_electra.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TEXT = "Minutes of the meeting: the committee decided to keep the target range for the federal funds rate.\n"


def _data_root(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    (root / "finance" / "minutes").mkdir(parents=True)
    (root / "finance" / "minutes" / "m1.txt").write_text(TEXT)
    return root


def _build(config: CorpusConfig, out: Path) -> list[str]:
    build_corpus(config, out, progress=False)
    return [row["text"] for row in read_shards(out)]


def test_data_source_resolves_under_the_environment_root_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAIN_ELECTRA_DATA", str(_data_root(tmp_path, "env-root")))
    monkeypatch.chdir(tmp_path / "env-root" / "finance")  # ../shared/data does not exist from here
    config = CorpusConfig(domain="finance", sources=["data:finance/minutes"], min_chars=20, languages=[],
                          val_fraction=0.0, decontaminate=False)
    stages.check_sources(config.sources, config.data_dir)
    assert _build(config, tmp_path / "out") == [TEXT.strip()]


def test_the_config_data_dir_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAIN_ELECTRA_DATA", str(tmp_path / "nowhere"))
    root = _data_root(tmp_path, "config-root")
    config = CorpusConfig(domain="finance", sources=["data:finance/minutes"], min_chars=20, languages=[],
                          val_fraction=0.0, decontaminate=False, data_dir=str(root))
    assert len(_build(config, tmp_path / "out")) == 1


def test_a_missing_data_source_names_the_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("DOMAIN_ELECTRA_DATA", str(tmp_path))
    with pytest.raises(UserError, match=r"source data:finance/absent: .*absent does not exist; set \$DOMAIN_ELECTRA_DATA"):
        stages.check_sources(["data:finance/absent"])
    config = CorpusConfig(domain="finance", sources=["data:finance/absent"], min_chars=20, languages=[])
    with pytest.raises(UserError, match="DOMAIN_ELECTRA_DATA"):
        build_corpus(config, tmp_path / "out", progress=False)


PLUGIN = '''
from domain_electra.domain import Domain, EvalTask, MaskingPolicy, TaskData, TokenizerRecipe

def load(data_dir=None, **options):
    return TaskData(train=[{"text": f"train text loaded from root {data_dir} " * 4, "label": 0}], dev=[],
                    test={"en": []})

DOMAIN = Domain(name="toyroot", description="test domain", languages=("en",), cleaners=lambda options: [],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(),
                eval_tasks=(EvalTask("clauses", "classification", "", load),), examples=())
'''


def test_task_sources_load_from_the_config_data_dir(tmp_path):
    plugin = tmp_path / "toyroot.py"
    plugin.write_text(PLUGIN)
    config = CorpusConfig(domain=str(plugin), sources=[f"task:{plugin}/clauses"], min_chars=20, languages=[],
                          val_fraction=0.0, decontaminate=False, data_dir=str(tmp_path / "my-data"))
    [text] = _build(config, tmp_path / "out")
    assert f"root {tmp_path / 'my-data'} " in text  # was: the loader got None and read the default root


@pytest.mark.parametrize("recipe", sorted((REPO / "corpora").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_recipes_find_their_sources_from_another_directory(recipe, tmp_path, monkeypatch):
    shared = (REPO.parent / "shared" / "data").resolve()
    if not shared.is_dir():
        pytest.skip("../shared/data is not beside the checkout")
    monkeypatch.setenv("DOMAIN_ELECTRA_DATA", str(shared))
    monkeypatch.chdir(tmp_path)
    sources = read_yaml(recipe)["sources"]
    assert not [s for s in sources if "shared/data" in s]  # cwd-relative data paths break outside the repo
    stages.check_sources(sources)
