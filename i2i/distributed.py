"""Data-parallel training over several processes (torchrun), and the world of one process.

`torchrun --nproc-per-node N -m i2i train ...` starts N copies of the training loop; each reads
its rank from the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT).
Without those variables the world is one process and every function here is a no-op, so the
single-process run is the same loop with a world size of 1.

How a step is split, so that W processes train exactly as one process with the W-times batch:
- Every rank holds the same random state (re-seeded from (seed, step)), draws the same global
  batch (indices, crops, sketch augmentation) and keeps its shard (`shard_rows`). The indices
  come from the loop's epoch sampler, a permutation per epoch seeded by (seed, epoch): what a
  DistributedSampler with set_epoch gives, with the single-process order.
- Per-sample noise a model draws (BicycleGAN's z, the encoder's epsilon, DiffAugment's
  transforms) comes from `randn_shard` and its kin: the global batch's draw, sliced, so it
  matches the single-process draw. (Dropout's masks are drawn per rank: with dropout on, the
  ranks' masks repeat and the run is no longer the single-process one.)
- Each phase's gradients are averaged over the ranks (`average_gradients`) before its optimiser
  steps. Every loss term is a mean over the batch, so the average of the shards' gradients is the
  gradient of the global batch's loss. (BicycleGAN's kl_reduction "sum" sums over the process's
  own encoded half: there the KL weight is that of the per-process batch.)
- CycleGAN's image pool is global: `all_gather_rows` collects every rank's fakes, each rank runs
  the same pool query on them and keeps its shard, so the pools stay identical on all ranks.
This is DistributedDataParallel's gradient averaging written out once per phase (as
NVlabs/stylegan3's training loop does): a GAN step runs several backward passes over networks
whose requires_grad is toggled per phase, which the DDP wrapper's one-forward-one-backward
bookkeeping does not fit.

Every collective is bounded by a timeout (TrainConfig.dist_timeout, 600 s by default): a rank
that dies or stalls ends the others with DistributedError instead of a hang.
"""
from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import Callable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


class DistributedError(RuntimeError):
    """A multi-process run cannot start or go on (rendezvous, a dead or stalled rank)."""


@dataclass(frozen=True)
class World:
    """Where this process stands: rank 0 of 1 for a plain run."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes checkpoints, samples and logs."""
        return self.rank == 0


def world_from_env() -> World:
    """The world torchrun describes in the environment (one process when it is not set)."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as e:
        raise DistributedError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers: {e}") from None
    if size < 1 or not 0 <= rank < size:
        raise DistributedError(f"RANK {rank} is outside WORLD_SIZE {size}")
    return World(rank=rank, size=size, local_rank=local)


def current() -> World:
    """The world of the initialised process group (one process when there is none)."""
    if dist.is_available() and dist.is_initialized():
        return World(rank=dist.get_rank(), size=dist.get_world_size(),
                     local_rank=int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return World()


_created = False  # whether init() made the process group (then close() ends it)
_abandoned = False  # whether close() left a group behind after an error (then exit_process skips teardown)


def init(world: World, device: torch.device, timeout_s: float) -> torch.device:
    """Join the other ranks: NCCL on GPUs, gloo on the CPU, every collective bounded by
    timeout_s. Returns this rank's device: its own GPU (cuda:LOCAL_RANK), or the CPU."""
    global _created
    if world.size == 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK {world.local_rank} but this machine has {torch.cuda.device_count()} "
                                   "GPUs: start at most one process per GPU (torchrun --nproc-per-node)")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise DistributedError(f"WORLD_SIZE is {world.size} but {' and '.join(missing)} are not set: "
                               "start the run with torchrun, which sets them")
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size,
                                timeout=datetime.timedelta(seconds=timeout_s),
                                **({"device_id": device} if device.type == "cuda" else {}))
    except (RuntimeError, ValueError) as e:  # DistStoreError, DistNetworkError are RuntimeErrors
        raise DistributedError(
            f"rank {world.rank} of {world.size} could not meet the others at {where} within {timeout_s:g} s "
            f"({_first_line(e)}): start all {world.size} processes (torchrun --nproc-per-node, and "
            "--nnodes/--rdzv-endpoint on every machine)") from None
    _created = True
    return device


def close(clean: bool = True) -> None:
    """End the process group init() made (a no-op in one process).

    clean: the run ended on every rank together (done or stopped), so the ranks first wait for
    each other and then end the group. After an error a peer may be dead, and gloo aborts a
    process (std::terminate) that tears down, or at exit destructs, a group with a broken
    connection: the group is left alone and `exit_process` ends the process without teardown.
    """
    global _created, _abandoned
    if _created and dist.is_initialized():
        if clean:
            try:
                dist.barrier()
            except RuntimeError:
                pass
            dist.destroy_process_group()
        else:
            _abandoned = True
    _created = False


def exit_process(code: int) -> None:
    """Exit with `code`; after close(clean=False), without Python's teardown (see close).

    Everything worth keeping is on disk by then (checkpoints are written atomically), so skipping
    the destructors loses nothing and keeps the exit code the one the error asked for.
    """
    if _abandoned:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _collective(what: str, fn: Callable[[], T]) -> T:
    """Run a collective; a dead or stalled peer becomes a DistributedError that says what to do."""
    try:
        return fn()
    except RuntimeError as e:  # gloo: connection closed or timed out; NCCL: the watchdog's abort
        w = current()
        raise DistributedError(
            f"rank {w.rank} of {w.size}: {what} failed, so another rank died or stalled past the timeout "
            f"({_first_line(e)}). The last checkpoint is intact: fix the cause and resume with --resume") from None


def shard_rows(n: int, groups: int = 1) -> torch.Tensor:
    """The rows of a global batch of n that this rank trains on.

    groups > 1 splits the batch in that many equal parts first and takes this rank's slice of
    each: BicycleGAN passes 2, so every rank gets its share of the global encoded half followed
    by its share of the random half, and its own batch splits in two halves as the model expects.
    """
    w = current()
    part, per = n // groups, n // groups // w.size
    return torch.cat([torch.arange(g * part + w.rank * per, g * part + (w.rank + 1) * per) for g in range(groups)])


def check_batch(model: str, even: bool, per_rank: int, world: World) -> None:
    """A per-process batch the model can split (`even`: it splits each batch in two halves); the
    error names the global batch too."""
    if per_rank < 1:
        raise ValueError(f"the batch size must be at least 1, got {per_rank}")
    if even and per_rank % 2:
        per = f" per process ({world.size} processes: a global batch of {per_rank * world.size})" if world.size > 1 else ""
        raise ValueError(f"{model} splits each process's batch into an encoded half and a random half: it needs "
                         f"an even batch size (--batch-size, per process), got {per_rank}{per}")


def randn_shard(n: int, *dims: int, device: torch.device | str | None = None,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """Gaussian noise for this rank's n rows: the global batch's draw (n x world rows, from the
    random state every rank shares), sliced. In one process it is torch.randn(n, *dims)."""
    w = current()
    if w.size == 1:
        return torch.randn(n, *dims, device=device, dtype=dtype)
    return torch.randn(n * w.size, *dims, device=device, dtype=dtype)[w.rank * n:(w.rank + 1) * n]


def rand_shard(n: int, *dims: int, device: torch.device | str | None = None,
               dtype: torch.dtype | None = None) -> torch.Tensor:
    """Uniform [0, 1) noise for this rank's n rows, drawn as randn_shard draws (DiffAugment)."""
    w = current()
    return torch.rand(n * w.size, *dims, device=device, dtype=dtype)[w.rank * n:(w.rank + 1) * n]


def randint_shard(low: int, high: int, n: int, *dims: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Integers in [low, high) for this rank's n rows, drawn as randn_shard draws (DiffAugment)."""
    w = current()
    return torch.randint(low, high, (n * w.size, *dims), device=device)[w.rank * n:(w.rank + 1) * n]


def all_gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Every rank's x (same shape on all) stacked along dim 0 in rank order: the global batch."""
    w = current()
    if w.size == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(w.size)]
    _collective("gathering a batch", lambda: dist.all_gather(parts, x.contiguous()))
    return torch.cat(parts)


def my_rows(x: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous slice of a global batch gathered by all_gather_rows."""
    w = current()
    n = x.shape[0] // w.size
    return x[w.rank * n:(w.rank + 1) * n]


def average_gradients(params: list[nn.Parameter], bucket_bytes: int = 64 << 20) -> None:
    """Replace each gradient by its mean over the ranks (flattened in buckets: one all-reduce per
    64 MB, not one per tensor)."""
    w = current()
    if w.size == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    bucket: list[torch.Tensor] = []
    size = 0
    for i, g in enumerate(grads):
        bucket.append(g)
        size += g.numel() * g.element_size()
        if size >= bucket_bytes or i == len(grads) - 1:
            flat = torch.cat([t.reshape(-1) for t in bucket])
            _collective("averaging gradients", lambda: dist.all_reduce(flat))
            flat /= w.size
            off = 0
            for t in bucket:
                t.copy_(flat[off:off + t.numel()].view(t.shape))
                off += t.numel()
            bucket, size = [], 0


def mean_over_ranks(values: list[torch.Tensor]) -> list[torch.Tensor]:
    """Scalars averaged over the ranks: the logged losses of the global batch."""
    w = current()
    if w.size == 1 or not values:
        return values
    flat = torch.stack([v.float().reshape(()) for v in values])
    _collective("averaging the logged losses", lambda: dist.all_reduce(flat))
    return list(flat / w.size)


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on one (a stop asked of one rank stops them all together)."""
    if current().size == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    _collective("agreeing on a stop", lambda: dist.all_reduce(t, op=dist.ReduceOp.MAX))
    return bool(t.item())


def check_same(value: int, what: str, device: torch.device) -> None:
    """Fail on every rank, with a message, when the ranks disagree about a number (e.g. the
    training set's size: every machine must see the same data)."""
    if current().size == 1:
        return
    t = torch.tensor([value, -value], device=device)
    _collective(f"comparing {what}", lambda: dist.all_reduce(t, op=dist.ReduceOp.MAX))
    if int(t[0]) != value or int(-t[1]) != value:
        raise DistributedError(f"the ranks disagree about {what}: between {int(-t[1])} and {int(t[0])} "
                               f"(this rank: {value}); every machine must see the same data and settings")


def broadcast_module(module: nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank, as DDP does at construction."""
    if current().size == 1:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        flat = t.data.contiguous()  # a channels_last tensor is sent as a contiguous copy
        _collective("sharing the initial weights", lambda: dist.broadcast(flat, src=0))
        if flat.data_ptr() != t.data.data_ptr():
            t.data.copy_(flat)


def sync_batch_norm(model: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm over the global batch (SyncBatchNorm) when several processes train; instance
    norm (the default) normalises each image alone and needs nothing."""
    if current().size == 1 or not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    if device.type != "cuda":
        raise DistributedError("norm 'batch' across several processes needs SyncBatchNorm, which PyTorch runs on "
                               "GPUs only: use --norm instance (the default) or train on GPUs")
    return nn.SyncBatchNorm.convert_sync_batchnorm(model)
