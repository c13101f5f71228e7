"""Pretraining speed: the toolkit's ELECTRA training step vs the plain transformers loop, side by side.

    python benchmarks/pretrain_speed.py            # one H100: all shapes, levers, loss-curve check (~8 min)
    python benchmarks/pretrain_speed.py --tiny     # CPU smoke run at tiny shapes (numbers meaningless)

One process, one device, the same token rows and optimizer settings for every path. The plain loop is what a
transformers user writes: ElectraForMaskedLM generator + ElectraForPreTraining discriminator sharing one
embedding module, 15% Bernoulli masking, generator logits over every position (HF `labels=` loss), sampling
at the masked positions, HF's RTD loss, loss = MLM + 50 RTD, AdamW, clipping 1.0, warmup + linear decay;
bf16 autocast + sdpa attention on CUDA (fp32 on CPU). The toolkit rows run `domain_electra.pretrain`'s own
training step, the one `pretrain()` uses (see `toolkit_runner`).

Timing: warm-up steps (and any compilation) excluded; `groups` groups of `group` steps, the device
synchronised before and after each group, median seconds per step. Peak memory: torch.cuda.max_memory_allocated
over model build + warm-up + timed steps (weights, optimizer state, activations).

Model FLOPs (`step_flops`), matmuls only, multiply-add = 2 FLOPs, backward = 2 x forward (so x3 in all). Per
token, an encoder layer of hidden h, FFN width f, sequence length L costs 8h^2 (Q, K, V, O projections) +
4hf (FFN) + 4Lh (QK^T and AV, bidirectional: every token attends to all L); plus, per token, the embedding
projection 2eh where the embedding size e != h (both models), the RTD head 2h^2 + 2h, and, at the MASKED
positions only, the generator head 2*h_gen*e + 2eV. Embedding gathers, norms, softmax, GELU, biases, the
optimizer and sampling are not counted. Every row is credited the same model FLOPs (the work the math needs):
the plain loop's vocabulary projection at all positions is extra hardware work, not model work. MFU = model
FLOP/s / the bf16 dense-matmul ceiling this script measures on the same device (`matmul_ceiling`).

Loss curves (`compare_curves`), from the same initial weights:
 - "same math": the plain loop fed the toolkit's own batches (its masks and sampling draws), dropout 0, for
   --curve-steps steps (200 on GPU). Differences left: kernel/rounding order (masked-only head, fused ops,
   bf16 on CUDA). Tolerance: every 20-step window mean within SAME_RTOL (1e-4 fp32, 2% bf16) of the plain loop's.
 - "plain user loop": the plain loop with its own Bernoulli masking, device sampling and dropout 0.1, two
   seeds, vs the toolkit with dropout 0.1. Masks, samples and dropout come from different random streams
   (deliberate: the toolkit draws masks on the host as a pure function of (seed, step) for exact resume, and
   masks exactly round(15%) per row instead of Binomial(L, 0.15)), so curves differ by seed noise: each window
   mean must lie within max(USER_RTOL = 3%, 3 x the plain loop's own seed-to-seed gap).
 - The masked-only generator head changes nothing in the math (cross-entropy and sampling only ever read the
   masked rows); `lever_equivalence` checks it on the plain loop with identical random streams.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout's domain_electra, installed or not
SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}  # synthetic vocabulary: ids >= 5 are words
MASK_RATE, RTD_WEIGHT, LR, WARMUP = 0.15, 50.0, 2e-4, 20
# Loss-curve tolerances on 20-step window means, relative to the plain loop: fp32 with identical masks and
# draws leaves only summation order; bf16 autocast rounds the (differently shaped) matmuls differently and
# the gap grows over steps; independent random streams get at least USER_RTOL or 3x the seed-to-seed gap.
SAME_RTOL = {"fp32": 1e-4, "bf16": 0.02}
USER_RTOL, CURVE_WINDOW = 0.03, 20
# name: discriminator (hidden, layers, heads, ffn), generator (hidden, layers, heads, ffn), embedding, vocab
SHAPES = {
    "small": ((256, 12, 4, 1024), (64, 12, 1, 256), 128, 30522),
    "base": ((768, 12, 12, 3072), (256, 12, 4, 1024), 768, 30522),
    "tiny": ((64, 2, 2, 128), (32, 2, 1, 64), 32, 512),
}
BATCH = {("small", 128): 128, ("small", 512): 32, ("base", 128): 256, ("base", 512): 64,
         ("tiny", 32): 8, ("tiny", 64): 4}
TARGETS = {("base", 128): "toolkit >= 4,000 seq/s, >= 2.2x baseline, <= 12 GiB", ("base", 512): ">= 1,000 seq/s",
           ("small", 128): ">= 1.5M tokens/s (>= 8x)"}


# ----------------------------------------------------------------------------------------------- models
def electra_pair(shape: str, seq_len: int, attn: str, seed: int, dropout: float = 0.1, tie: bool = True):
    """(generator, discriminator) at `shape`, initialised from `seed`. `tie`: share one embedding module
    and tie the generator's output layer to the token embeddings (ELECTRA), as a plain user does by hand."""
    (dh, dl, da, df), (gh, gl, ga, gf), emb, vocab = SHAPES[shape]

    def config(h, layers, heads, ffn):
        c = ElectraConfig(vocab_size=vocab, embedding_size=emb, hidden_size=h, num_hidden_layers=layers,
                          num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=max(512, seq_len),
                          hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout, pad_token_id=0)
        c._attn_implementation = attn
        return c

    torch.manual_seed(seed)
    disc = ElectraForPreTraining(config(dh, dl, da, df))
    gen = ElectraForMaskedLM(config(gh, gl, ga, gf))
    if not tie:
        return gen, disc
    gen.electra.embeddings = disc.electra.embeddings
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    return gen, disc


def adamw(models, fused: bool):
    """AdamW as ELECTRA / the toolkit: decay on matrices only, eps 1e-6; warmup then linear decay."""
    params = {id(p): p for m in models for p in m.parameters()}.values()  # shared embeddings once
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.01},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=LR, betas=(0.9, 0.999), eps=1e-6, fused=fused or None)


def lr_lambda(total: int):
    """Linear warmup over WARMUP steps, capped by a line from 1 at step 0 to 0 at `total` (the toolkit's)."""
    return lambda s: max(0.0, min((s + 1) / WARMUP, 1.0 - s / total))


# ------------------------------------------------------------------------------------------------- data
def synthetic_rows(n: int, seq_len: int, vocab: int, seed: int) -> np.ndarray:
    """[n, seq_len] packed rows ([CLS] doc [SEP] doc ...) of a Zipfian bigram language: something the
    generator can learn within 200 steps (unigram frequencies, then the successor table)."""
    rng = np.random.default_rng(seed)
    words = np.arange(5, vocab)
    p = 1.0 / (np.arange(len(words)) + 10.0)
    p /= p.sum()
    successors = rng.choice(words, size=(vocab, 4), p=p)
    rows = np.empty((n, seq_len), dtype=np.int64)
    rows[:, 0] = SPECIAL["cls"]
    prev = rng.choice(words, size=n, p=p)
    for t in range(1, seq_len):
        follow = successors[prev, rng.integers(0, 4, size=n)]
        fresh = rng.choice(words, size=n, p=p)
        prev = np.where(rng.random(n) < 0.8, follow, fresh)
        rows[:, t] = np.where(rng.random(n) < 1 / 64, SPECIAL["sep"], prev)
    return rows


def write_packed(rows: np.ndarray, vocab: int, folder: Path) -> Path:
    """The rows as a packed-tokens folder (notes/interfaces.md), so the toolkit reads them its own way."""
    folder.mkdir(parents=True, exist_ok=True)
    n_val = max(2, len(rows) // 20)
    splits = {"train": rows[n_val:], "validation": rows[:n_val]}
    for split, data in splits.items():
        data.astype(np.uint16).tofile(folder / f"{split}.ids.bin")
        flags = np.ones_like(data, dtype=np.uint8)
        flags.tofile(folder / f"{split}.word_start.bin")
        flags.tofile(folder / f"{split}.span_start.bin")
    meta = {"seq_len": rows.shape[1], "dtype": "uint16", "vocab_size": vocab, "special_ids": SPECIAL,
            "tokenizer": None, "seed": 0,
            "splits": {s: {"sequences": len(d), "documents": len(d), "tokens": int(d.size)} for s, d in splits.items()}}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------ the plain loop
@dataclass(frozen=True)
class Plain:
    """One variant of the plain loop. Each field after `name` is one lever, toggled on its own."""

    name: str
    bf16: bool = True  # bf16 autocast (CUDA only; CPU always runs fp32)
    attn: str = "sdpa"  # "eager" | "sdpa"
    masked_head: bool = False  # generator head on the masked positions only (same math)
    fused_adamw: bool = False
    static: bool = False  # exactly k masked slots per row, gather/scatter instead of boolean indexing
    compile: str = ""  # "" | "default" | "reduce-overhead" (the latter captures CUDA graphs)
    batch_mult: int = 1  # larger micro-batches


LEVERS = [Plain("plain fp32 eager", bf16=False, attn="eager"), Plain("plain bf16+sdpa (baseline)"),
          Plain("+ masked-only gen head", masked_head=True), Plain("+ fused AdamW", masked_head=True, fused_adamw=True),
          Plain("+ static shapes + torch.compile", masked_head=True, fused_adamw=True, static=True, compile="default"),
          Plain("+ CUDA graphs", masked_head=True, fused_adamw=True, static=True, compile="reduce-overhead"),
          Plain("+ 2x micro-batch", masked_head=True, fused_adamw=True, static=True, compile="reduce-overhead",
                batch_mult=2)]
BASELINE = LEVERS[1]


def inverse_cdf_sample(logits: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """Sample token ids from softmax(logits) with uniform `draws` (one per row of logits)."""
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(-1)
    target = draws.float().unsqueeze(-1) * cdf[..., -1:]  # the cdf's last entry is 1 up to rounding
    return torch.searchsorted(cdf, target, right=True).squeeze(-1).clamp_(max=logits.shape[-1] - 1)


def gen_head(gen, hidden):
    return gen.generator_lm_head(gen.generator_predictions(hidden))


def plain_losses(gen, disc, batch: dict, v: Plain):
    """(MLM loss, RTD loss) of one batch. `batch` holds input_ids and, optionally, the toolkit's
    mask_positions / mask_weights / sample_draws (then masks and samples are the toolkit's)."""
    ids = batch["input_ids"]
    special = ids <= SPECIAL["mask"]
    if v.static:  # fixed [B, k] slots: no data-dependent shapes anywhere
        if "mask_positions" in batch:
            pos, w, draws = batch["mask_positions"], batch["mask_weights"], batch["sample_draws"]
        else:
            k = round(MASK_RATE * ids.shape[1])
            pos = torch.rand(ids.shape, device=ids.device).masked_fill(special, 2.0).topk(k, largest=False).indices
            w, draws = (~special.gather(1, pos)).float(), torch.rand(pos.shape, device=ids.device)
        original = ids.gather(1, pos)
        gen_in = ids.scatter(1, pos, torch.where(w > 0, SPECIAL["mask"], original))
        hidden = gen.electra(gen_in).last_hidden_state
        logits = gen_head(gen, hidden.gather(1, pos.unsqueeze(-1).expand(-1, -1, hidden.shape[-1])))
        ce = F.cross_entropy(logits.flatten(0, 1).float(), original.flatten(), reduction="none")
        gen_loss = (ce * w.flatten()).sum() / w.sum().clamp(min=1)
        with torch.no_grad():
            fake = torch.where(w > 0, inverse_cdf_sample(logits, draws), original)
        disc_in = ids.scatter(1, pos, fake)
        rtd = disc(disc_in).logits
        disc_loss = F.binary_cross_entropy_with_logits(rtd.float(), (disc_in != ids).float())
        return gen_loss, disc_loss
    if "mask_positions" in batch:  # the toolkit's chosen positions, in sequence order, draws aligned
        chosen = batch["mask_weights"] > 0
        masked = torch.zeros_like(special).scatter(1, batch["mask_positions"], chosen)
        draws = batch["sample_draws"][chosen]
    else:
        masked = (torch.rand(ids.shape, device=ids.device) < MASK_RATE) & ~special
        draws = None
    attention = torch.ones_like(ids)  # what a tokenizer hands a plain loop
    gen_in = ids.masked_fill(masked, SPECIAL["mask"])
    if v.masked_head:
        hidden = gen.electra(gen_in, attention_mask=attention).last_hidden_state
        logits = gen_head(gen, hidden[masked])
        gen_loss = F.cross_entropy(logits.float(), ids[masked])
    else:
        out = gen(gen_in, attention_mask=attention, labels=ids.masked_fill(~masked, -100))
        gen_loss, logits = out.loss, out.logits[masked]
    with torch.no_grad():
        if draws is None:
            draws = torch.rand(logits.shape[0], device=ids.device)
        disc_in = ids.masked_scatter(masked, inverse_cdf_sample(logits, draws))
    disc_loss = disc(disc_in, attention_mask=attention, labels=(disc_in != ids).long()).loss
    return gen_loss, disc_loss


def plain_runner(v: Plain, gen, disc, device, total_steps: int):
    """A step function `step(batch) -> (gen_loss, disc_loss)` tensors, for variant `v`."""
    opt = adamw((gen, disc), v.fused_adamw and device.type == "cuda")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(total_steps))
    params = [p for group in opt.param_groups for p in group["params"]]
    losses = plain_losses
    if v.compile:
        losses = torch.compile(plain_losses, mode=v.compile, dynamic=False)
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if v.bf16 and device.type == "cuda"
                else contextlib.nullcontext())

    def step(batch):
        if v.compile == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # last step's graph outputs may be overwritten
        with autocast:
            gen_loss, disc_loss = losses(gen, disc, batch, v)
        (gen_loss + RTD_WEIGHT * disc_loss).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        return gen_loss.detach(), disc_loss.detach()

    return step


# -------------------------------------------------------------------------------------- the toolkit
def toolkit_runner(gen, disc, packed: Path, batch_size: int, device, total_steps: int, seed: int,
                   dropout: float | None = None, compile: bool = False):
    """(step, batch_of) over the toolkit's own pieces, driven as `pretrain()` drives them: BatchSource builds
    global batch i on the host (masks + sampling draws, a pure function of (seed, i)) in a prefetch thread,
    `to_device` copies it through pinned memory, `make_train_step` runs forward/backward/clip/fused AdamW
    at lr = lr * lr_factor(i). The models are the same untied pair the plain loop gets, wired by the
    toolkit's `share_embeddings` ("tied"). Raises RuntimeError("unavailable: ...") without the toolkit."""
    try:
        from domain_electra.modeling import apply_dropout, share_embeddings
        from domain_electra.pretrain import (BatchSource, ElectraObjective, PretrainConfig, batch_spec,
                                             build_optimizer, lr_factor, make_train_step, to_device)
        from domain_electra.pretrain.objective import Corruption
        from domain_electra.tokenization.packed import PackedTokens
    except ImportError as exc:
        raise RuntimeError(f"unavailable: domain_electra.pretrain ({exc})") from None
    # `init` is left at its default and unused: the caller built the models.
    config = PretrainConfig(batch_size=batch_size, lr=LR, warmup_steps=WARMUP,
                            max_steps=total_steps, mask_rate=MASK_RATE, whole_word=False, rtd_weight=RTD_WEIGHT,
                            seed=seed, dropout=dropout, compile=compile)
    config.validate()
    train = PackedTokens(packed, "train")
    spec = batch_spec(train.meta, config.mask_rate, config.whole_word, config.span_masking, config.max_span_tokens)
    source = BatchSource(spec, train, config.batch_size, config.seed)
    for model in (gen, disc):
        apply_dropout(model, dropout)
    share_embeddings(gen, disc, config.embedding_sharing)
    # Every masked slot reads [MASK], as in the plain loop, so the same-math curve check compares like with like.
    objective = ElectraObjective(gen, disc, train.meta["special_ids"]["mask"], config.rtd_weight,
                                 Corruption(1.0, 0.0)).to(device)
    step_fn = make_train_step(objective, build_optimizer(objective, config, device), config, device)
    pool, ahead = ThreadPoolExecutor(max_workers=1), {}

    def batch_of(i: int) -> dict:
        future = ahead.pop(i, None) or pool.submit(source.global_batch, i)
        ahead[i + 1] = pool.submit(source.global_batch, i + 1)  # built while the device runs step i
        return to_device(future.result(), device, pin=device.type == "cuda")

    counter = [0]

    def step(batch: dict):
        i = counter[0]
        counter[0] += 1
        out = step_fn(batch, config.lr * lr_factor(i, config.warmup_steps, i / total_steps))
        return out["gen_loss"], out["disc_loss"]

    step.host_batch_ms = lambda: 1e3 * min(_seconds(source.global_batch, i) for i in range(3))
    step.close = lambda: pool.shutdown(wait=True, cancel_futures=True)
    return step, batch_of


def _seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------- measuring
def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_steps(step, batches, device, warmup: int, groups: int, group: int) -> float:
    """Median seconds per step over `groups` synchronised groups of `group` steps, after `warmup` steps."""
    for i in range(warmup):
        step(batches(i))
    sync(device)
    times, i = [], warmup
    for _ in range(groups):
        sync(device)
        start = time.perf_counter()
        for _ in range(group):
            step(batches(i))
            i += 1
        sync(device)
        times.append((time.perf_counter() - start) / group)
    return statistics.median(times)


def matmul_ceiling(device, n: int | None = None) -> tuple[float, str]:
    """Measured dense-matmul TFLOP/s: bf16 n=8192 on CUDA (the MFU denominator), fp32 on CPU (smoke)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    n = n or (8192 if device.type == "cuda" else 1024)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10 if device.type == "cuda" else 3):
        sync(device)
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        sync(device)
        times.append((time.perf_counter() - start) / 5)
    return 2 * n ** 3 / min(times) / 1e12, f"{str(dtype).split('.')[-1]} {n}x{n} matmul"


def step_flops(shape: str, batch: int, seq_len: int, mask_rate: float = MASK_RATE) -> float:
    """Model FLOPs of one training step (see the module docstring)."""
    (dh, dl, _, df), (gh, gl, _, gf), emb, vocab = SHAPES[shape]

    def encoder(h, layers, f):  # forward FLOPs per token
        return layers * (8 * h * h + 4 * h * f + 4 * seq_len * h) + (2 * emb * h if emb != h else 0)

    per_token = encoder(dh, dl, df) + 2 * dh * dh + 2 * dh + encoder(gh, gl, gf)
    per_masked = 2 * gh * emb + 2 * emb * vocab
    return 3.0 * batch * seq_len * (per_token + mask_rate * per_masked)


def environment(device) -> dict:
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "cuda": torch.version.cuda}
    try:
        import domain_electra
        versions["domain_electra"] = domain_electra.__version__
    except ImportError:
        pass
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.processor() or platform.machine()})"
    return {"device": name, "versions": versions, "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def free(device):
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    torch._dynamo.reset()


def measure(make_step, device, shape, seq_len, batch, args) -> dict:
    """Build a path with `make_step()` -> (step, batch_of(i)), time it, and return its numbers."""
    free(device)
    try:
        step, batch_of = make_step()
        seconds = time_steps(step, batch_of, device, args.warmup, args.groups, args.group)
    except torch.cuda.OutOfMemoryError:
        return {"status": "oom"}
    except Exception as exc:  # one failing path (e.g. a compile error) must not lose the other rows
        if str(exc).startswith("unavailable"):
            return {"status": str(exc)}
        traceback.print_exc()
        return {"status": f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"}
    flops = step_flops(shape, batch, seq_len) / seconds
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 30 if device.type == "cuda" else None
    extra = {"host_batch_ms": step.host_batch_ms()} if hasattr(step, "host_batch_ms") else {}
    getattr(step, "close", lambda: None)()
    return {"status": "ok", "step_ms": seconds * 1e3, "tokens_per_s": batch * seq_len / seconds,
            "seq_per_s": batch / seconds, "model_tflops": flops / 1e12, "peak_gib": peak, **extra}


# ------------------------------------------------------------------------------------------ the rows
def host_batches(rows: np.ndarray, batch: int, device):
    """`batch_of(i)`: input_ids of batch i (cycling), copied from pinned host memory as a plain loop does."""
    pool = torch.from_numpy(rows[: (len(rows) // batch) * batch]).view(-1, batch, rows.shape[1])
    if device.type == "cuda":
        pool = pool.pin_memory()
    return lambda i: {"input_ids": pool[i % len(pool)].to(device, non_blocking=True)}


def headline_plan(args) -> list:
    return [(m, s, v) for m in args.models for s in args.seq_lens for v in (BASELINE, "toolkit")]


def optional_plan(args) -> list:
    """Cheapest first: the eager levers, the compiled toolkit at the first sequence length, the compiled
    levers (about a minute of compilation each on GPU), the compiled toolkit at the other lengths. CUDA
    graphs and larger micro-batches only for the small (launch-bound) shapes."""
    levers = [(m, s, v) for m, s in args.lever_shapes for v in LEVERS if v is not BASELINE
              and (m in ("small", "tiny") or not (v.batch_mult > 1 or v.compile == "reduce-overhead"))]
    compiled = [(m, s, "toolkit compile") for s in args.seq_lens for m in args.models[::-1]]
    first = [row for row in compiled if row[1] == args.seq_lens[0]]
    return ([row for row in levers if not row[2].compile] + first + [row for row in levers if row[2].compile]
            + [row for row in compiled if row not in first])


def speed_rows(plan, out: list, args, device, env, ceiling, write, optional: bool = False) -> list[dict]:
    """Measure each (shape, seq_len, path) of `plan`, appending rows to `out` (written after each).
    `optional` rows start only while the run is within --budget-s."""
    baselines = {(r["model"], r["seq_len"]): r["tokens_per_s"] for r in out if r["path"] == BASELINE.name
                 and r["status"] == "ok"}
    for shape, seq_len, variant in plan:
        batch = BATCH[(shape, seq_len)] * (variant.batch_mult if isinstance(variant, Plain) else 1)
        name = variant.name if isinstance(variant, Plain) else variant
        bf16 = device.type == "cuda" and (variant.bf16 if isinstance(variant, Plain) else True)
        row = {**env, "model": f"electra-{shape}", "seq_len": seq_len, "batch": batch, "path": name,
               "precision": "bf16 autocast" if bf16 else "fp32"}
        if optional and time.perf_counter() - args.t0 > args.budget_s:
            result = {"status": "skipped: time budget (--budget-s)"}
        elif (variant == "toolkit compile" or isinstance(variant, Plain) and variant.compile) and device.type != "cuda":
            result = {"status": "skipped: compile levers run on CUDA only"}
        else:
            rows = synthetic_rows(batch * 4, seq_len, SHAPES[shape][3], args.seed)
            result = measure(lambda: make_path(variant, shape, seq_len, batch, rows, device, args),
                             device, shape, seq_len, batch, args)
        row.update(result)
        if variant is BASELINE and result["status"] == "ok":
            baselines[(row["model"], seq_len)] = result["tokens_per_s"]
        base = baselines.get((row["model"], seq_len))
        row["baseline_tokens_per_s"] = base
        row["ratio"] = row["tokens_per_s"] / base if base and "tokens_per_s" in row else None
        row["mfu"] = row["model_tflops"] / ceiling if "model_tflops" in row else None
        row["ceiling_tflops"] = ceiling
        out.append(row)
        write(out)
        print(f"{row['model']:>14} L={seq_len:<4} B={batch:<4} {name:<34} " + (
            f"{row['tokens_per_s']:>11,.0f} tok/s {row['seq_per_s']:>8,.1f} seq/s x{row['ratio'] or 0:.2f} "
            f"MFU {row['mfu']:.1%} peak {row['peak_gib'] or 0:.1f} GiB" if row["status"] == "ok" else row["status"]),
            flush=True)
    return out


def make_path(variant, shape, seq_len, batch, rows, device, args):
    total = args.warmup + args.groups * args.group
    if isinstance(variant, Plain):
        gen, disc = electra_pair(shape, seq_len, variant.attn, args.seed)
        gen.to(device), disc.to(device)
        return plain_runner(variant, gen, disc, device, total), host_batches(rows, batch, device)
    gen, disc = electra_pair(shape, seq_len, "sdpa", args.seed, tie=False)
    packed = write_packed(rows, SHAPES[shape][3], Path(args.tmp) / f"{shape}-{seq_len}-{batch}")
    return toolkit_runner(gen, disc, packed, batch, device, total, args.seed, compile=variant == "toolkit compile")


# --------------------------------------------------------------------------------------- loss curves
def own_slots(ids: np.ndarray, seed: int, step: int) -> dict:
    """Toolkit-format masks for a plain batch, independent of the toolkit: exactly round(15%) positions per
    row (ascending, all weight 1) and one sampling draw per slot, drawn on the host."""
    rng = np.random.default_rng([seed, 7, step])
    scores = np.where(ids <= SPECIAL["mask"], 2.0, rng.random(ids.shape))
    k = round(MASK_RATE * ids.shape[1])
    pos = np.sort(np.argsort(scores, axis=1, kind="stable")[:, :k], axis=1)
    return {"input_ids": ids, "mask_positions": pos, "mask_weights": np.ones(pos.shape, np.float32),
            "sample_draws": rng.random(pos.shape, dtype=np.float32)}


def run_curve(step, batch_of, steps: int) -> dict:
    gen, disc = [], []
    for i in range(steps):
        g, d = step(batch_of(i))
        gen.append(float(g))
        disc.append(float(d))
    return {"gen_loss": gen, "disc_loss": disc}


def window_means(values, window: int) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    n = len(x) // window * window
    return x[:n].reshape(-1, window).mean(axis=1)


def compare_curves(ref: dict, other: dict, window: int, rtol: float, noise: dict | None = None) -> dict:
    """Max relative gap of `other` to `ref` over window means, per loss, against the tolerance `rtol`, or
    max(rtol, 3 x the relative gap between `ref` and `noise`, a second seed of the same loop)."""
    out = {"window": window, "rtol": rtol, "ok": True}
    for key in ("gen_loss", "disc_loss"):
        a, b = window_means(ref[key], window), window_means(other[key], window)
        gap = np.abs(b - a) / np.abs(a)
        tol = np.full_like(gap, rtol)
        if noise is not None:
            tol = np.maximum(tol, 3 * np.abs(window_means(noise[key], window) - a) / np.abs(a))
        ok = bool(np.all(np.isfinite(gap)) and np.all(gap <= tol))
        out[key] = {"max_rel_gap": float(gap.max()), "tolerance": float(tol.min()) if noise is None else
                    [round(float(t), 4) for t in tol], "ok": ok,
                    "first_window": [float(a[0]), float(b[0])], "last_window": [float(a[-1]), float(b[-1])]}
        out["ok"] &= ok
    return out


def curve_checks(args, device) -> dict:
    """Both loss-curve comparisons (module docstring), from the same initial weights and token rows."""
    shape, seq_len, batch, steps = args.curve_shape, args.curve_seq_len, args.curve_batch, args.curve_steps
    window = max(2, min(CURVE_WINDOW, steps // 5))
    rows = synthetic_rows(batch * steps + batch, seq_len, SHAPES[shape][3], args.seed + 1)
    packed = write_packed(rows, SHAPES[shape][3], Path(args.tmp) / "curves")
    to_dev = lambda b: {k: torch.as_tensor(np.asarray(v)).to(device) for k, v in b.items()}

    def plain(v: Plain, seed: int, dropout: float, stream: int | None = None):
        gen, disc = electra_pair(shape, seq_len, v.attn, seed, dropout)
        torch.manual_seed(seed if stream is None else stream)  # masks, samples and dropout draw from here
        return plain_runner(v, gen.to(device), disc.to(device), device, steps)

    same_rtol = SAME_RTOL["bf16" if device.type == "cuda" else "fp32"]
    result = {"shape": shape, "seq_len": seq_len, "batch": batch, "steps": steps}
    free(device)
    # The masked-only head (and static slots) vs the plain loop: identical masks and draws, dropout 0.
    slots = lambda i: to_dev(own_slots(rows[i * batch:(i + 1) * batch], args.seed, i))
    ref = run_curve(plain(BASELINE, args.seed, 0.0), slots, steps)
    lever = Plain("masked-only head, static slots", masked_head=True, static=True)
    result["lever_equivalence"] = compare_curves(ref, run_curve(plain(lever, args.seed, 0.0), slots, steps), window,
                                                   same_rtol)
    try:
        gen, disc = electra_pair(shape, seq_len, "sdpa", args.seed, 0.0, tie=False)
        tk_step, tk_batch = toolkit_runner(gen, disc, packed, batch, device, steps, args.seed, dropout=0.0)
        toolkit = run_curve(tk_step, tk_batch, steps)
        same = run_curve(plain(BASELINE, args.seed, 0.0), tk_batch, steps)
        tk_step.close()
        result["same_math"] = compare_curves(same, toolkit, window, same_rtol)
        gen, disc = electra_pair(shape, seq_len, "sdpa", args.seed, 0.1, tie=False)
        tk_step, tk_batch = toolkit_runner(gen, disc, packed, batch, device, steps, args.seed, dropout=0.1)
        toolkit = run_curve(tk_step, tk_batch, steps)
        ids_only = lambda i: {"input_ids": tk_batch(i)["input_ids"]}  # same rows, the plain loop's own masks
        user = run_curve(plain(BASELINE, args.seed, 0.1), ids_only, steps)
        user2 = run_curve(plain(BASELINE, args.seed, 0.1, stream=args.seed + 1), ids_only, steps)
        tk_step.close()
        result["plain_user_loop"] = compare_curves(user, toolkit, window, USER_RTOL, noise=user2)
        result["curves"] = {"plain": user, "plain_seed2": user2, "toolkit": toolkit}
    except RuntimeError as exc:
        if not str(exc).startswith("unavailable"):
            raise
        result["toolkit"] = str(exc)
        result["curves"] = {"plain": ref}
    return result


# ------------------------------------------------------------------------------------------- reports
def verdict(c: dict) -> str:
    return (f"{'PASS' if c['ok'] else 'FAIL'} (max gap gen {c['gen_loss']['max_rel_gap']:.2g}, disc "
            f"{c['disc_loss']['max_rel_gap']:.2g}; tolerance {c['rtol']:g}"
            + (" or 3x seed gap)" if isinstance(c["gen_loss"]["tolerance"], list) else ")"))


def results_section(rows: list[dict], curves: dict | None, env: dict, ceiling: tuple, command: str) -> str:
    """The body of RESULTS.md's "Pretraining speed (GPU)" section."""
    lines = []
    if not env["device"].startswith(("NVIDIA", "Tesla")) and "H100" not in env["device"]:
        lines += ["**CPU smoke run at tiny shapes: these are NOT performance figures. The H100 numbers are not "
                  "yet measured** (see benchmarks/README.md for the one-command GPU run).", ""]
    v = env["versions"]
    lines += [f"Device: {env['device']}; torch {v['torch']}, transformers {v['transformers']}, CUDA {v['cuda']}; "
              f"{env['date']}. Command: `{command}`. Ceiling for MFU: {ceiling[0]:.3g} TFLOP/s ({ceiling[1]}, "
              "measured in the same run). Model FLOPs: formula in the script's docstring.", "",
              "| model | seq | batch | path | precision | tokens/s | seq/s | vs baseline | model TFLOP/s | MFU | peak GiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['model']} | {r['seq_len']} | {r['batch']} | {r['path']} | | {r['status']} | | | | | |")
            continue
        peak = f"{r['peak_gib']:.1f}" if r["peak_gib"] is not None else "n/a"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] else "n/a"
        lines.append(f"| {r['model']} | {r['seq_len']} | {r['batch']} | {r['path']} | {r['precision']} | "
                     f"{r['tokens_per_s']:,.0f} | {r['seq_per_s']:,.1f} | {ratio} | {r['model_tflops']:.3g} | "
                     f"{r['mfu']:.1%} | {peak} |")
    lines += ["", "Targets (one H100): " + "; ".join(f"{m}-{s}: {t}" for (m, s), t in TARGETS.items()) + "."]
    if any(r["date"] != env["date"] for r in rows):
        lines += ["", "Some rows come from an earlier run on the same device (--append); each row's date, "
                  "versions and ceiling are in benchmarks/results/pretrain_speed.json."]
    if curves and "error" in curves and "shape" not in curves:
        lines += ["", f"Loss curves: error: {curves['error']}"]
    elif curves:
        lines += ["", f"Loss curves ({curves['shape']}, seq {curves['seq_len']}, batch {curves['batch']}, "
                  f"{curves['steps']} steps, same initial weights; max relative gap of window means; "
                  "tolerances in the script's docstring):"]
        for key, what in (("lever_equivalence", "plain loop vs masked-only head + static slots (same masks/draws)"),
                          ("same_math", "toolkit vs plain loop fed the toolkit's masks and draws, dropout 0"),
                          ("plain_user_loop", "toolkit vs plain loop with its own masking, dropout 0.1")):
            if key in curves:
                c = curves[key]
                lines.append(f"- {what}: {verdict(c)}")
        for key in ("toolkit", "error"):
            if key in curves:
                lines.append(f"- {key}: {curves[key]}")
    return "\n".join(lines) + "\n"


def write_section(path: Path, heading: str, body: str) -> None:
    """Replace only the body of `heading` in RESULTS.md (other sections belong to other benchmarks)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else f"# Benchmark results\n\n{heading}\n\n"
    if heading not in text:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n"
    start = text.index(heading) + len(heading)
    end = text.find("\n## ", start)
    end = len(text) if end == -1 else end + 1
    path.write_text(text[:start] + "\n\n" + body + ("\n" if end < len(text) else "") + text[end:], encoding="utf-8")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny shapes, few steps")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--models", default=None, help="comma list of small,base,tiny")
    p.add_argument("--seq-lens", default=None, help="comma list, e.g. 128,512")
    p.add_argument("--levers", default=None, help="shapes for the lever ladder, e.g. base:128,small:128 ('' = none)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--groups", type=int, default=5)
    p.add_argument("--group", type=int, default=None, help="steps per timed group")
    p.add_argument("--curve-steps", type=int, default=None, help="loss-curve steps (0 = skip the comparison)")
    p.add_argument("--budget-s", type=float, default=360.0,
                   help="start no optional row (compiled toolkit, levers) after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 1 with --tiny)")
    p.add_argument("--out", default=str(HERE / "results" / "pretrain_speed.json"))
    p.add_argument("--results-md", default=str(HERE / "RESULTS.md"), help="'' = do not touch RESULTS.md")
    p.add_argument("--append", action="store_true",
                   help="keep the rows (and curves) already in --out that this run does not re-measure")
    args = p.parse_args(argv)
    tiny = args.tiny
    args.models = (args.models or ("tiny" if tiny else "small,base")).split(",")
    args.seq_lens = [int(s) for s in (args.seq_lens or ("32,64" if tiny else "128,512")).split(",")]
    levers = args.levers if args.levers is not None else ("tiny:32" if tiny else "base:128,small:128")
    args.lever_shapes = [(m, int(s)) for m, s in (x.split(":") for x in levers.split(",") if x)]
    args.warmup = args.warmup if args.warmup is not None else (1 if tiny else 5)
    args.group = args.group or (2 if tiny else 4)
    args.curve_steps = args.curve_steps if args.curve_steps is not None else (30 if tiny else 200)
    args.curve_shape, args.curve_seq_len, args.curve_batch = ("tiny", 32, 8) if tiny else ("small", 128, 32)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    args.t0 = time.perf_counter()
    if args.threads or args.tiny:
        torch.set_num_threads(args.threads or 1)  # a tiny model gains nothing from threads on a shared CPU
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    env = environment(device)
    command = "python benchmarks/pretrain_speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{env['device']} | " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + f" | {env['date']}")
    ceiling = matmul_ceiling(device)
    print(f"matmul ceiling: {ceiling[0]:.1f} TFLOP/s ({ceiling[1]})", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state = {"rows": [], "curves": None}
    earlier, earlier_curves = [], None
    if args.append and out.is_file():  # a second command on the same device adds rows to the first one's
        earlier = json.loads(out.read_text(encoding="utf-8"))
        curves_file = out.with_name(out.stem + "_curves.json")
        earlier_curves = json.loads(curves_file.read_text(encoding="utf-8")) if curves_file.is_file() else None

    def write(rows=None):
        if rows is not None:
            fresh = {(r["model"], r["seq_len"], r["batch"], r["path"]) for r in rows}
            state["rows"] = [r for r in earlier if (r["model"], r["seq_len"], r["batch"], r["path"]) not in fresh] + rows
        state["curves"] = state["curves"] or earlier_curves
        out.write_text(json.dumps(state["rows"], indent=1), encoding="utf-8")
        if state["curves"] is not None:
            out.with_name(out.stem + "_curves.json").write_text(json.dumps(state["curves"]), encoding="utf-8")
        if args.results_md:
            curves = {k: v for k, v in (state["curves"] or {}).items() if k != "curves"} or None
            write_section(Path(args.results_md), "## Pretraining speed (GPU)",
                          results_section(state["rows"], curves, env, ceiling, command.strip()))

    with tempfile.TemporaryDirectory() as tmp:
        args.tmp = tmp
        rows = speed_rows(headline_plan(args), [], args, device, env, ceiling[0], write)
        if args.curve_steps:
            try:
                state["curves"] = curve_checks(args, device)
            except Exception as exc:
                traceback.print_exc()
                state["curves"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            write()
            for key in ("lever_equivalence", "same_math", "plain_user_loop"):
                if key in state["curves"]:
                    print(f"loss curves, {key}: {verdict(state['curves'][key])}")
        speed_rows(optional_plan(args), rows, args, device, env, ceiling[0], write, optional=True)
    print(f"wrote {out} in {time.perf_counter() - args.t0:.0f} s")
    return state


if __name__ == "__main__":
    main()
