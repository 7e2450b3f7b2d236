"""The training loop, shared by the CLI and the app: `train(...)` yields events as it goes.

It counts steps, not epochs. Every step re-seeds the random generators from (seed, step), so
data order, crops, z and dropout are a function of the step alone: a resumed run replays the
same randomness an uninterrupted one would have, and resumes give identical weights on CPU.
Under torchrun every process runs this same loop on its shard of the global batch (see
distributed.py); one process is the world of size 1.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import torch
from PIL import Image
from torch import nn

from . import distributed
from .checkpoint import (CheckpointError, atomic_write, load_continuation, load_into, load_release, load_state,
                         save_release, save_state)
from .config import ConfigError, from_dict, to_dict
from .data import (DataError, PairedImages, Source, align_sketches, concat, is_photo_folder, is_unaligned,
                   load_aligned, load_photos, load_unaligned, make_batch, parse_sources, split_folder)
from .device import native_bf16, pick_device
from .edges import augment_sketch, edges_of_photos, normalize_sketch, stroke_width_for
from .images import from_unit, grid, to_pil, to_unit
from .models import ModelConfig, build_model, family, model_config_from_dict
from .tracking import check_tracker, tracked

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Settings of one run. The learning-rate schedule is the papers': constant, then linear to 0."""
    data: str                        # aligned: folder of A|B images (or with train/ val/); unaligned: trainA/trainB;
                                     # a mix: "PATH@W,PATH@W" (a folder of photos alone gets sketches on the fly)
    out: str                         # run folder: checkpoints, samples, log
    iters: int = 20000
    batch_size: int = 2              # per process (x the number of processes = the global batch);
                                     # BicycleGAN needs an even size (encoded half + random half)
    lr: float = 2e-4
    beta1: float = 0.5
    decay_from: float = 0.5          # fraction of iters after which the lr decays linearly to 0
    direction: str = "AtoB"
    load_size: Optional[int] = None  # None: size * 9/8, cropped back to size (pix2pix's 286 -> 256)
    flip: bool = False               # off by default: edges2shoes shoes all point left
    sketch_aug: bool = False         # stroke-width / sparsity augmentation of edge inputs
    align_sketch: bool = False       # move each training pair's sketch onto its photo's shoe (data.align_sketches)
    limit: Optional[int] = None      # use only the first N training images
    seed: int = 0
    checkpoint_every: int = 500
    sample_every: int = 250
    log_every: int = 25
    n_samples: int = 4               # rows (validation inputs) in the sample grid
    n_z: int = 5                     # columns of fixed random z in the sample grid
    device: str = "auto"             # auto: cuda if available, else cpu
    amp: bool = True                 # bf16 autocast + channels_last on CUDA and on CPUs with native bf16
    compile: bool = False            # torch.compile the networks (CUDA)
    ema: float = 0.999               # decay of the moving average of G and E kept for release; 0: off
    init_from: Optional[str] = None  # start from a release's continuation weights (see checkpoint.save_continuation)
    dist_timeout: float = 600.0      # seconds a rank waits for the others (torchrun) before the run ends with an error
    log: Optional[str] = None        # also send losses and sample grids to "tensorboard" or "trackio" (tracking.py)


@dataclass
class Event:
    """What the loop reports: kind is start, log, sample, checkpoint or done."""
    kind: str
    step: int
    total: int
    logs: dict[str, float] = field(default_factory=dict)
    image: Optional[Image.Image] = None
    path: Optional[str] = None
    elapsed: float = 0.0
    images_per_sec: float = 0.0
    message: str = ""


RESUME_OVERRIDES = ("iters", "checkpoint_every", "sample_every", "log_every", "device", "out", "dist_timeout", "log")


def resume_configs(out: str | Path, overrides: dict[str, Any] | None = None, *,
                   state: dict[str, Any] | None = None) -> tuple[ModelConfig, TrainConfig]:
    """How the run in folder `out` goes on: the model and training configs saved in its training
    state, with `overrides` of the fields a resume may change (RESUME_OVERRIDES: a longer run,
    other cadences, another device). The CLI, the app and train(resume=True) all ask this.

    state: the training state when the caller has loaded it already.
    Raises CheckpointError when `out` holds no training state, ConfigError for an override a
    resume cannot change, ValueError for iters below the steps the run has done.
    """
    overrides = {**(overrides or {}), "out": str(out)}
    if state is None:
        state = load_state(out, mmap=True)  # the configs alone: no tensor is read
    saved = {**state["model_config"], **state["train_config"]}
    # a flag repeating the run's own setting is fine (a resume command may repeat the first one)
    fixed = sorted(k for k, v in overrides.items() if k not in RESUME_OVERRIDES and saved.get(k, v) != v)
    if fixed:
        raise ConfigError(f"{', '.join(fixed)} cannot change when a run is resumed (only "
                          f"{', '.join(RESUME_OVERRIDES)}); start a new run to change them")
    overrides = {k: v for k, v in overrides.items() if k in RESUME_OVERRIDES}
    mcfg = model_config_from_dict(state["model_config"])
    tcfg = from_dict(TrainConfig, {**state["train_config"], **overrides})
    if tcfg.iters < state["step"]:
        raise ValueError(f"--iters {tcfg.iters} is below the {state['step']} steps this run has already done")
    return mcfg, tcfg


def continued_model_config(release_model: dict, changes: dict[str, Any]) -> ModelConfig:
    """The model a continued run (--init-from) trains: the release's, with the objective's weights
    (the family's Config.loss_fields) taken from `changes`; the networks stay the release's."""
    fields = family(release_model["model"]).Config.loss_fields
    return model_config_from_dict({**release_model, **{k: v for k, v in changes.items() if k in fields}})


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63)


def load_data(mcfg: ModelConfig, tcfg: TrainConfig, sources: list[Source], split: str, train: bool) -> PairedImages:
    """Training images (stored at load_size, for random crops) or held-out ones (at size).

    Held-out images come from the first source of a mix (the one sample grids show).
    """
    load_size = (tcfg.load_size or mcfg.size * 9 // 8) if train else mcfg.size
    sources = sources if train else sources[:1]
    limit = tcfg.limit if train else None
    parts = []
    for src in sources:
        if is_unaligned(src.path):
            parts.append(load_unaligned(src.path, split=split, load_size=load_size, input_nc=mcfg.input_nc,
                                        output_nc=mcfg.output_nc, limit=limit))
        elif is_photo_folder(src.path):
            if not (mcfg.uses_z and mcfg.input_nc == 1):
                raise DataError(f"{src.path} holds photos alone: only an edge-map model (input_nc 1, not "
                                f"{mcfg.model}) can train on it, with sketches drawn from the photos")
            if not train:
                raise DataError(f"{src.path} holds photos alone: no held-out sketches to show")
            parts.append(load_photos(src.path, load_size=load_size, input_nc=mcfg.input_nc,
                                     output_nc=mcfg.output_nc, limit=limit))
        else:
            part = load_aligned(split_folder(src.path, split), load_size=load_size, direction=tcfg.direction,
                                input_nc=mcfg.input_nc, output_nc=mcfg.output_nc, limit=limit)
            parts.append(align_sketches(part) if train and tcfg.align_sketch else part)
    return concat(parts)


def prepare_input(a: torch.Tensor, mcfg: ModelConfig, generator: torch.Generator | None,
                  photo: torch.Tensor | None = None, has_a: torch.Tensor | None = None) -> torch.Tensor:
    """The network's input for a batch: edge maps drawn from the photo where a sample has no A
    (has_a False), then, for a sketch_norm model, the same normalisation as at inference."""
    if has_a is not None and not bool(has_a.all()):
        drawn = from_unit(edges_of_photos(photo))
        a = torch.where(has_a.view(-1, 1, 1, 1), a, drawn)
    if not mcfg.sketch_norm:
        return a
    gray = to_unit(a)
    if generator is not None:
        gray = augment_sketch(gray, generator)
    return from_unit(normalize_sketch(gray, width=stroke_width_for(mcfg.size)))


def continuation_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The networks a release leaves out (the discriminators): what a continuation stores."""
    release = model.release_modules()
    return {k: m for k, m in model.named_children() if k not in release}


def use_amp(device: torch.device, asked: bool) -> bool:
    """bf16 autocast when asked for and the hardware does bf16 natively."""
    return asked and native_bf16(device)


def set_trainable(model: nn.Module, phase: str) -> None:
    """The one place requires_grad is toggled: only the networks of `phase` get gradients."""
    for name, modules in model.param_groups().items():
        for m in modules:
            m.requires_grad_(name == phase)


class EpochSampler:
    """Index of the j-th sample of step s: a fresh permutation of the data every epoch."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self._cache: tuple[int, torch.Tensor] | None = None

    def indices(self, step: int, batch: int) -> torch.Tensor:
        out = []
        for p in range(step * batch, (step + 1) * batch):
            epoch = p // self.n
            if self._cache is None or self._cache[0] != epoch:
                g = torch.Generator().manual_seed(step_seed(self.seed + 7919, epoch))
                self._cache = (epoch, torch.randperm(self.n, generator=g))
            out.append(int(self._cache[1][p % self.n]))
        return torch.tensor(out)


class MixSampler:
    """Indices for a mix of sources: each sample picks a source with probability proportional to
    its weight, then an image of it uniformly; a function of (seed, step) alone, so resumes stay exact."""

    def __init__(self, source: torch.Tensor, weights: list[float], seed: int):
        self.seed = seed
        self.weights = torch.tensor(weights, dtype=torch.double)
        self.sizes = torch.bincount(source.cpu(), minlength=len(weights))
        self.offsets = torch.cumsum(self.sizes, 0) - self.sizes

    def indices(self, step: int, batch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(step_seed(self.seed + 104_729, step))
        src = torch.multinomial(self.weights, batch, replacement=True, generator=g)
        within = (torch.rand(batch, generator=g, dtype=torch.double) * self.sizes[src]).long()
        return self.offsets[src] + within


@torch.no_grad()
def ema_update(ema: dict[str, nn.Module], live: dict[str, nn.Module], decay: float) -> None:
    """ema = decay * ema + (1 - decay) * live, for every parameter and floating buffer."""
    for name, m in live.items():
        ema_params = list(ema[name].parameters()) + [b for b in ema[name].buffers() if b.is_floating_point()]
        live_params = list(m.parameters()) + [b for b in m.buffers() if b.is_floating_point()]
        torch._foreach_lerp_(ema_params, [p.detach() for p in live_params], 1.0 - decay)


def train(mcfg: ModelConfig | None, tcfg: TrainConfig, *, resume: bool = False,
          stop: threading.Event | None = None) -> Iterator[Event]:
    """Train `mcfg` as `tcfg` says, yielding events; rank 0 writes everything under tcfg.out.

    Under torchrun (RANK, WORLD_SIZE in the environment) every process calls this and trains on
    its shard of a global batch of tcfg.batch_size x WORLD_SIZE; without it, one process.
    resume: continue from tcfg.out/train_state.pt (weights, optimisers, schedulers, step,
    image pools), with the configs resume_configs gives: the saved ones, but for tcfg's fields
    in RESUME_OVERRIDES (to lengthen a run, or report more often); mcfg may be None.
    stop: set it from another thread to end the run cleanly after a checkpoint.
    With tcfg.log, rank 0 also sends the events to TensorBoard or trackio (tracking.py).
    """
    check_tracker(tcfg.log)  # an unknown tracker or a missing package fails before any work
    events = _train(mcfg, tcfg, resume=resume, stop=stop)
    if tcfg.log is not None and distributed.world_from_env().main:
        events = tracked(events, tcfg.log, Path(tcfg.out))
    return _closing_process_group(events)


def _closing_process_group(events: Iterator[Event]) -> Iterator[Event]:
    """The events, then the process group ended (torchrun), however the run stops."""
    finished = False
    try:
        yield from events
        finished = True
    finally:
        distributed.close(clean=finished)


def _train(mcfg: ModelConfig, tcfg: TrainConfig, *, resume: bool, stop: threading.Event | None) -> Iterator[Event]:
    out = Path(tcfg.out)
    state = None
    if resume:
        state = load_state(out)
        mcfg, tcfg = resume_configs(out, {k: getattr(tcfg, k) for k in RESUME_OVERRIDES}, state=state)
    elif tcfg.init_from:
        cont_info, cont_weights = load_continuation(tcfg.init_from)
        same = mcfg is not None and mcfg.model == cont_info["model"]["model"]
        mcfg = continued_model_config(cont_info["model"], dataclasses.asdict(mcfg) if same else {})
        if tcfg.iters <= cont_info["step"]:
            raise ValueError(f"--iters {tcfg.iters} must be above the {cont_info['step']} steps {tcfg.init_from} has done")
    device = pick_device(tcfg.device)
    world = distributed.world_from_env()
    distributed.check_batch(mcfg.model, mcfg.even_batch, tcfg.batch_size, world)
    sources = parse_sources(tcfg.data)  # every folder checked before anything is loaded or written
    device = distributed.init(world, device, tcfg.dist_timeout)  # this rank's GPU under torchrun
    if world.main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"cannot create the run folder {out}: {e.strerror or e}") from None
        for stale in out.glob(".*.tmp"):  # half-written files of a run killed mid-write (atomic_write's names)
            stale.unlink(missing_ok=True)
    torch.manual_seed(tcfg.seed)
    if device.type == "cpu":
        # Adam's second moments underflow to subnormal floats, which x86 CPUs process slowly;
        # flushed to zero, they cost nothing in accuracy and keep the CPU on its fast path.
        torch.set_flush_denormal(True)

    unaligned = is_unaligned(sources[0].path)
    data = load_data(mcfg, tcfg, sources, "train", train=True).to(device)
    for skipped in data.skipped:
        log.warning("skipped an unreadable image: %s", skipped)
    distributed.check_same(len(data), "the number of training images", device)
    try:
        val = load_data(mcfg, tcfg, sources, "val" if not unaligned else "test", train=False)
    except ValueError:
        val = load_data(mcfg, tcfg, sources, "train", train=False)  # no held-out split: sample from training data
    n_show = min(tcfg.n_samples, len(val))
    val_a, val_b = make_batch(val, torch.arange(n_show), torch.arange(n_show), size=mcfg.size, generator=None)
    val_a = prepare_input(val_a, mcfg, None).to(device)
    val_b = val_b.to(device)
    fixed_z = torch.randn(tcfg.n_z, mcfg.nz, generator=torch.Generator().manual_seed(tcfg.seed)).to(device) \
        if mcfg.uses_z else None

    model = distributed.sync_batch_norm(build_model(mcfg), device).to(device)
    distributed.broadcast_module(model)  # every rank starts from rank 0's weights
    cuda = device.type == "cuda"
    amp = use_amp(device, tcfg.amp)
    if amp:  # oneDNN and cuDNN run bf16 convolutions fastest on NHWC tensors
        model = model.to(memory_format=torch.channels_last)
    opts = {name: torch.optim.Adam([p for m in mods for p in m.parameters()], lr=tcfg.lr, betas=(tcfg.beta1, 0.999),
                                   **({"fused": True} if cuda else {"foreach": True}))
            for name, mods in model.param_groups().items()}
    decay_start = int(tcfg.iters * tcfg.decay_from)
    decay_len = max(1, tcfg.iters - decay_start)
    scheds = {name: torch.optim.lr_scheduler.LambdaLR(
        o, lambda s: 1.0 - max(0, s - decay_start) / decay_len) for name, o in opts.items()}
    # The release holds a moving average of G and E: it smooths the step-to-step jitter of GAN
    # training, which shows as blotchy texture in any single snapshot (as in StyleGAN, EDM).
    ema = {k: copy.deepcopy(m).requires_grad_(False) for k, m in model.release_modules().items()} if tcfg.ema else {}
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        for name in opts:
            opts[name].load_state_dict(state["optim"][name])
            scheds[name].load_state_dict(state["sched"][name])
        if hasattr(model, "load_extra_state"):
            model.load_extra_state(state["extra"], device)
        for k, m in ema.items():
            m.load_state_dict(state["ema"][k] if state.get("ema") else model.release_modules()[k].state_dict())
        step = state["step"]
    elif tcfg.init_from:
        # The live G and E restart from the release's averaged weights (the run's raw ones are not
        # shipped), the discriminators from continue.safetensors; Adam's moments start afresh.
        _, release = load_release(tcfg.init_from)
        load_into(model.release_modules(), release, str(tcfg.init_from))
        load_into(continuation_modules(model), cont_weights, str(tcfg.init_from))
        for k, m in ema.items():
            m.load_state_dict(model.release_modules()[k].state_dict())
        step = cont_info["step"]
        for s in scheds.values():  # the learning-rate schedule goes on from the continued step
            s.last_epoch = step
            for group, base, lr_at in zip(s.optimizer.param_groups, s.base_lrs, s.lr_lambdas):
                group["lr"] = base * lr_at(step)
    forward_train, loss_fn = model.forward_train, model.loss
    if tcfg.compile:
        for m in (m for mods in model.param_groups().values() for m in mods):
            m.compile()

    config_text = json.dumps({"model": to_dict(mcfg), "train": dataclasses.asdict(tcfg)}, indent=2)
    if world.main:
        atomic_write(out / "run.json", lambda p: Path(p).write_text(config_text))
    sampler = EpochSampler(len(data), tcfg.seed) if len(sources) == 1 else \
        MixSampler(data.source, [src.weight for src in sources], tcfg.seed)

    def checkpoint() -> Path:
        if not world.main:
            return out / "train_state.pt"
        extra = model.extra_state() if hasattr(model, "extra_state") else {}
        path = save_state(out, {
            "step": step, "model_config": to_dict(mcfg), "train_config": dataclasses.asdict(tcfg),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optim": {k: o.state_dict() for k, o in opts.items()},
            "sched": {k: s.state_dict() for k, s in scheds.items()}, "extra": extra,
            "ema": {k: {n: v.detach().cpu() for n, v in m.state_dict().items()} for k, m in ema.items()}})
        save_release(out, mcfg, ema or model.release_modules())
        return path

    def sample() -> tuple[Image.Image, Path]:
        model.eval()
        live = model.release_modules()
        for k, m in ema.items():  # the grid shows what the release will draw
            setattr(model, k, m)
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            rows = model.sample_rows(val_a, val_b, fixed_z)
        for k, m in live.items():
            setattr(model, k, m)
        model.train()
        img = grid([[to_pil(t) for t in row] for row in rows], cell=min(mcfg.size, 128))
        path = out / "samples" / f"step_{step:07d}.png"
        atomic_write(path, lambda p: img.save(p, format="PNG"))
        return img, path

    t0, imgs_seen = time.perf_counter(), 0
    sums: dict[str, torch.Tensor] = {}
    n_sums = 0
    counts = ", ".join(f"{int((data.source == i).sum())} from {src.path} (weight {src.weight:g})"
                       for i, src in enumerate(sources)) if len(sources) > 1 else f"{len(data)} images"
    skipped = f"; skipped {len(data.skipped)} unreadable images" if data.skipped else ""
    moved = f"; moved {data.moved} sketches onto their photos' shoes" if tcfg.align_sketch else ""
    # Every rank draws the same global batch (same indices, crops and augmentation, from the
    # shared random state) and keeps its rows: the shards together are the batch one process
    # would train on. A model that splits its batch in two halves (even_batch: BicycleGAN's encoded
    # and random halves) gets its slice of each half.
    global_batch = tcfg.batch_size * world.size
    mine = distributed.shard_rows(global_batch, groups=2 if mcfg.even_batch else 1).to(device)
    ranks = (f"; batch {tcfg.batch_size} per process x {world.size} processes = {global_batch}"
             if world.size > 1 else "")
    yield Event("start", step, tcfg.iters,
                message=f"training {mcfg.model} on {device}{' with bf16 autocast' if amp else ''} ({counts}){skipped}{moved}{ranks}")
    while step < tcfg.iters:
        if distributed.any_rank(stop is not None and stop.is_set(), device):  # all ranks stop at the same step
            path = checkpoint()
            yield Event("done", step, tcfg.iters, path=str(path), elapsed=time.perf_counter() - t0, message="stopped")
            return
        seed = step_seed(tcfg.seed, step)
        torch.manual_seed(seed)  # z, dropout, image pool
        g = torch.Generator().manual_seed(seed + 1)  # crops, flips, sketch augmentation
        a_idx = sampler.indices(step, global_batch)
        b_idx = torch.randint(len(data), (global_batch,), generator=g) if unaligned else a_idx
        a, b = make_batch(data, a_idx.to(device), b_idx.to(device), size=mcfg.size, generator=g, flip=tcfg.flip)
        a = prepare_input(a, mcfg, g, photo=b, has_a=data.has_a[a_idx.to(device)])
        if world.size > 1:
            a, b = a[mine], b[mine]
        if amp:
            a, b = a.contiguous(memory_format=torch.channels_last), b.contiguous(memory_format=torch.channels_last)
        set_trainable(model, "G")  # the generators' graph is built once and used by every phase
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            fwd = forward_train(a, b)
        for phase in model.phases:
            set_trainable(model, phase)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss, logs = loss_fn(phase, fwd)
            opts[phase].zero_grad(set_to_none=True)
            loss.backward()
            distributed.average_gradients(opts[phase].param_groups[0]["params"])
            opts[phase].step()
            for k, v in logs.items():  # summed on the device: no host sync until we log
                sums[k] = sums.get(k, 0) + v.detach().float()
        n_sums += 1
        if ema:  # warm-up: early on the average follows the fast-changing weights closely
            ema_update(ema, model.release_modules(), min(tcfg.ema, (1 + step) / (10 + step)))
        for s in scheds.values():
            s.step()
        step += 1
        imgs_seen += global_batch
        elapsed = time.perf_counter() - t0
        speed = imgs_seen / elapsed
        if step % tcfg.log_every == 0 or step == tcfg.iters:
            means = distributed.mean_over_ranks(list(sums.values()))  # the global batch's losses, on every rank
            logs_f = {k: float(v) / n_sums for k, v in zip(sums, means)}
            if not all(math.isfinite(v) for v in logs_f.values()):
                raise FloatingPointError(f"training diverged at step {step}: {logs_f}")
            logs_f["lr"] = scheds[model.phases[0]].get_last_lr()[0]
            if world.main:
                _append_log(out, step, logs_f)
            sums, n_sums = {}, 0
            yield Event("log", step, tcfg.iters, logs=logs_f, elapsed=elapsed, images_per_sec=speed)
        if tcfg.sample_every and world.main and (step % tcfg.sample_every == 0 or step == tcfg.iters):
            img, path = sample()
            yield Event("sample", step, tcfg.iters, image=img, path=str(path), elapsed=elapsed, images_per_sec=speed)
        if step % tcfg.checkpoint_every == 0 or step == tcfg.iters:
            path = checkpoint()
            yield Event("checkpoint", step, tcfg.iters, path=str(path), elapsed=elapsed, images_per_sec=speed)
    yield Event("done", step, tcfg.iters, path=str(out), elapsed=time.perf_counter() - t0,
                images_per_sec=imgs_seen / max(time.perf_counter() - t0, 1e-9), message="finished")


def _append_log(out: Path, step: int, logs: dict[str, float]) -> None:
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": step, **{k: round(v, 6) for k, v in logs.items()}}) + "\n")
