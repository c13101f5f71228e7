"""Starting points for ELECTRA pretraining: scratch presets, ELECTRA folders, BERT-layout encoders.

`load_pair(...)` returns (generator, discriminator, facts) with embeddings shared as requested:
- "scratch:NAME": a preset discriminator and a generator at the width/depth fraction;
- a folder with discriminator/ and generator/ (this toolkit's export, or any ELECTRA pair);
- an ELECTRA discriminator alone (folder or hub id), optionally with `init_generator`;
- a BERT-layout encoder (BERT, MiniLM, E5, ...): its embeddings and encoder map one-to-one onto
  ELECTRA's (same module names and maths, no pooler), and a fresh RTD head is added.
A newly built generator starts from the discriminator's embeddings (then shared) and random layers.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

from ..errors import UserError
from .presets import PRESETS, generator_config, scratch_config, set_dropout
from .sharing import share_embeddings

ATTENTION = "sdpa"  # PyTorch's fused attention kernels (flash / memory-efficient on GPU)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "added_tokens.json", "sentencepiece.bpe.model", "spiece.model",
                   "tokenizer.model", "domain_electra_tokenizer.json")


@dataclass(frozen=True)
class InitFacts:
    """Where the weights came from, for the model card and the logs."""

    kind: str  # "scratch" | "electra-pair" | "electra" | "bert"
    source: str
    generator: str  # "loaded" | "built"
    tokenizer_dir: str | None  # the init's tokenizer folder, when it has one


def _local(init: str) -> Path | None:
    path = Path(init).expanduser()
    if path.exists():
        return path
    if init.startswith((".", "/", "~")) or init.count("/") > 1:
        raise UserError(f"init checkpoint not found: {init} (give a model folder, a hub id, or "
                        f"scratch:{'|'.join(PRESETS)})")
    return None


def _model_type(source: str | Path) -> str:
    path = Path(source)
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise UserError(f"{path} has no config.json: not a Hugging Face model folder")
        return json.loads(config_file.read_text(encoding="utf-8")).get("model_type", "")
    try:
        return AutoConfig.from_pretrained(str(source)).model_type
    except OSError as exc:
        raise UserError(f"cannot load init '{source}' from the hub ({exc.__class__.__name__}); "
                        "give a local model folder") from None


def _has_tokenizer(path: Path) -> bool:
    return (path / "tokenizer.json").is_file() or (path / "vocab.txt").is_file()


def bert_to_electra(bert: nn.Module) -> ElectraForPreTraining:
    """Map a BERT-layout encoder (BertModel) into an ElectraForPreTraining with a fresh RTD head.

    ELECTRA's embeddings and encoder are BERT's, module for module; only the pooler is dropped. The
    converted model's hidden states equal the BERT model's (tested on real checkpoints)."""
    c = bert.config
    if getattr(c, "position_embedding_type", "absolute") not in (None, "absolute"):
        raise UserError(f"cannot convert a BERT model with position_embedding_type={c.position_embedding_type!r}; "
                        "only absolute position embeddings map onto ELECTRA")
    config = ElectraConfig(
        vocab_size=c.vocab_size, embedding_size=c.hidden_size, hidden_size=c.hidden_size,
        num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
        intermediate_size=c.intermediate_size, hidden_act=c.hidden_act, hidden_dropout_prob=c.hidden_dropout_prob,
        attention_probs_dropout_prob=c.attention_probs_dropout_prob,
        max_position_embeddings=c.max_position_embeddings, type_vocab_size=c.type_vocab_size,
        initializer_range=c.initializer_range, layer_norm_eps=c.layer_norm_eps, pad_token_id=c.pad_token_id)
    config._attn_implementation = ATTENTION
    disc = ElectraForPreTraining(config)
    state = {k: v for k, v in bert.state_dict().items() if not k.startswith("pooler.")}
    missing, unexpected = disc.electra.load_state_dict(state, strict=False)
    buffers = {name for name, _ in disc.electra.named_buffers()}
    if unexpected or set(missing) - buffers:
        raise UserError(f"{c.name_or_path or 'the BERT checkpoint'} does not have the BERT layout "
                        f"(unexpected: {unexpected[:3]}, missing: {sorted(set(missing) - buffers)[:3]})")
    return disc


def _load_discriminator(source: str | Path, kind: str) -> ElectraForPreTraining:
    if kind == "bert":
        from transformers import AutoModel

        return bert_to_electra(AutoModel.from_pretrained(str(source)))
    config = AutoConfig.from_pretrained(str(source))
    if "ElectraForMaskedLM" in (config.architectures or []):
        raise UserError(f"{source} is an ELECTRA generator; pass the discriminator as init and this folder "
                        "as init_generator")
    return ElectraForPreTraining.from_pretrained(str(source), attn_implementation=ATTENTION)


def _new_generator(disc: ElectraForPreTraining, width: float, depth: float) -> ElectraForMaskedLM:
    config = generator_config(disc.config, width, depth)
    config._attn_implementation = ATTENTION
    generator = ElectraForMaskedLM(config)
    # Start from the discriminator's (often pretrained) embeddings: shared anyway, and GDES's residual
    # then starts at exactly zero.
    generator.electra.embeddings.load_state_dict(disc.electra.embeddings.state_dict())
    generator.generator_lm_head.weight = generator.electra.embeddings.word_embeddings.weight
    return generator


def apply_dropout(model: nn.Module, dropout: float | None) -> None:
    if dropout is None:
        return
    set_dropout(model.config, dropout)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = dropout


def load_pair(init: str, vocab_size: int, pad_id: int, *, init_generator: str | None = None,
              generator_fraction: float | None = None, generator_depth_fraction: float = 1.0,
              embedding_sharing: str = "tied", dropout: float | None = None, seed: int = 0,
              max_positions: int = 512) -> tuple[ElectraForMaskedLM, ElectraForPreTraining, InitFacts]:
    """(generator, discriminator, facts) ready for pretraining, embeddings shared per `embedding_sharing`.
    `vocab_size`/`pad_id` size a scratch model; loaded checkpoints keep their own."""
    torch.manual_seed(seed)  # fresh weights (scratch models, new generators, RTD heads) are reproducible
    width = generator_fraction
    tokenizer_dir = None
    generator = None
    if init.startswith("scratch:"):
        preset = init.split(":", 1)[1]
        config = scratch_config(preset, vocab_size, pad_id, max_positions)
        config._attn_implementation = ATTENTION
        disc, kind, width = ElectraForPreTraining(config), "scratch", width or PRESETS[preset]["generator"]
    else:
        path = _local(init)
        if path is not None and (path / "discriminator" / "config.json").is_file():
            disc, kind = _load_discriminator(path / "discriminator", "electra"), "electra-pair"
            if (path / "generator" / "config.json").is_file() and init_generator is None:
                generator = ElectraForMaskedLM.from_pretrained(str(path / "generator"), attn_implementation=ATTENTION)
            tokenizer_dir = next((str(p) for p in (path / "discriminator", path) if _has_tokenizer(p)), None)
        else:
            model_type = _model_type(path or init)
            if model_type not in ("electra", "bert"):
                raise UserError(f"init {init} is a '{model_type}' model; supported: ELECTRA, BERT-layout "
                                f"encoders (model_type bert), or scratch:{'|'.join(PRESETS)}")
            disc, kind = _load_discriminator(path or init, model_type), model_type
            tokenizer_dir = str(path) if path is not None and _has_tokenizer(path) else (None if path else init)
        if init_generator is not None:
            _local(init_generator)
            generator = ElectraForMaskedLM.from_pretrained(init_generator, attn_implementation=ATTENTION)
    built = generator is None
    if built:
        generator = _new_generator(disc, width or 0.25, generator_depth_fraction)
    for model in (generator, disc):
        apply_dropout(model, dropout)
    share_embeddings(generator, disc, embedding_sharing)
    facts = InitFacts(kind, init, "built" if built else "loaded", tokenizer_dir)
    return generator, disc, facts


def check_vocabulary(meta: dict, vocab_rows: int, facts: InitFacts, required: bool = True) -> None:
    """The packed token ids must mean the same tokens to the init checkpoint (a UserError otherwise).

    A tokenizer that cannot be loaded is never a silent pass: a local folder that fails to load is an
    error; one that is not here (a hub id offline, a folder left on another machine) is an error unless
    `required` is False (PretrainConfig.verify_vocabulary), and then a one-line warning."""
    if facts.kind == "scratch":
        return
    fix = (f"pack the corpus with {facts.source}'s tokenizer, or run `domain-electra tokenizer extend` to add "
           "the domain tokens to the checkpoint and pretrain from the extended checkpoint")
    if int(meta["vocab_size"]) > vocab_rows:
        raise UserError(f"the packed tokens use {meta['vocab_size']} token ids but {facts.source} has only "
                        f"{vocab_rows} embeddings: {fix}")
    packed_with = meta.get("tokenizer")
    if not packed_with or not facts.tokenizer_dir:
        return
    if Path(packed_with).exists() and Path(facts.tokenizer_dir).exists() and \
            Path(packed_with).resolve() == Path(facts.tokenizer_dir).resolve():
        return
    ours = _vocabulary(packed_with, "the packed tokens' tokenizer", facts.source, required)
    theirs = _vocabulary(facts.tokenizer_dir, f"the tokenizer of {facts.source}", facts.source, required)
    if ours is None or theirs is None:
        return
    if ours != theirs:
        differ = sum(1 for t, i in ours.items() if theirs.get(t) != i)
        raise UserError(f"the packed tokens were made with {packed_with}, whose vocabulary differs from "
                        f"{facts.source}'s ({differ} of {len(ours)} tokens differ): {fix}")


def _vocabulary(source: str, role: str, init: str, required: bool) -> dict | None:
    """`source`'s vocabulary; None (with a warning) only when it is not here and the check is opted out."""
    import sys

    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(source)).get_vocab()
    except Exception as exc:  # tokenizers raises bare Exceptions for a broken tokenizer.json
        reason = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:200]}"
        if Path(source).expanduser().exists():
            raise UserError(f"cannot check the packed tokens against {init}: {role} in {source} fails to load "
                            f"({reason}); repair or re-save that folder so that AutoTokenizer.from_pretrained "
                            "loads it, or re-pack the corpus with a tokenizer that loads") from exc
        if required:
            raise UserError(f"cannot check that the packed tokens mean the same tokens to {init}: {role} {source} "
                            f"is not available here ({reason}); make it available (a local folder, or go online "
                            "for a hub id), or skip the check with --set verify_vocabulary=false") from exc
        print(f"warning: vocabulary check skipped (verify_vocabulary=false): {role} {source} is not available "
              "here; only the token-id range was checked", file=sys.stderr, flush=True)
        return None
