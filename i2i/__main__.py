"""Command line: python -m i2i {train, generate, encode, evaluate, edges, sheet, export, push} --help"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import threading
import typing
from pathlib import Path

from .config import ConfigError
from .engine import ENGINES
from .models import FAMILIES, family, model_config, model_config_from_dict, model_names


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _bool(s: str) -> bool:
    if s.lower() in ("1", "true", "yes", "on"):
        return True
    if s.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {s!r}")


def _add_dataclass_flags(p: argparse.ArgumentParser, cls: type, skip: set[str], group: str) -> None:
    """One flag per config field, typed from the dataclass; unset flags keep the defaults."""
    g = p.add_argument_group(group)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or _flag(f.name) in p._option_string_actions:
            continue
        t = hints[f.name]
        base = next((a for a in typing.get_args(t) if a is not type(None)), t)
        g.add_argument(_flag(f.name), dest=f.name, type=_bool if base is bool else base, default=argparse.SUPPRESS,
                       metavar=base.__name__.upper(), help=f"default: {f.default}")


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .distributed import world_from_env
    from .train import TrainConfig, continued_model_config, resume_configs, train

    given = vars(args)
    model_fields = {f.name for f in dataclasses.fields(family(args.model).Config)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    all_model_fields = {f.name for cls in FAMILIES.values() for f in dataclasses.fields(cls.Config)}
    wrong = sorted(k for k in given if k in all_model_fields - model_fields - train_fields)
    if wrong:
        raise ConfigError(f"{', '.join(_flag(k) for k in wrong)} do not apply to {args.model}")
    if args.resume:  # the run's saved settings, with the flags given here where a resume may change them
        mcfg, tcfg = resume_configs(args.out, {k: v for k, v in given.items() if v is not None and k != "model"
                                               and k in train_fields | all_model_fields})
    elif given.get("init_from"):  # the continued run's model and settings, with the training flags given here
        from .checkpoint import load_continuation
        info, _ = load_continuation(given["init_from"])
        loss_fields = family(info["model"]["model"]).Config.loss_fields  # the objective's weights may change
        changed = sorted(k for k in given if k in model_fields and k != "model" and k not in loss_fields
                         and given[k] != info["model"].get(k))
        if changed:
            raise ConfigError(f"{', '.join(_flag(k) for k in changed)}: a continued run keeps the model of "
                              f"{given['init_from']} (only {', '.join(map(_flag, loss_fields))} may change); "
                              "start a new run to change it")
        mcfg = continued_model_config(info["model"], given)
        tcfg = TrainConfig(**{**info["train"], "out": args.out,
                              **{k: v for k, v in given.items() if k in train_fields and v is not None}})
    else:
        if args.data is None:
            raise ConfigError("--data is required (unless --resume or --init-from)")
        proposed_model, proposed_train = {}, {}
        if args.recipe == "data":  # what the images say, for the settings not given here
            from .device import pick_device
            from .recipe import propose_recipe
            recipe = propose_recipe(args.data, cuda=pick_device(given.get("device", "auto")).type == "cuda")
            proposed_model, proposed_train = recipe.model_fields(args.model), recipe.train_fields()
            if given.get("input_nc", recipe.input_nc) != recipe.input_nc:  # sketch handling is for line drawings
                proposed_model.pop("sketch_norm", None)
                proposed_train.pop("sketch_aug", None)
            print(f"recipe from the data: {recipe.summary()} (flags given here win)", file=sys.stderr)
        mcfg = model_config(args.model, **{**proposed_model, **{k: v for k, v in given.items()
                                                                 if k in model_fields and k != "model"}})
        tcfg = TrainConfig(**{**proposed_train, **{k: v for k, v in given.items() if k in train_fields}})
    # Ctrl-C or SIGTERM: finish the step, write a checkpoint, exit; a second Ctrl-C aborts at once
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping after this step (writing a checkpoint); press Ctrl-C again to abort", file=sys.stderr)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    events = train(mcfg, tcfg, resume=args.resume, stop=stop)
    try:
        if world_from_env().main:  # under torchrun, rank 0 alone reports
            _run_training(events, tqdm(total=tcfg.iters, unit="it", dynamic_ncols=True), tcfg)
        else:
            for _ in events:
                pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def _run_training(events, bar, tcfg) -> None:
    for ev in events:
        if ev.kind == "start":
            bar.n = ev.step
            bar.total = ev.total
            bar.write(ev.message)
        elif ev.kind == "log":
            bar.update(ev.step - bar.n)
            bar.set_postfix({k: f"{v:.3g}" for k, v in ev.logs.items() if k != "lr"} | {"img/s": f"{ev.images_per_sec:.1f}"})
        elif ev.kind == "checkpoint":
            bar.write(f"step {ev.step}: checkpoint {ev.path}")
        elif ev.kind == "done":
            bar.update(ev.step - bar.n)
            bar.close()
            print(f"{ev.message} at step {ev.step} in {ev.elapsed:.0f} s; checkpoint: {tcfg.out}")


FIT_HELP = "the input is a person's drawing: centre and scale it, and keep the paper white around it (as the app does)"


def cmd_generate(args: argparse.Namespace) -> int:
    from .infer import Translator

    t = Translator.load(args.checkpoint, engine=args.engine)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(args.input).stem
    if not t.uses_z:
        path = out / f"{stem}.png"
        t.translate(args.input).save(path)
        print(path)
        return 0
    seeds = list(range(args.seed, args.seed + args.n))
    z = [float(v) for v in args.z.split(",")] if args.z else None
    images = t.generate(args.input, z=z, seeds=None if z else seeds, fit=args.fit, clean=args.fit)
    for i, img in enumerate(images):
        path = out / (f"{stem}_z.png" if z else f"{stem}_seed{seeds[i]}.png")
        img.save(path)
        print(path)
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from .infer import Translator

    t = Translator.load(args.checkpoint)
    print(json.dumps([round(float(v), 5) for v in t.encode(args.input)]))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .metrics import evaluate, markdown_table

    results = [evaluate(c, args.data, n_z=args.n_z, samples=args.samples, limit=args.limit, seed=args.seed,
                        direction=args.direction, reference=args.reference) for c in args.checkpoint]
    if args.table:
        print(markdown_table(results))
    else:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    return 0


def cmd_edges(args: argparse.Namespace) -> int:
    """Photos -> edge maps; with --pairs, A|B training images (edges | photo)."""
    from PIL import Image

    from .data import list_images
    from .edges import photo_to_edges
    from .images import open_image

    src = Path(args.input)
    files = list_images(src) if src.is_dir() else [src]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for f in files:
        photo = open_image(f, "RGB").resize((args.size, args.size), Image.BICUBIC)
        edges = photo_to_edges(photo)
        if args.pairs:
            pair = Image.new("RGB", (2 * args.size, args.size))
            pair.paste(edges.convert("RGB"), (0, 0))
            pair.paste(photo, (args.size, 0))
            edges = pair
        edges.save(out / f"{f.stem}.png")
    print(f"wrote {len(files)} image(s) to {out}")
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    """A sample sheet: one row per input (input, then one output per seed, then the real B)."""

    from .data import list_images
    from .images import grid, open_image
    from .infer import Translator

    t = Translator.load(args.checkpoint)
    rows = []
    for f in list_images(Path(args.data))[:args.rows]:
        img = open_image(f, "RGB")
        w, h = img.size
        pair = w >= 2 * h - 2
        sketch = img.crop((0, 0, w // 2, h)) if pair else img
        outs = t.generate(sketch, seeds=range(args.seeds), fit=args.fit, clean=args.fit) if t.uses_z \
            else [t.translate(sketch)]
        rows.append([sketch, *outs] + ([img.crop((w // 2, 0, w, h))] if pair else []))
    sheet = grid(rows, cell=args.cell)
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(rows)} rows)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """A run folder (or release) -> a slim release, optionally in fp16 and with its continuation."""
    import torch

    from .checkpoint import load_into, load_release, load_state, save_continuation, save_release
    from .models import build_inference_modules, build_model
    from .train import continuation_modules

    if args.out is None:
        if not args.onnx:
            raise ValueError("export needs an output folder (or --onnx alone, to write RELEASE/generator.onnx)")
        return _export_onnx(args.run)
    dtype = torch.float16 if args.half else None
    if not (args.continuation or args.live):
        cfg, weights = load_release(args.run)
        modules = build_inference_modules(cfg)
        load_into(modules, weights, str(args.run))
        save_release(args.out, cfg, modules, dtype=dtype)
    else:  # from the run's training state
        state = load_state(args.run)
        cfg = model_config_from_dict(state["model_config"])
        model = build_model(cfg)
        model.load_state_dict(state["model"])
        modules = model.release_modules()
        if state.get("ema") and not args.live:
            for k, m in modules.items():
                m.load_state_dict(state["ema"][k])
        save_release(args.out, cfg, modules, dtype=dtype)
        if args.continuation:
            save_continuation(args.out, continuation_modules(model), {
                "step": state["step"], "images_seen": state["step"] * state["train_config"]["batch_size"],
                "model": state["model_config"], "train": state["train_config"]})
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB)")
    return _export_onnx(args.out) if args.onnx else 0


def _export_onnx(release: str) -> int:
    from .checkpoint import load_release
    from .onnx_file import write_onnx, write_page_onnx

    path, diff = write_onnx(release)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, fp16 weights); ONNX Runtime vs PyTorch on the "
          f"same sketch and z: max abs difference {diff:.2g}")
    if load_release(release)[0].sketch_norm:
        path, diff = write_page_onnx(release)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, int8 convolutions, for the page); against "
              f"fp32 on held-out drawings: mean abs difference {diff:.2g} (0..1 scale)")
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    """Stage a run or release (weights, config, card, sample sheet) and upload it to the Hub."""
    import tempfile

    from .hub import hub_token, stage, upload

    token = None if args.dry_run else hub_token()  # before any slow evaluation
    evaluation = None
    if args.data:
        from .metrics import evaluate
        evaluation = [evaluate(args.run, args.data, limit=args.limit, reference=args.reference)]
    out = args.out or tempfile.mkdtemp(prefix="i2i-push-")
    staged = stage(args.run, out, args.repo_id, evaluation=evaluation)
    print(f"staged {', '.join(staged.files)} in {staged.folder}")
    if args.dry_run:
        return 0
    print(upload(staged.folder, args.repo_id, token=token, private=args.private))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m i2i", description=(
        "i2i: multimodal image-to-image translation (BicycleGAN and its ablations, pix2pix, CycleGAN)."))
    p.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a model on paired (A|B) or unpaired (trainA/trainB) data",
                       description="Train a model; writes checkpoints, sample grids and log.jsonl to --out. "
                                   "Model flags (e.g. --ngf, --lambda-l1) and training flags map onto the "
                                   "config dataclass of the model's family and TrainConfig.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--model", choices=model_names(), default="bicyclegan", help="objective to train")
    t.add_argument("--data", help="aligned: folder of A|B images or with train/ and val/; "
                                  "unaligned: folder with trainA/ and trainB/; a folder of photos alone (edge maps "
                                  "drawn on the fly); or a mix with a weight each: PATH@W,PATH@W")
    t.add_argument("--out", required=True, help="run folder (checkpoints, samples, log)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--recipe", choices=("data", "defaults"), default="data",
                   help="settings not given as flags: proposed from the data's images (channels, sketch handling, "
                        "direction, size, widths; see i2i/recipe.py), or the config dataclasses' defaults")
    _add_dataclass_flags(t, __import__("i2i.train", fromlist=["TrainConfig"]).TrainConfig, {"data", "out"}, "training")
    for name, cls in FAMILIES.items():
        _add_dataclass_flags(t, cls.Config, {"model"}, f"{name} family ({', '.join(cls.variants)})")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="translate one input image with n random latent codes",
                       description="Write one output per seed (seed, seed+1, ...), or one for an explicit --z.")
    g.add_argument("--checkpoint", default="checkpoints/edges2shoes", help="folder or Hugging Face Hub repo id")
    g.add_argument("--input", required=True, help="input image (e.g. an edge map or sketch)")
    g.add_argument("--n", type=int, default=8, help="number of outputs")
    g.add_argument("--seed", type=int, default=0, help="first seed")
    g.add_argument("--z", help="comma-separated latent code instead of seeds")
    g.add_argument("--fit", action="store_true", help=FIT_HELP)
    g.add_argument("--engine", choices=("auto", *ENGINES), default="auto",
                   help="how the generator runs: PyTorch fp32, PyTorch bf16 autocast, or ONNX Runtime on the CPU; "
                        "auto times them at load and keeps the fastest that gives the same image")
    g.add_argument("--out", default="outputs", help="output folder")
    g.set_defaults(func=cmd_generate)

    e = sub.add_parser("encode", help="print the latent code E(photo) as JSON")
    e.add_argument("--checkpoint", default="checkpoints/edges2shoes")
    e.add_argument("--input", required=True, help="a photo of the output domain (e.g. a shoe)")
    e.set_defaults(func=cmd_encode)

    v = sub.add_parser("evaluate", help="metrics of a checkpoint on held-out pairs, as JSON",
                       description="recon_l1, diversity, fidelity and realism (see README) on a folder of pairs; "
                                   "for the BicycleGAN family also C2ST, sharpness, colour spread, best-of-n L1 "
                                   "and the latent measures (i2i/realism.py). --table prints them as two tables.")
    v.add_argument("--checkpoint", nargs="+", default=["checkpoints/edges2shoes"],
                   help="one or more checkpoints, compared on the same pairs and z")
    v.add_argument("--table", action="store_true",
                   help="print Markdown tables (one row per checkpoint) instead of JSON")
    v.add_argument("--data", required=True, help="folder of held-out A|B pairs (e.g. ../shared/data/edges2shoes/val)")
    v.add_argument("--reference", help="folder of A|B training pairs: adds realism_swd, NDB/JSD, the real-vs-real "
                                       "floor and C2ST (against all its photos); without it C2ST is skipped")
    v.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB")
    v.add_argument("--n-z", type=int, default=10, help="random z per input for diversity")
    v.add_argument("--samples", type=int, default=8,
                   help="random z per input for C2ST, sharpness, colour spread and best-of-n L1 (the first of "
                        "the same z that diversity uses)")
    v.add_argument("--limit", type=int, help="use only the first N pairs")
    v.add_argument("--seed", type=int, default=0)
    v.set_defaults(func=cmd_evaluate)

    d = sub.add_parser("edges", help="photos -> edge maps (or A|B training pairs with --pairs)")
    d.add_argument("--input", required=True, help="a photo or a folder of photos")
    d.add_argument("--out", required=True, help="output folder")
    d.add_argument("--size", type=int, default=256, help="output size (square)")
    d.add_argument("--pairs", action="store_true", help="write edges|photo pairs for training")
    d.set_defaults(func=cmd_edges)

    h = sub.add_parser("sheet", help="a sample sheet: rows of inputs x columns of seeds",
                       description="Rows: the first --rows images of --data (A|B pairs or plain sketches); "
                                   "columns: the input, --seeds outputs (seeds 0, 1, ...), and the real B.")
    h.add_argument("--checkpoint", default="checkpoints/edges2shoes")
    h.add_argument("--data", required=True, help="folder of A|B pairs or of sketches")
    h.add_argument("--out", default="samples.png")
    h.add_argument("--rows", type=int, default=6)
    h.add_argument("--seeds", type=int, default=6)
    h.add_argument("--cell", type=int, default=128, help="pixels per image in the sheet")
    h.add_argument("--fit", action="store_true", help=FIT_HELP)
    h.set_defaults(func=cmd_sheet)

    x = sub.add_parser("export", help="make a slim release (config.json + model.safetensors) from a run, "
                                      "and/or the generator as ONNX (--onnx)")
    x.add_argument("run", help="run folder or release")
    x.add_argument("out", nargs="?", help="output folder (optional with --onnx)")
    x.add_argument("--half", action="store_true", help="store weights in fp16 (half the size)")
    x.add_argument("--continuation", action="store_true",
                   help="also write continue.safetensors + continue.json (the discriminators and the step), so "
                        "`train --init-from OUT` can go on with the run elsewhere; needs the run's train_state.pt")
    x.add_argument("--live", action="store_true",
                   help="export the run's live G and E instead of their moving average (to compare the two)")
    x.add_argument("--onnx", action="store_true",
                   help="also write generator.onnx beside the release (sketch and z in, image out; dynamic batch; "
                        "fp16 weights), checked against PyTorch, and for a line-drawing model generator.int8.onnx "
                        "(what the app's page runs), checked against it; `export RELEASE --onnx` writes them into RELEASE")
    x.set_defaults(func=cmd_export)

    u = sub.add_parser("push", help="upload a run or release to the Hugging Face Hub, with a model card",
                       description="Uploads config.json, model.safetensors (and a continuation), a sample sheet "
                                   "and a generated model card (README.md) to a model repo. Needs a token with "
                                   "write access: HF_TOKEN, or a saved `hf auth login`.")
    u.add_argument("run", help="run folder (train --out) or release folder")
    u.add_argument("--repo-id", required=True, help="OWNER/NAME of the model repo (created if missing)")
    u.add_argument("--private", action="store_true", help="create the repo as private")
    u.add_argument("--data", help="held-out A|B pairs: evaluate the model and put the metrics in the card")
    u.add_argument("--reference", help="training pairs for evaluate's realism measures (see evaluate)")
    u.add_argument("--limit", type=int, default=50, help="pairs of --data to evaluate on")
    u.add_argument("--out", help="staging folder (default: a new temporary folder)")
    u.add_argument("--dry-run", action="store_true", help="stage and print the folder; upload nothing")
    u.set_defaults(func=cmd_push)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from .checkpoint import CheckpointError
    from .data import DataError
    from .distributed import DistributedError
    from .hub import HubError
    from .images import ImageError
    try:
        return args.func(args)
    except (ConfigError, CheckpointError, DataError, DistributedError, HubError, ImageError, ValueError,
            FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    from . import distributed
    distributed.exit_process(main())
