"""The training step: forward/backward over the micro-batches, clipping, a guarded AdamW update.

`make_train_step` is THE step that `pretrain()` runs, and the one a speed benchmark should time. It
never synchronises with the device (no `.item()`): metrics come back as 0-dim device tensors, and a
non-finite gradient skips the update on the device (fused AdamW's `found_inf`), so the host can queue
the next step while the GPU is still busy.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .config import PretrainConfig


def autocast_for(device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """bf16 autocast on CUDA (fp32 master weights and losses), plain fp32 elsewhere."""
    if device.type == "cuda":
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext


def build_optimizer(objective: nn.Module, config: PretrainConfig, device: torch.device,
                    fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW with decay on matrices only; fused kernels on CUDA. Shared (tied) tensors appear once."""
    decay, no_decay = [], []
    for _, param in objective.named_parameters():  # named_parameters() already drops duplicates
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    fused = device.type == "cuda" if fused is None else fused
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=config.lr, betas=(0.9, 0.999), eps=config.adam_eps, fused=fused)


def lr_factor(step: int, warmup_steps: int, progress: float) -> float:
    """Multiplier of the peak lr at optimizer step `step` (0-based): a linear warmup ramp and a linear
    decay line from 1 at the start to 0 when `progress` (share of the budget used) reaches 1; the smaller
    of the two."""
    warm = (step + 1) / warmup_steps if warmup_steps > 0 else 1.0
    return max(0.0, min(warm, 1.0 - progress))


def make_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, config: PretrainConfig,
                    device: torch.device | None = None) -> Callable[..., dict]:
    """Return `step(batch, lr=None) -> dict of 0-dim tensors`.

    `model` is an ElectraObjective (or it wrapped in DistributedDataParallel). `batch` holds this
    process's rows of one optimizer step (micro-batch size x grad_accum) on the device; it is split into
    `config.grad_accum` micro-batches whose gradients are accumulated (DDP synchronises on the last one
    only). Returned: loss, gen_loss, disc_loss (means over micro-batches), the sums gen_correct, masked,
    disc_correct, tokens, and grad_norm and skipped (1.0 when the update was skipped as non-finite).
    """
    objective = model.module if isinstance(model, DistributedDataParallel) else model
    device = device or next(objective.parameters()).device
    forward = torch.compile(model) if config.compile else model
    params = [p for group in optimizer.param_groups for p in group["params"]]
    fused = bool(optimizer.defaults.get("fused"))
    autocast = autocast_for(device)
    accum = config.grad_accum
    is_ddp = isinstance(model, DistributedDataParallel)

    def step(batch: dict, lr: float | None = None) -> dict:
        if lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr
        micro_batches = [dict(zip(batch, parts)) for parts in zip(*(v.chunk(accum) for v in batch.values()))]
        totals: dict = {}
        for i, micro in enumerate(micro_batches):
            sync = not is_ddp or i == accum - 1
            with (contextlib.nullcontext() if sync else model.no_sync()):
                with autocast():
                    out = forward(**micro)
                (out["loss"] / accum).backward()
            for key, value in out.items():
                totals[key] = totals.get(key, 0) + value.detach()
        norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        bad = ~torch.isfinite(norm)
        if fused:
            optimizer.found_inf = bad.float()  # the fused kernel skips the update (and the step count)
            optimizer.step()
        elif not bool(bad):  # non-fused (CPU): a host check costs nothing here
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        for key in ("loss", "gen_loss", "disc_loss", "anchor_loss"):
            if key in totals:
                totals[key] = totals[key] / accum
        totals["grad_norm"], totals["skipped"] = norm.detach(), bad.float()
        return totals

    return step
