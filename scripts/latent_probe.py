"""Which latent dimensions a BicycleGAN run uses, read from its training state (live and moving-
average weights): per dimension, E's KL to the prior (nats, mean over photos), the std of E's mu
over photos, and how much G's image changes when that dimension alone goes from -2 to +2 (mean
|difference|, pixels in [0, 1]). A dimension whose KL is near 0 and whose mu barely varies is one
E no longer uses (posterior collapse); see docs/recipe.md. Last, the spread of mu over the photos
along its principal axes (square roots of its covariance's eigenvalues, largest first): every
dimension may vary while the codes still lie near a plane of two or three, when the dimensions
move together; random z off that plane is what G only ever saw on the random-z path.

    python scripts/latent_probe.py runs/shoes_fbe [more runs] [--data ../shared/data/edges2shoes/val]

The first 64 held-out pairs (their photos for E; 16 of their edge maps, as stored, for G's
effects); one CPU thread, about 30 s a run.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from i2i.checkpoint import load_state  # noqa: E402
from i2i.data import list_images  # noqa: E402
from i2i.images import open_image, to_tensor  # noqa: E402
from i2i.losses import kl_per_dim  # noqa: E402
from i2i.models import build_model, model_config_from_dict  # noqa: E402
from i2i.realism import code_axes, dim_effects  # noqa: E402


def pairs(folder: str, n: int, size: int, input_nc: int) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = [], []
    for path in list_images(Path(folder))[:n]:
        img = open_image(path, "RGB")
        w, h = img.size
        a.append(to_tensor(img.crop((0, 0, w // 2, h)).resize((size, size)), input_nc))
        b.append(to_tensor(img.crop((w // 2, 0, w, h)).resize((size, size)), 3))
    return torch.stack(a), torch.stack(b)


@torch.no_grad()
def probe(model, a: torch.Tensor, b: torch.Tensor, nz: int) -> dict[str, np.ndarray]:
    mu, logvar = model.E(b)
    kl = kl_per_dim(mu, logvar)
    effect = dim_effects(model.G, a, nz)
    return {"KL": kl.numpy(), "mu std": mu.std(0).numpy(), "effect": effect.numpy(),
            "mu std on principal axes": code_axes(mu).numpy()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders (with train_state.pt)")
    p.add_argument("--data", default="../shared/data/edges2shoes/val", help="held-out A|B pairs")
    args = p.parse_args()
    torch.set_num_threads(1)
    np.set_printoptions(precision=2, suppress=True)
    for run in args.runs:
        state = load_state(run)
        cfg = model_config_from_dict(state["model_config"])
        model = build_model(cfg).eval()
        model.load_state_dict(state["model"])
        a, b = pairs(args.data, 64, cfg.size, cfg.input_nc)
        for weights in ("live", "average"):
            if weights == "average":
                model.G.load_state_dict(state["ema"]["G"])
                model.E.load_state_dict(state["ema"]["E"])
            r = probe(model, a[:16], b, cfg.nz)
            print(f"{run} step {state['step']} {weights}: " + " | ".join(f"{k} {v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
