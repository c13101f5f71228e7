"""`domain-electra run RECIPE.yaml` and the quickstart: chain the stages, resume where a run stopped.

A recipe names the domain, an output folder, and one section per stage (the keys of that stage's
config). Each stage writes `<out>/<stage>/`; a complete stage is skipped, so rerunning after an
interruption continues with the first unfinished stage (pretraining resumes from its last checkpoint).
"""
from __future__ import annotations

import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from rich.console import Console

from . import stages
from .artifacts import StageResult
from .config import apply_overrides, from_dict, read_yaml, to_dict
from .errors import UserError

console = Console()


@dataclass(frozen=True)
class Recipe:
    """A whole run. Every section holds the keys of that stage's config.

    domain: domain name or plugin path.  out: folder that receives one sub-folder per stage.
    corpus: CorpusConfig keys (sources, workers, ...).  tokenizer: TokenizerTrainConfig keys, or omit
    it to use the `pretrain.init` checkpoint's own tokenizer.  pack: PackConfig keys (seq_len, ...).
    pretrain: PretrainConfig keys.  baseline: extra PretrainConfig keys for an untrained twin of the
    model (same init, 0 steps) that the benchmark compares against; omit to skip it.
    bench: BenchConfig keys (suite, limit, seeds, models: {name: path} of further baselines); omit to
    stop after pretraining.
    """

    domain: str
    out: str
    corpus: dict = field(default_factory=dict)
    tokenizer: Optional[dict] = None
    pack: dict = field(default_factory=dict)
    pretrain: dict = field(default_factory=dict)
    baseline: Optional[dict] = None
    bench: Optional[dict] = None


def load_recipe(path: Path | str, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    data = apply_overrides(read_yaml(path), overrides)
    recipe = from_dict(Recipe, data)
    _stage_configs(recipe)  # check every section now, not after an hour of pretraining
    return recipe


def _stage_configs(recipe: Recipe) -> dict[str, Any]:
    configs: dict[str, Any] = {
        "corpus": from_dict(stages.config_class("corpus"), {"domain": recipe.domain, **recipe.corpus}, "corpus"),
        "pack": from_dict(stages.config_class("pack"), dict(recipe.pack), "pack"),
        "pretrain": from_dict(stages.config_class("pretrain"),
                              {**stages.masking_defaults(recipe.domain), **recipe.pretrain}, "pretrain"),
    }
    if recipe.tokenizer is not None:
        configs["tokenizer"] = from_dict(stages.config_class("tokenizer"),
                                         {"domain": recipe.domain, **recipe.tokenizer}, "tokenizer")
    if recipe.baseline is not None:
        configs["baseline"] = from_dict(stages.config_class("pretrain"), {
            **stages.masking_defaults(recipe.domain), **recipe.pretrain, **recipe.baseline}, "baseline")
    if recipe.bench is not None:
        bench = dict(recipe.bench)
        bench.setdefault("models", {})
        configs["bench"] = bench
    return configs


def run_recipe(recipe: Recipe, progress: bool = True) -> dict[str, StageResult]:
    """Run the recipe's stages in order; returns each stage's result (folder, skipped, manifest)."""
    from .registry import get_domain

    get_domain(recipe.domain)
    configs = _stage_configs(recipe)
    out = Path(recipe.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.yaml").write_text(yaml.safe_dump(to_dict(recipe), sort_keys=False), encoding="utf-8")
    done: dict[str, StageResult] = {}

    def step(name: str, fn, *args) -> Path:
        console.rule(f"[bold]{name}")
        result = fn(*args)
        state = "up to date, skipped" if result.skipped else f"done in {result.manifest['seconds']:.1f}s"
        console.print(f"[green]{name}[/green] -> {result.path} ({state})")
        done[name] = result
        return result.path

    corpus = step("corpus", stages.corpus_stage, configs["corpus"], out / "corpus", False, progress)
    if "tokenizer" in configs:
        tokenizer = step("tokenizer", stages.tokenizer_stage, configs["tokenizer"], corpus, out / "tokenizer", False,
                         progress)
    else:
        init = Path(str(configs["pretrain"].init))
        if not init.is_dir():
            raise UserError("the recipe has no `tokenizer:` section and pretrain.init is not a local folder; "
                            "add a tokenizer section or point init at a checkpoint folder")
        tokenizer = init
    tokens = step("tokens", stages.pack_stage, configs["pack"], corpus, tokenizer, out / "tokens", False, progress)
    pretrained = step("pretrain", stages.pretrain_stage, configs["pretrain"], tokens, out / "pretrain", False, progress)
    if "baseline" in configs:
        step("baseline", stages.pretrain_stage, configs["baseline"], tokens, out / "baseline", False, progress)
    if "bench" in configs:
        bench = dict(configs["bench"])
        models = {}
        if "baseline" in done:
            models["untrained"] = str(done["baseline"].path / "discriminator")
        models.update(bench.pop("models"))
        models["adapted"] = str(pretrained / "discriminator")
        bench_config = from_dict(stages.config_class("bench"), {**bench, "models": models}, "bench")
        step("bench", _bench_stage, bench_config, out / "bench", progress)
    return done


def _bench_stage(config: Any, out: Path, progress: bool):
    from .artifacts import run_stage
    from .evaluation import run_bench

    inputs = {name: path for name, path in config.models.items() if Path(path).exists()}
    return run_stage("bench", out, config, inputs, lambda folder: run_bench(config, folder, progress=progress))


# The quickstart's suite, embedded so that the quickstart runs from an installed wheel too (no repository
# checkout); evals/code-docstring.yaml is the same suite for `bench` users (a test keeps the two equal).
QUICKSTART_SUITE = {
    "domain": "code",
    "description": "Docstring -> function retrieval (stdlib), LoRA bi-encoder.",
    "finetune": {"method": "lora", "epochs": 2, "batch_size": 32, "max_length": 96, "patience": 2},
    "tasks": [{"task": "stdlib-docstring-retrieval"}],
}


def _write_quickstart_suite(out: Path) -> Path:
    import yaml

    suite = Path(out) / "quickstart-suite.yaml"
    text = "# The quickstart's suite (domain_electra.pipeline.QUICKSTART_SUITE).\n" + yaml.safe_dump(
        QUICKSTART_SUITE, sort_keys=False)
    if not suite.is_file() or suite.read_text(encoding="utf-8") != text:
        suite.parent.mkdir(parents=True, exist_ok=True)
        suite.write_text(text, encoding="utf-8")
    return suite


def quickstart_recipe(out: Path, minutes: float | None = None, init: str = "scratch:tiny") -> dict:
    """The embedded default: real code (this machine's Python standard library), end to end on a CPU.

    From a real checkpoint (a folder or hub id): continued pretraining with the checkpoint's own tokenizer,
    then the checkpoint itself (`base`) against the adapted model. From `scratch:PRESET`: a code tokenizer
    is trained and the pretrained model is compared with its untrained twin. Writes the quickstart suite
    into `out` (unchanged when it is already there)."""
    suite = _write_quickstart_suite(out)
    stdlib = sysconfig.get_paths()["stdlib"]
    recipe = {
        "domain": "code",
        "out": str(out),
        "corpus": {"sources": [stdlib], "max_docs": 600, "workers": 2, "decontaminate": True},
        "pack": {"seq_len": 128},
        "bench": {"suite": str(suite), "limit": 800, "seeds": 1},
    }
    if init.startswith("scratch:"):
        recipe["tokenizer"] = {"vocab_size": 8000}
        recipe["pretrain"] = {"init": init, "max_minutes": 3.0 if minutes is None else minutes, "batch_size": 32,
                              "lr": 1e-3, "warmup_steps": 50, "eval_every": 100, "save_every": 200, "seed": 0}
        recipe["baseline"] = {"max_steps": 0}
        return recipe
    # Continued pretraining: a small learning rate, so a few hundred steps adapt the checkpoint
    # instead of overwriting what it knows; the anchor keeps its pooled (retrieval) embeddings where they
    # were. anchor_weight 1000 had the best dev MRR of 0 / 10 / 100 / 1000 (benchmarks/RESULTS.md,
    # "Anchoring the pooled embedding"); without it the adapted model lost 0.15 MRR@10.
    recipe["pretrain"] = {"init": init, "max_minutes": 4.0 if minutes is None else minutes, "batch_size": 32,
                          "lr": 1e-4, "warmup_steps": 20, "eval_every": 50, "save_every": 100, "seed": 0,
                          "anchor_weight": 1000.0}
    recipe["bench"]["models"] = {"base": init}
    return recipe


def _one_sentence(results: dict) -> str:
    """What the adapted-vs-reference number means, in one sentence."""
    rows = [r for r in results["summary"] if r["model"] == "adapted" and r["delta"] is not None]
    if not rows:
        return "No comparison was made (the bench ran one model only)."
    rec = rows[0]
    reference = list(results["models"])[0]
    number = (f"adapted {rec['metric']} {rec['mean']:.3f}, {rec['delta']:+.3f} against {reference} "
              f"[95% CI {rec['ci_low']:+.3f}, {rec['ci_high']:+.3f}]")
    if rec["ci_low"] > 0:
        return f"{number}: continued pretraining on the standard library helped beyond the interval's noise."
    if rec["ci_high"] < 0:
        return (f"{number}: the adapted model is worse than {reference} beyond noise; this budget or recipe "
                "hurt it (try more --minutes or a GPU before drawing conclusions).")
    return (f"{number}: no difference beyond noise; this short budget neither helped nor hurt measurably "
            "(more --minutes or a GPU are needed to show a gain).")


def quickstart(out: Path, minutes: float | None = None, overrides: list[str] | tuple[str, ...] = (),
               init: str = "scratch:tiny") -> dict[str, StageResult]:
    """Run the quickstart recipe and print where everything landed and what the number means."""
    import json

    from .checkpoints import resolve_init

    recipe = from_dict(Recipe, apply_overrides(quickstart_recipe(Path(out), minutes, resolve_init(init)), overrides))
    done = run_recipe(recipe)
    bench = done["bench"].path
    results = json.loads((bench / "results.json").read_text())
    if done["bench"].skipped:  # a fresh bench prints its own table
        from .evaluation.report import print_table

        print_table(results)
    console.rule("[bold]quickstart done")
    console.print(_one_sentence(results), highlight=False)
    console.print(f"recipe (edit it, rerun with `domain-electra run`): {Path(out) / 'recipe.yaml'}")
    console.print(f"pretraining curves: {done['pretrain'].path / 'curves.png'}")
    console.print(f"results: {bench / 'results.json'}\nreport:  {bench / 'report.md'}")
    for png in sorted(bench.glob("*.png")):
        console.print(f"plot:    {png}")
    return done
