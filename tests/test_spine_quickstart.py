"""A tiny quickstart-shaped run: every stage on real standard-library code, then a resume that skips them all."""
import json
import shutil
import sysconfig
from pathlib import Path

import pytest
import torch
import yaml

from domain_electra.config import from_dict, read_yaml
from domain_electra.evaluation.suite import load_suite
from domain_electra.pipeline import QUICKSTART_SUITE, Recipe, quickstart_recipe, run_recipe

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_code_folder(tmp_path: Path) -> Path:
    """40 real standard-library modules (sorted, so the test is deterministic)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    src = tmp_path / "src"
    src.mkdir()
    files = sorted(p for p in stdlib.glob("*.py") if 2_000 < p.stat().st_size < 60_000)[:40]
    for path in files:
        shutil.copy(path, src / path.name)
    return src


def tiny_recipe(tmp_path: Path, src: Path) -> dict:
    return {
        "domain": "code",
        "out": str(tmp_path / "run"),
        "corpus": {"sources": [str(src)], "workers": 1, "decontaminate": False, "val_fraction": 0.1},
        "tokenizer": {"vocab_size": 1200},
        "pack": {"seq_len": 64},
        "pretrain": {"init": "scratch:micro", "max_steps": 6, "batch_size": 8, "eval_every": 3, "save_every": 3,
                     "warmup_steps": 2, "eval_batches": 1, "seed": 0, "device": "cpu"},
        "baseline": {"max_steps": 0},
        "bench": {"suite": str(REPO / "evals" / "code-docstring.yaml"), "limit": 48, "seeds": 1, "bootstrap": 50,
                  "finetune": {"epochs": 1, "batch_size": 16, "max_length": 48, "device": "cpu"}},
    }


def test_tiny_quickstart_shaped_run_then_resume(tmp_path):
    recipe = from_dict(Recipe, tiny_recipe(tmp_path, small_code_folder(tmp_path)))
    folders = {name: result.path for name, result in run_recipe(recipe, progress=False).items()}
    run = tmp_path / "run"
    assert set(folders) == {"corpus", "tokenizer", "tokens", "pretrain", "baseline", "bench"}
    for stage in folders.values():
        manifest = json.loads((stage / "manifest.json").read_text())
        assert manifest["status"] == "complete" and (stage / "config.yaml").is_file()
    assert list((run / "corpus").glob("train-*.parquet")) and (run / "corpus" / "stats.json").is_file()
    assert (run / "tokenizer" / "tokenizer.json").is_file()
    assert json.loads((run / "tokens" / "meta.json").read_text())["seq_len"] == 64

    metrics = [json.loads(line) for line in (run / "pretrain" / "metrics.jsonl").read_text().splitlines()]
    train_losses = [m["gen_loss"] for m in metrics if m["split"] == "train"]
    assert train_losses and all(loss == loss and loss < 100 for loss in train_losses)  # finite
    pretrain_config = yaml.safe_load((run / "pretrain" / "config.yaml").read_text())
    assert pretrain_config["span_masking"] is True  # the code domain's masking policy (AST spans) is the default
    for model in ("pretrain", "baseline"):
        assert (run / model / "discriminator" / "config.json").is_file()

    results = json.loads((run / "bench" / "results.json").read_text())
    assert {r["model"] for r in results["rows"]} >= {"untrained", "adapted"}
    assert all(0.0 <= r["score"] <= 1.0 for r in results["rows"])
    assert (run / "bench" / "report.md").is_file() and list((run / "bench").glob("*.png"))
    assert (run / "recipe.yaml").is_file()

    again = run_recipe(recipe, progress=False)  # everything complete: every stage is skipped
    assert set(again) == set(folders) and all(result.skipped for result in again.values())


def test_quickstart_recipe_is_a_valid_recipe(tmp_path):
    recipe = from_dict(Recipe, quickstart_recipe(tmp_path / "qs", minutes=3.0))
    assert recipe.domain == "code" and recipe.pretrain["max_minutes"] == 3.0
    assert Path(recipe.corpus["sources"][0]).is_dir()
    # The suite travels with the package (an installed wheel has no evals/ folder) and equals the shipped file.
    suite = Path(recipe.bench["suite"])
    assert suite.parent == tmp_path / "qs" and load_suite(suite).tasks[0].task.name == "stdlib-docstring-retrieval"
    assert read_yaml(suite) == QUICKSTART_SUITE == read_yaml(REPO / "evals" / "code-docstring.yaml")
    stamp = suite.stat().st_mtime_ns
    quickstart_recipe(tmp_path / "qs", minutes=3.0)
    assert suite.stat().st_mtime_ns == stamp  # not rewritten: a rerun finds every stage unchanged
