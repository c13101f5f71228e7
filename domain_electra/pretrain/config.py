"""PretrainConfig: every knob of ELECTRA continued pretraining, as one frozen dataclass.

Kept free of torch imports so that `domain-electra --help` and config validation stay fast.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal, Optional

from ..errors import UserError


@dataclass(frozen=True)
class PretrainConfig:
    """ELECTRA pretraining: a small generator does masked-language modelling, the discriminator detects
    the tokens the generator replaced (replaced-token detection, RTD).

    Batch and learning-rate semantics: `batch_size` is the GLOBAL number of sequences per optimizer step,
    summed over all processes and accumulation micro-steps. Each process runs `grad_accum` micro-batches
    of `batch_size / (world_size * grad_accum)` sequences, so the same config trains the same model on
    1 GPU with grad_accum=8 as on 8 GPUs with grad_accum=1, and `lr` needs no rescaling when the number
    of GPUs changes. The loss of a step is the mean of the micro-batch losses (each a mean over its own
    masked tokens / its own tokens).
    """

    # --- starting point -------------------------------------------------------------------------------
    init: str = "scratch:small"
    """"scratch:tiny|small|base|large" (random init, vocabulary from the packed tokens), or a folder/hub id:
    an ELECTRA export with discriminator/ and generator/ sub-folders, an ELECTRA discriminator alone, or
    any BERT-layout encoder (BERT, MiniLM, E5), which is mapped into an ELECTRA discriminator."""
    init_generator: Optional[str] = None
    """Folder or hub id of an ELECTRA generator to pair with a discriminator-only `init`
    (e.g. google/electra-base-generator). None: build one by `generator_init`."""
    generator_init: Optional[Literal["copy", "random"]] = None
    """How a generator is built when none is loaded. "copy": the checkpoint's bottom `generator_layers`
    layers at full width, its MLM head (`cls.predictions`) when it has one, output tied to the embeddings.
    "random": random layers at `generator_fraction` x `generator_depth_fraction` of the discriminator.
    None: "copy" for a pretrained init (BERT layout, ELECTRA discriminator alone), "random" for scratch."""
    generator_layers: int = 2
    """Bottom layers of the checkpoint copied into a "copy" generator (measured on MiniLM-L6, medical:
    benchmarks/RESULTS.md, "Generator initialisation for continued pretraining")."""
    generator_fraction: Optional[float] = None
    """Width of a generator_init "random" generator relative to the discriminator (ELECTRA paper: 1/4 to 1/3). The
    attention head size is kept, so the generator gets round(heads * fraction) heads (at least one).
    None: the preset's paper value (1/3 for base, 1/4 otherwise; 1/4 for loaded checkpoints)."""
    generator_depth_fraction: float = 1.0
    """Depth of a generator_init "random" generator relative to the discriminator (number of layers, at least one)."""
    embedding_sharing: Literal["tied", "gdes"] = "tied"
    """"tied": generator and discriminator share one embedding module (token, position, type, LayerNorm),
    as in ELECTRA. "gdes": DeBERTa-V3 gradient-disentangled sharing: the generator owns the token
    embeddings; the discriminator uses stop_gradient(shared) + its own residual (initialised at zero) and
    keeps its own position/type embeddings, so the RTD loss never pulls on the generator's embeddings."""
    dropout: Optional[float] = None
    """Override the hidden and attention dropout of both models (None keeps the checkpoint's / preset's)."""

    # --- objective ------------------------------------------------------------------------------------
    objective: Literal["rtd", "mlm"] = "rtd"
    """"rtd": ELECTRA (generator MLM + rtd_weight x replaced-token detection). "mlm": masked-language
    modelling of the full-size model alone (what transformers' run_mlm.py and allenai/dont-stop-pretraining
    do), with the checkpoint's MLM head or a fresh one tied to the embeddings: the control that RTD's
    sample efficiency is measured against, on the same data, steps and tokens."""
    mask_rate: float = 0.15
    """Share of the maskable (non-special) tokens of each sequence that the generator must fill in."""
    mask_token_share: Optional[float] = None
    """Of the masked positions, the share whose input becomes [MASK]; the rest keep the original token
    (or, for objective mlm, partly a random one: `random_token_share`). None: 0.85 for rtd (the reference
    implementation, google-research/electra pretrain_helpers.mask: the generator then also learns from
    visible tokens, and never sees [MASK] only), 0.8 for mlm (BERT's 80/10/10)."""
    random_token_share: Optional[float] = None
    """Of the masked positions, the share whose input becomes a uniformly random token id. None: 0 for rtd
    (the generator's samples replace tokens anyway), 0.1 for mlm (BERT's 80/10/10)."""
    generator_warmup_steps: int = 0
    """Optimizer steps at the start that train the generator alone (no discriminator forward), so the
    discriminator first meets replacements from a generator that already fits the domain. 0: joint from
    step 0, as in ELECTRA. Counted in max_steps (equal-step comparisons stay equal); the training log shows
    disc_loss 0 during it. Measured in benchmarks/RESULTS.md ("Generator initialisation ...")."""
    whole_word: bool = True
    """Mask whole words (the tokenizer's word_start flags) instead of independent sub-word tokens."""
    span_masking: bool = False
    """Mask whole spans (the tokenizer's span_start flags: AST spans for code); overrides whole_word."""
    max_span_tokens: int = 8
    """Longest unit (word or span) masked as one piece; longer ones are cut into pieces of this size."""
    rtd_weight: float = 50.0
    """lambda in loss = MLM + lambda * RTD (ELECTRA: 50)."""
    anchor_weight: float = 0.0
    """Weight of the anchor loss: 1 - cosine between the mean-pooled last hidden states of the model being
    trained (the discriminator; for objective mlm the full-size model) and of a frozen copy of the starting
    checkpoint, on the same input. Keeps a sentence-embedding start (MiniLM, E5) near the pooled geometry its
    retrieval rests on while the token states adapt; costs one no-grad forward of the copy per step.
    0: off. Needs a pretrained init. Measured in benchmarks/RESULTS.md ("Anchoring the pooled embedding")."""

    # --- optimisation ---------------------------------------------------------------------------------
    batch_size: int = 32
    """Global sequences per optimizer step (all processes and accumulation micro-steps together)."""
    grad_accum: int = 1
    """Micro-batches accumulated per optimizer step in each process."""
    lr: float = 2e-4
    """Peak learning rate of AdamW, reached after warmup, then decayed linearly to zero."""
    weight_decay: float = 0.01
    """AdamW weight decay, applied to matrices only (not biases, LayerNorm or other 1-d parameters)."""
    adam_eps: float = 1e-6
    """AdamW epsilon (ELECTRA: 1e-6)."""
    max_grad_norm: float = 1.0
    """Gradient clipping threshold on the global L2 norm."""
    warmup_steps: int = 100
    """Linear warmup from 0 to `lr` over this many optimizer steps."""

    # --- budgets (the first one reached ends the run; at least one is required) ------------------------
    max_steps: Optional[int] = None
    """Optimizer steps. With max_tokens, the smaller wins. The learning rate decays to zero at the end.
    0 exports the initial weights untrained: the same-architecture baseline a benchmark compares against."""
    max_tokens: Optional[int] = None
    """Training tokens (sequences * seq_len, replay included), converted to optimizer steps."""
    max_minutes: Optional[float] = None
    """Wall-clock minutes of training (evaluation included, summed over resumed runs). When it is the
    only budget, the learning-rate decay follows elapsed time instead of steps."""

    # --- checkpoints, evaluation and logging ----------------------------------------------------------
    save_every: int = 500
    """Write a checkpoint every K optimizer steps (and always at the end and on SIGTERM/SIGINT)."""
    keep_last: int = 2
    """Checkpoints kept besides the best one (by validation loss)."""
    eval_every: int = 500
    """Validate every K optimizer steps (and at the end)."""
    eval_batches: int = 8
    """Validation batches per evaluation (a fixed set: same sequences, masks and samples every time)."""
    log_every: int = 10
    """Write a training metrics line (averaged over the last K steps) every K steps."""
    max_nonfinite_steps: int = 5
    """Stop with an error after this many consecutive steps with a non-finite loss or gradient (each one
    is skipped: no weight update)."""

    # --- data -----------------------------------------------------------------------------------------
    replay_tokens: Optional[str] = None
    """Packed-tokens folder of a general corpus (same tokenizer and seq_len) mixed into every batch to
    limit forgetting. None: no replay."""
    replay_ratio: float = 0.0
    """Share of each global batch drawn from `replay_tokens` (rounded to whole sequences)."""
    verify_vocabulary: bool = True
    """Check that the packed tokens' tokenizer and the init checkpoint's have the same vocabulary; when one
    of them is not available here (a hub id offline), that is an error unless this is false."""

    # --- runtime --------------------------------------------------------------------------------------
    seed: int = 0
    """Seeds model init, data order, masks, generator samples and dropout."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """"auto": CUDA when available. On CUDA the forward runs under bf16 autocast with fused AdamW."""
    compile: bool = False
    """torch.compile the forward/backward of both models (static shapes: worth it on GPU)."""

    def corruption(self) -> tuple[float, float]:
        """(mask_token_share, random_token_share) with the objective's defaults filled in."""
        mask = self.mask_token_share if self.mask_token_share is not None else (0.85 if self.objective == "rtd" else 0.8)
        rand = self.random_token_share if self.random_token_share is not None else (0.0 if self.objective == "rtd" else 0.1)
        return mask, rand

    def validate(self) -> None:
        """One-line UserErrors for values that cannot work."""
        if self.max_steps is None and self.max_tokens is None and self.max_minutes is None:
            raise UserError("pretraining needs a budget: set max_steps, max_tokens or max_minutes")
        for name in ("batch_size", "grad_accum", "save_every", "eval_every", "log_every", "keep_last",
                     "eval_batches", "max_nonfinite_steps", "max_span_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.max_steps is not None and self.max_steps < 0:
            raise UserError(f"max_steps must be 0 (export the initial weights) or more (got {self.max_steps})")
        for name in ("max_tokens", "max_minutes"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UserError(f"{name} must be positive (got {value})")
        if not 0.0 < self.mask_rate < 1.0:
            raise UserError(f"mask_rate must be between 0 and 1 (got {self.mask_rate})")
        if not 0.0 < (self.generator_fraction or 0.25) <= 1.0 or not 0.0 < self.generator_depth_fraction <= 1.0:
            raise UserError("generator_fraction and generator_depth_fraction must be in (0, 1]")
        mask, rand = self.corruption()
        if not (0.0 <= mask <= 1.0 and 0.0 <= rand <= 1.0 and mask + rand <= 1.0):
            raise UserError(f"mask_token_share ({mask}) and random_token_share ({rand}) must be in [0, 1] and sum "
                            "to at most 1 (the rest of the masked positions keep their token)")
        if self.generator_layers < 1 or self.generator_warmup_steps < 0:
            raise UserError("generator_layers must be at least 1 and generator_warmup_steps non-negative")
        if self.objective == "mlm" and (self.init_generator or self.generator_warmup_steps):
            raise UserError("objective mlm trains the full-size model alone: init_generator and "
                            "generator_warmup_steps do not apply (leave them unset)")
        if self.anchor_weight < 0:
            raise UserError(f"anchor_weight must be 0 (off) or positive (got {self.anchor_weight})")
        if self.anchor_weight > 0 and self.init.startswith("scratch:"):
            raise UserError(f"anchor_weight keeps a pretrained start's embeddings, but init is {self.init}; "
                            "set init to a checkpoint folder or hub id, or anchor_weight to 0")
        if not 0.0 <= self.replay_ratio < 1.0:
            raise UserError(f"replay_ratio must be in [0, 1) (got {self.replay_ratio})")
        if self.replay_ratio > 0 and not self.replay_tokens:
            raise UserError("replay_ratio > 0 needs replay_tokens (a packed-tokens folder of a general corpus)")
        if self.lr <= 0 or self.warmup_steps < 0 or self.max_grad_norm <= 0:
            raise UserError("lr and max_grad_norm must be positive and warmup_steps non-negative")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout must be in [0, 1) (got {self.dropout})")


# Fields that may change when an interrupted run is resumed (budgets, bookkeeping, runtime): the others
# define the math, and a checkpoint written under different values is refused.
RESUMABLE_CHANGES = ("max_steps", "max_tokens", "max_minutes", "save_every", "keep_last", "eval_every",
                     "eval_batches", "log_every", "max_nonfinite_steps", "device", "compile", "verify_vocabulary")


def math_fields(config: PretrainConfig) -> dict:
    return {f.name: getattr(config, f.name) for f in fields(config) if f.name not in RESUMABLE_CHANGES}
