"""The fine-tuning config: one frozen dataclass, read from YAML / CLI overrides by domain_electra.config."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError


@dataclass(frozen=True)
class FinetuneConfig:
    """How to fine-tune one model on one task.

    method: "lora" (peft LoRA adapters; the task head is trained in full via modules_to_save) or "full"
        (every weight trained; the baseline LoRA is compared against).
    r, alpha, dropout: LoRA rank, scaling numerator (scale = alpha / r) and dropout on the adapter input.
    target_modules: names of the linear layers that get adapters; ("query", "value") fits BERT and ELECTRA.
    lr: peak learning rate; None picks 5e-4 for LoRA and 5e-5 for full fine-tuning.
    weight_decay, warmup_ratio: AdamW decay and the share of steps with a linear warm-up (then linear decay).
    epochs: upper bound on passes over the training split (early stopping may end sooner).
    batch_size: examples per step (for retrieval also the number of in-batch negatives + 1).
    max_length: tokens per input after truncation (per side for pairs, per query/document for retrieval).
    patience: stop after this many dev evaluations without improvement (0 = never stop early).
    evals_per_epoch: how often the dev split is scored (the best checkpoint is the one kept).
    seed: seeds head initialisation, adapter initialisation, dropout and the data order.
    limit: keep at most this many examples per split (train, dev, each test language); None = all.
    device: "cpu", "cuda", "cuda:1", ... or "auto" (cuda when available).
    temperature: softmax temperature of the in-batch-negative retrieval loss (cosine similarities).
    pooling: how a retrieval embedding is formed from token states: "mean" (masked mean) or "cls".
    eval_batch_size: examples per forward pass when scoring.
    threshold: multi-label decision threshold on each label's probability; None (default) picks the best of
        0.05, 0.10, ... 0.95 on the dev split at every dev evaluation and keeps the best checkpoint's.
    layers: use only the first N encoder layers (the task head reads layer N); None = all. Sentence-embedding
        checkpoints make the tokens of a sentence alike in their last layers (multilingual-e5-small: mean
        token cosine 0.79 at layer 12, 0.26 at layer 6), which starves a token tagger: on NCBI-disease
        e5-small scores F1 0.000 with 12 layers and 0.402 with layers=6 (benchmarks/RESULTS.md).
    pos_weight: multi-label only. "none": plain binary cross-entropy. "balanced": each label's positive
        examples weigh (negatives / positives) of the training split, capped at 100, so that a rare label
        (unfair-ToS: ~1% of sentences each) still pulls its logit up; the threshold is then tuned as usual.
    zero_shot: retrieval only. No fine-tuning: queries and documents are embedded by the base encoder as it
        is (`pooling`, mean by default) and ranked by cosine. Needs no train or dev split, so test-only sets
        (HumanEval-like) can be scored; method, lr and the other training values are then unused.
    """

    method: str = "lora"
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("query", "value")
    lr: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    epochs: int = 3
    batch_size: int = 16
    max_length: int = 128
    patience: int = 2
    evals_per_epoch: int = 1
    seed: int = 0
    limit: int | None = None
    device: str = "auto"
    temperature: float = 0.05
    pooling: str = "mean"
    eval_batch_size: int = 64
    threshold: float | None = None
    pos_weight: str = "none"
    layers: int | None = None
    zero_shot: bool = False

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise UserError(f"finetune method '{self.method}' is not 'lora' or 'full'")
        if self.pos_weight not in ("none", "balanced"):
            raise UserError(f"finetune pos_weight '{self.pos_weight}' is not 'none' or 'balanced'")
        if self.pooling not in ("mean", "cls"):
            raise UserError(f"finetune pooling '{self.pooling}' is not 'mean' or 'cls'")
        for name in ("r", "epochs", "batch_size", "max_length", "evals_per_epoch", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise UserError(f"finetune {name} must be at least 1, got {getattr(self, name)}")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise UserError(f"finetune threshold must be a probability between 0 and 1, got {self.threshold}")
        if self.layers is not None and self.layers < 1:
            raise UserError(f"finetune layers must be at least 1 (or unset for all), got {self.layers}")
        if self.limit is not None and self.limit < 1:
            raise UserError(f"finetune limit must be at least 1 (or unset for all), got {self.limit}")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 5e-4 if self.method == "lora" else 5e-5
