"""Fine-tuning: every task kind on tiny seeded models, adapter reload / merge identity, bad inputs."""
from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
import torch

from domain_electra.domain import EvalTask, TaskData
from domain_electra.errors import UserError
from domain_electra.finetune import FinetuneConfig, finetune, load_finetuned, merge_adapter
from domain_electra.finetune.batches import encode_texts, limit_data
from domain_electra.finetune.models import load_base, load_tokenizer

WORDS = ("profit loss revenue rises falls stock market bank rate cut hike bullish bearish neutral "
         "def return max min self value list dict sort key open file read write close parse json "
         "disease patient cancer gene mutation therapy trial dose").split()


def make_tokenizer(folder: Path) -> None:
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    backend = BertWordPieceTokenizer(lowercase=True)
    corpus = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(len(WORDS))] + ["( ) : , . = [ ] _ < >"]
    backend.train_from_iterator(corpus, vocab_size=300, min_frequency=1)
    BertTokenizerFast(tokenizer_object=backend._tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                      sep_token="[SEP]", mask_token="[MASK]").save_pretrained(str(folder))


def make_tiny_electra(folder: Path, seed: int = 0, with_generator: bool = False) -> Path:
    """A 2-layer, hidden-32 ELECTRA pretraining export (discriminator [+ generator] folders)."""
    from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

    torch.manual_seed(seed)
    disc = folder / "discriminator" if with_generator else folder
    disc.mkdir(parents=True, exist_ok=True)
    make_tokenizer(disc)
    vocab = len(load_tokenizer(disc).hf)
    config = ElectraConfig(vocab_size=vocab, embedding_size=32, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    ElectraForPreTraining(config).save_pretrained(str(disc))
    if with_generator:
        gen = folder / "generator"
        gen.mkdir(exist_ok=True)
        for item in disc.iterdir():  # the same tokenizer files: retraining could order tied pieces differently
            if "token" in item.name or item.name == "vocab.txt":
                shutil.copy(item, gen / item.name)
        ElectraForMaskedLM(config).save_pretrained(str(gen))
    return disc


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_electra(tmp_path_factory.mktemp("tiny"))


def synthetic(kind: str, n: int = 48) -> tuple[EvalTask, TaskData]:
    """Learnable toy tasks: the label is carried by one keyword."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        label = i % 3
        filler = " ".join(rng.choice(WORDS[:12]) for _ in range(5))
        keyword = ("bullish", "bearish", "neutral")[label]
        if kind == "classification":
            rows.append({"text": f"{filler} {keyword}", "label": label})
        elif kind == "pair":
            rows.append({"text": filler, "text_pair": keyword, "label": label})
        elif kind == "multilabel":
            rows.append({"text": f"{filler} {keyword}", "label": sorted({label, (label + 1) % 3} if i % 2 else {label})})
        elif kind == "token":
            tokens = filler.split() + ["cancer", "gene"] + filler.split()[:2]
            rows.append({"tokens": tokens, "tags": ["O"] * 5 + ["B-Disease", "I-Disease", "O", "O"]})
        elif kind == "retrieval":
            rows.append({"query": f"{keyword} {WORDS[i % len(WORDS)]}", "document": f"def {WORDS[i % len(WORDS)]} return {keyword}"})
    labels = {"token": ("O", "B-Disease", "I-Disease"), "retrieval": ()}.get(kind, ("bullish", "bearish", "neutral"))
    data = TaskData(train=rows[:32], dev=rows[32:40], test={"en": rows[40:], "de": rows[40:44]}, labels=labels,
                    license="test")
    metric = {"multilabel": "micro_f1", "token": "f1", "retrieval": "mrr@10"}.get(kind, "accuracy")
    task = EvalTask(name=f"toy-{kind}", kind=kind, description="toy", load=lambda *a, **k: data, metric=metric,
                    test_languages=("en", "de"))
    return task, data


FAST = FinetuneConfig(epochs=2, batch_size=8, max_length=24, lr=5e-3, patience=0)


@pytest.mark.parametrize("kind", ["classification", "pair", "multilabel", "token", "retrieval"])
def test_every_kind_trains_and_scores(tiny, tmp_path, kind):
    task, data = synthetic(kind)
    result = finetune(task, data, tiny, tmp_path / "ft", FAST, progress=False)
    assert set(result["test"]) == {"en", "de"}
    main = result["metric"]
    assert 0.0 <= result["test"]["en"][main] <= 1.0 and result["test"]["en"]["n"] == 8
    assert result["steps"] == 8  # 32 examples / batch 8 * 2 epochs
    assert len(result["history"]) == 2 and result["best_dev"] == max(h[f"dev_{main}"] for h in result["history"])
    assert 0 < result["trainable_params"] < result["total_params"]
    assert (tmp_path / "ft" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "ft" / "finetune.json").is_file()


def test_lora_trainable_parameter_count_is_pinned(tiny):
    task, data = synthetic("retrieval")
    result = finetune(task, data, tiny, None, FinetuneConfig(epochs=1, batch_size=8, max_length=16, r=4), progress=False)
    # 2 layers x (query, value) x (A: 4x32 + B: 32x4); a retrieval bi-encoder has no task head.
    assert result["trainable_params"] == 2 * 2 * (4 * 32 + 32 * 4)


def _logits(model, tok, rows):
    with torch.no_grad():
        return model(**encode_texts(tok, rows, "classification", 24)).logits


def test_adapter_reloads_to_identical_logits_and_merges(tiny, tmp_path):
    task, data = synthetic("classification")
    finetune(task, data, tiny, tmp_path / "ft", FAST, progress=False)
    tok = load_tokenizer(tmp_path / "ft")
    reloaded, info = load_finetuned(tmp_path / "ft")
    again, _ = load_finetuned(tmp_path / "ft")
    rows = data.test["en"]
    first = _logits(reloaded, tok, rows)
    assert torch.equal(first, _logits(again, tok, rows))  # the head came from the adapter, not a new init
    fresh = load_base(tiny, "classification", 3)
    assert not torch.allclose(first, _logits(fresh.eval(), tok, rows))
    merged_dir = merge_adapter(tmp_path / "ft", tmp_path / "merged")
    merged = load_base(merged_dir, "classification", 3).eval()
    assert torch.allclose(first, _logits(merged, tok, rows), atol=1e-5)
    assert info["method"] == "lora" and info["labels"] == ["bullish", "bearish", "neutral"]


def test_same_seed_same_result_other_seed_differs(tiny):
    task, data = synthetic("classification")
    a = finetune(task, data, tiny, None, FAST, progress=False)
    b = finetune(task, data, tiny, None, FAST, progress=False)
    c = finetune(task, data, tiny, None, FinetuneConfig(**{**FAST.__dict__, "seed": 1}), progress=False)
    assert a["history"] == b["history"] and a["predictions"] == b["predictions"]
    assert a["history"][0]["loss"] != c["history"][0]["loss"]


def test_full_finetuning_trains_every_weight(tiny, tmp_path):
    task, data = synthetic("classification")
    result = finetune(task, data, tiny, tmp_path / "full", FinetuneConfig(**{**FAST.__dict__, "method": "full"}),
                      progress=False)
    assert result["trainable_params"] == result["total_params"]
    model, _ = load_finetuned(tmp_path / "full")
    assert (tmp_path / "full" / "model.safetensors").is_file() and model.num_labels == 3


def test_early_stopping_stops_after_patience(tiny):
    task, data = synthetic("classification")
    config = FinetuneConfig(epochs=6, batch_size=8, max_length=24, lr=1e-12, patience=1, evals_per_epoch=2)
    result = finetune(task, data, tiny, None, config, progress=False)
    assert len(result["history"]) == 2  # the second evaluation did not improve: stop there
    assert result["steps"] == 4


def test_model_folder_without_weights_is_one_line_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    task, data = synthetic("classification")
    with pytest.raises(UserError, match="no weights"):
        finetune(task, data, tmp_path, None, FAST, progress=False)


def test_empty_split_after_limit_is_an_error(tiny):
    task, data = synthetic("classification")
    empty = TaskData(train=data.train, dev=[], test=data.test, labels=data.labels)
    with pytest.raises(UserError, match="no dev examples"):
        finetune(task, empty, tiny, None, FAST, progress=False)


def test_limit_is_a_seeded_sample_not_the_head():
    _, data = synthetic("classification")
    cut = limit_data(data, 5)
    assert len(cut.train) == 5 and cut.train != data.train[:5]
    assert cut.train == limit_data(data, 5).train and len(cut.test["de"]) == 4


def test_bad_config_values_are_user_errors():
    with pytest.raises(UserError):
        FinetuneConfig(method="qlora")
    with pytest.raises(UserError):
        FinetuneConfig(batch_size=0)


def test_unknown_lora_target_module_is_named(tiny):
    task, data = synthetic("classification")
    with pytest.raises(UserError, match="q_proj"):
        finetune(task, data, tiny, None, FinetuneConfig(target_modules=("q_proj",)), progress=False)


def test_evaluate_a_saved_adapter_reproduces_its_test_scores(tiny, tmp_path):
    from domain_electra.finetune import evaluate

    task, data = synthetic("token")
    result = finetune(task, data, tiny, tmp_path / "ft", FAST, progress=False)
    scores = evaluate(task, data, tmp_path / "ft", tmp_path / "eval", progress=False)
    assert scores == result["test"] and (tmp_path / "eval" / "eval.json").is_file()


def test_layers_truncates_the_encoder_and_the_adapter_reloads_on_it(tiny, tmp_path):
    from peft import PeftModel

    from domain_electra.finetune import evaluate
    from domain_electra.finetune.models import load_base, load_finetuned

    assert len(load_base(tiny, "token", 3, layers=1).electra.encoder.layer) == 1
    assert len(load_base(tiny, "token", 3).electra.encoder.layer) == 2
    task, data = synthetic("token")
    config = FinetuneConfig(**{**FAST.__dict__, "layers": 1})
    result = finetune(task, data, tiny, tmp_path / "ft", config, progress=False)
    model, info = load_finetuned(tmp_path / "ft")
    assert isinstance(model, PeftModel) and info["config"]["layers"] == 1
    assert len(model.base_model.model.electra.encoder.layer) == 1
    assert evaluate(task, data, tmp_path / "ft", progress=False) == result["test"]
    with pytest.raises(UserError, match="has 2 encoder layers"):
        load_base(tiny, "token", 3, layers=3)
    with pytest.raises(UserError, match="layers"):
        FinetuneConfig(layers=0)


def test_threshold_tuned_on_dev_hand_checked():
    from domain_electra.finetune.train import multilabel_pred, tune_threshold

    # Probabilities 0.3 / 0.18 for the gold labels, 0.1 elsewhere: 0.5 predicts nothing (F1 0), 0.20 misses
    # row 1, 0.05 adds every 0.1; 0.15 is the highest (nearest 0.5) threshold that gets F1 1.
    probs = torch.tensor([[0.3, 0.1, 0.1], [0.1, 0.18, 0.1], [0.1, 0.1, 0.1]])
    logits = torch.log(probs / (1 - probs))
    gold = [[0], [1], []]
    assert multilabel_pred(logits, 0.5) == [[], [], []]
    threshold, dev = tune_threshold(gold, logits, 3, "micro_f1")
    assert threshold == 0.15 and dev == 1.0
    assert multilabel_pred(logits, threshold) == [[0], [1], []]


def test_multilabel_threshold_is_kept_and_reused_by_evaluate(tiny, tmp_path):
    from domain_electra.finetune import evaluate

    task, data = synthetic("multilabel")
    result = finetune(task, data, tiny, tmp_path / "ft", FAST, progress=False)
    assert result["threshold"] in [h["threshold"] for h in result["history"]]
    assert all(0 < h["threshold"] < 1 for h in result["history"])
    again = evaluate(task, data, tmp_path / "ft", progress=False)
    assert again["en"] == result["test"]["en"]  # the saved threshold, not 0.5, scores the reloaded model
    fixed = finetune(task, data, tiny, None, FinetuneConfig(**{**FAST.__dict__, "threshold": 0.5}), progress=False)
    assert fixed["threshold"] == 0.5 and "threshold" not in fixed["history"][0]
    with pytest.raises(UserError, match="threshold"):
        FinetuneConfig(threshold=1.5)


def test_balanced_pos_weight_hand_checked_and_the_plain_loss_when_all_ones(tiny):
    import torch

    from domain_electra.finetune.models import Pooler, load_base, load_tokenizer
    from domain_electra.finetune.train import _forward_keys, label_pos_weight, train_loss

    rows = [{"label": [0]}, {"label": [0, 1]}, {"label": []}, {"label": []}]
    assert label_pos_weight(rows, 3).tolist() == [1.0, 3.0, 1.0]  # 2/2, 3/1, no positive -> 1
    assert label_pos_weight([{"label": [1]}] + [{"label": []}] * 499, 2).tolist() == [1.0, 100.0]  # capped
    task, data = synthetic("multilabel")
    torch.manual_seed(0)
    model, tok = load_base(tiny, "multilabel", 3), load_tokenizer(tiny)
    keys, batch, device = _forward_keys(model), data.train[:8], torch.device("cpu")
    plain = train_loss("multilabel", model, Pooler("mean"), tok, batch, FAST, data.labels, device, keys)
    ones = train_loss("multilabel", model, Pooler("mean"), tok, batch, FAST, data.labels, device, keys, torch.ones(3))
    heavy = train_loss("multilabel", model, Pooler("mean"), tok, batch, FAST, data.labels, device, keys,
                       torch.full((3,), 5.0))
    assert torch.allclose(plain, ones, atol=1e-6) and heavy > ones
    with pytest.raises(UserError, match="pos_weight"):
        FinetuneConfig(pos_weight="auto")


def test_balanced_pos_weight_makes_a_rare_label_fire(tiny):
    # A label on about 1 in 4 training sentences, one positive in the 8 test sentences: at this budget plain
    # BCE with a 0.5 cut never predicts it (micro-F1 0); "balanced" makes it fire.
    task, data = synthetic("multilabel")
    def rare(rows):
        return [{"text": r["text"], "label": [0] if "bullish" in r["text"] and i % 2 == 0 else []}
                for i, r in enumerate(rows)]
    data = type(data)(train=rare(data.train) * 2, dev=rare(data.dev), test={k: rare(v) for k, v in data.test.items()},
                      labels=data.labels, license="test")
    fixed = {**FAST.__dict__, "threshold": 0.5, "epochs": 3}
    plain = finetune(task, data, tiny, None, FinetuneConfig(**fixed), progress=False)
    balanced = finetune(task, data, tiny, None, FinetuneConfig(**{**fixed, "pos_weight": "balanced"}), progress=False)
    assert balanced["test"]["en"]["micro_f1"] > plain["test"]["en"]["micro_f1"]


def test_token_classification_learns_the_planted_entity(tiny):
    # Guards the word -> first-subword tag alignment and the seqeval path: a bug there leaves F1 at 0
    # however long one trains (as a too-small learning rate does; 5e-3 stays at 0 on this toy task).
    task, data = synthetic("token")
    config = FinetuneConfig(**{**FAST.__dict__, "epochs": 6, "lr": 2e-2})
    result = finetune(task, data, tiny, None, config, progress=False)
    assert result["history"][0]["dev_f1"] == 0.0 and result["best_dev"] == 1.0
    assert result["test"]["en"]["f1"] == 1.0 and result["test"]["de"]["f1"] == 1.0


def test_a_checkpoint_without_pooler_trains_its_pooler_and_reloads_identically(tmp_path):
    # Like multilingual-e5-small: a BERT checkpoint saved without the pooler that BertForSequenceClassification
    # reads. Under LoRA the fresh pooler must train (modules_to_save), or the head sees a frozen random projection.
    from transformers import BertConfig, BertModel

    folder = tmp_path / "nopooler"
    folder.mkdir()
    make_tokenizer(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(load_tokenizer(folder).hf), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config, add_pooling_layer=False).save_pretrained(str(folder))
    torch.manual_seed(FAST.seed)  # the pooler's random start, exactly as finetune() draws it
    model = load_base(folder, "classification", 3)
    assert model.fresh_modules == ["bert.pooler"]
    task, data = synthetic("classification")
    before = model.bert.pooler.dense.weight.detach().clone()
    result = finetune(task, data, folder, tmp_path / "ft", FAST, progress=False)
    assert result["trainable_params"] > 32 * 32  # the 32x32 pooler (+ head + adapters) is trained
    reloaded, _ = load_finetuned(tmp_path / "ft")
    pooler = dict(reloaded.named_parameters())["base_model.model.bert.pooler.modules_to_save.default.dense.weight"]
    assert not torch.allclose(pooler, before)  # it moved from its random start
    again, _ = load_finetuned(tmp_path / "ft")
    tok = load_tokenizer(tmp_path / "ft")
    assert torch.equal(_logits(reloaded, tok, data.test["en"]), _logits(again, tok, data.test["en"]))


# --- honest retrieval, zero-shot, regression, declared metrics ----------------------------------------------

def retrieval_rows(n: int, duplicate_every: int = 0) -> list[dict]:
    rows = []
    for i in range(n):
        name = f"{WORDS[i % len(WORDS)]}_{i}"
        document = "def same return value" if duplicate_every and i % duplicate_every == 0 else f"def {name} return key"
        rows.append({"query": f"{WORDS[(i * 7) % len(WORDS)]} {name}", "document": document})
    return rows


def test_candidate_pool_and_each_querys_rank_are_unchanged_by_limit(tiny):
    from domain_electra.finetune.batches import pool_sizes
    from domain_electra.finetune.models import Pooler
    from domain_electra.finetune.train import predict

    test = retrieval_rows(30, duplicate_every=5)  # rows 0, 5, ..., 25 share one document text
    data = TaskData(train=[], dev=[], test={"python": test}, candidates={"python": ["def extra return list"]})
    assert pool_sizes(data) == {"python": 30 - 6 + 1 + 1}  # 24 distinct + the shared one + the extra candidate
    torch.manual_seed(0)
    model, tok = load_base(tiny, "retrieval").eval(), load_tokenizer(tiny)
    config = FinetuneConfig(max_length=16, eval_batch_size=8)

    def ranks(limit):
        cut = limit_data(data, limit)
        rows = cut.test["python"]
        _, pred = predict("retrieval", model, tok, rows, config, (), None, Pooler("mean"),
                          candidates=cut.candidates.get("python", ()))
        return pool_sizes(cut)["python"], {r["query"]: p for r, p in zip(rows, pred)}

    full_pool, full = ranks(None)
    small_pool, small = ranks(7)
    assert full_pool == small_pool == 26 and len(small) == 7
    assert all(full[q] == small[q] for q in small)
    assert all(above + tied <= 25 for above, tied in full.values())


class Collapsed(torch.nn.Module):
    """An encoder whose every token state is the same vector: the bi-encoder's worst case."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(4))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None):
        from types import SimpleNamespace

        return SimpleNamespace(last_hidden_state=self.weight.expand(*input_ids.shape, 4))


def test_a_collapsed_encoder_scores_the_chance_mrr_end_to_end(tiny):
    from fractions import Fraction

    from domain_electra.evaluation.metrics import score
    from domain_electra.finetune.train import predict

    rows = retrieval_rows(24, duplicate_every=6)  # 20 distinct + 1 shared document = 21 candidates
    gold, pred = predict("retrieval", Collapsed(), load_tokenizer(tiny), rows, FinetuneConfig(max_length=16), (),
                         torch.device("cpu"))
    out = score("retrieval", gold, pred)
    n = 21
    assert pred == [[0, n - 1]] * 24
    assert out["mrr@10"] == pytest.approx(float(sum(Fraction(1, r) for r in range(1, 11)) / n))
    assert out["recall@5"] == pytest.approx(5 / n)  # with ties counted as wins these were all 1.0


def test_zero_shot_scores_a_test_only_set_without_training(tiny, tmp_path):
    test = retrieval_rows(12)
    task = EvalTask(name="humaneval-like", kind="retrieval", description="", load=lambda *a, **k: None,
                    metric="recall@5")
    data = TaskData(train=[], dev=[], test={"python": test})
    config = FinetuneConfig(zero_shot=True, max_length=16)
    result = finetune(task, data, tiny, tmp_path / "zs", config, progress=False)
    assert result["steps"] == 0 and result["method"] == "zero-shot" and result["best_dev"] is None
    assert result["test"]["python"]["pool"] == 12 and "recall@5" in result["test"]["python"]
    again = finetune(task, data, tiny, None, config, progress=False)
    assert again["test"] == result["test"]  # deterministic: nothing is trained or sampled
    assert (tmp_path / "zs" / "zero_shot.json").is_file()
    with pytest.raises(UserError, match="retrieval tasks only"):
        finetune(*synthetic("classification"), tiny, None, config, progress=False)
    with pytest.raises(UserError, match="no train examples"):  # without zero_shot a train split is needed
        finetune(task, data, tiny, None, FAST, progress=False)


def test_regression_trains_a_one_output_head_and_reloads(tiny, tmp_path):
    from domain_electra.finetune import evaluate

    rng = random.Random(0)
    rows = []
    for i in range(48):
        value = (i % 4) / 3
        word = ("bearish", "neutral", "rises", "bullish")[i % 4]
        rows.append({"text": " ".join(rng.choice(WORDS[:10]) for _ in range(4)) + f" {word}", "label": value})
    data = TaskData(train=rows[:32], dev=rows[32:40], test={"en": rows[40:]})
    task = EvalTask(name="toy-score", kind="regression", description="", load=lambda *a, **k: data, metric="spearman")
    config = FinetuneConfig(**{**FAST.__dict__, "epochs": 4, "lr": 1e-2})
    result = finetune(task, data, tiny, tmp_path / "reg", config, progress=False)
    scores = result["test"]["en"]
    assert set(scores) >= {"pearson", "spearman"} and result["metric"] == "spearman"
    pred = result["predictions"]["en"]["pred"]
    assert all(isinstance(p, float) for p in pred) and result["predictions"]["en"]["gold"] == [r["label"] for r in rows[40:]]
    assert evaluate(task, data, tmp_path / "reg", progress=False)["en"] == scores
    # The loss is the mean squared error of the single output (this 2-layer hidden-32 model is too small
    # to learn the keyword in a test's budget: it predicts about the mean, so no score is pinned here).
    from domain_electra.finetune.models import Pooler
    from domain_electra.finetune.train import _forward_keys, train_loss

    torch.manual_seed(0)
    model, tok = load_base(tiny, "regression").eval(), load_tokenizer(tiny)
    assert model.num_labels == 1
    batch = rows[:8]
    loss = train_loss("regression", model, Pooler("mean"), tok, batch, FAST, (), torch.device("cpu"), _forward_keys(model))
    out = model(**encode_texts(tok, batch, "regression", FAST.max_length)).logits[:, 0]
    assert loss.item() == pytest.approx(torch.mean((out - torch.tensor([r["label"] for r in batch])) ** 2).item(), rel=1e-5)


def test_a_declared_classification_metric_is_scored_not_a_key_error(tiny):
    task, data = synthetic("classification")
    for metric in ("micro_f1", "weighted_f1", "micro_f1_excluding:neutral"):
        result = finetune(EvalTask(**{**task.__dict__, "metric": metric}), data, tiny, None,
                          FinetuneConfig(**{**FAST.__dict__, "epochs": 1}), progress=False)
        assert result["metric"] == metric and f"dev_{metric}" in result["history"][0]
        assert 0 <= result["test"]["en"][metric] <= 1
    with pytest.raises(UserError, match="label 'none'"):
        finetune(EvalTask(**{**task.__dict__, "metric": "micro_f1_excluding:none"}), data, tiny, None, FAST,
                 progress=False)


@pytest.mark.parametrize("kind", ["classification", "retrieval", "token"])
def test_every_model_forward_runs_under_the_device_autocast(tiny, monkeypatch, kind):
    """On CUDA the forwards run in bf16 autocast (as pretraining does); here a recording stand-in counts
    that every forward of training and scoring goes through it, and that scores stay fp32 numbers."""
    import contextlib

    from domain_electra.finetune import train as train_module

    entered, forwards = [], []
    monkeypatch.setattr(train_module, "autocast_for", lambda device: lambda: (entered.append(device.type),
                                                                                contextlib.nullcontext())[1])
    task, data = synthetic(kind)
    model_forward = torch.nn.Module.__call__

    def counting(self, *args, **kwargs):
        if kwargs.get("input_ids") is not None and self.__class__.__name__.startswith(("Peft", "Electra")):
            forwards.append(self.__class__.__name__)
        return model_forward(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "__call__", counting)
    result = finetune(task, data, tiny, None, FAST, progress=False)
    top = [f for f in forwards if f.startswith("Peft")]  # the outermost call of each forward
    assert entered and len(entered) == len(top) and set(entered) == {"cpu"}
    assert isinstance(result["test"]["en"][result["metric"]], float)
