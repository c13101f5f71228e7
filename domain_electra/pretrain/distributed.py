"""Multi-process training with torchrun (DDP): `torchrun --nproc_per_node N -m domain_electra.cli pretrain ...`
or any script calling `pretrain()`. One process per GPU (or CPU processes with the gloo backend); several
nodes work the same way with torchrun's --nnodes/--rdzv options and a shared output folder.

The global batch is fixed by the config (see PretrainConfig): N processes split it, so N does not change
the math. Only rank 0 writes metrics, exports and the shared checkpoint files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we initialised the process group, so we tear it down

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise sum over processes of a small CPU tensor."""
        if self.size == 1:
            return values
        moved = values.cuda() if dist.get_backend() == "nccl" else values.clone()
        dist.all_reduce(moved, op=dist.ReduceOp.SUM)
        return moved.cpu()

    def any(self, flag: bool) -> bool:
        """True on every process when `flag` is true on at least one (stop decisions must agree)."""
        if self.size == 1:
            return flag
        value = torch.tensor([1.0 if flag else 0.0])
        if dist.get_backend() == "nccl":
            value = value.cuda()
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)


def init_world(device_kind: str) -> World:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device_kind == "cuda" else "gloo"
        if device_kind == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        owns = True
    return World(rank, size, local_rank, owns)


def close_world(world: World) -> None:
    if world.owns_group and dist.is_initialized():
        dist.destroy_process_group()
