"""How much a better encoder could carry, for a release's fixed G: for each held-out photo, the z
that makes G(sketch, z) closest to it (Adam on z, L1 in pixels, no prior), beside E's mu.

Prints, for E's mu, the optimised z and random z: the L1 of G's image to the photo, the colour
error (Lab distance between the mean colours of the shoe regions, as `evaluate`'s style measure),
the std of the codes per dimension and along their principal axes. If the optimised z does
no better than mu, E is already as good as this G allows; if it does better with codes spread
over more axes, E (not G) is what leaves them unused (docs/recipe.md).

    python scripts/invert_z.py checkpoints/edges2shoes [--data ../shared/data/edges2shoes/val] [--n 32]

One CPU thread, about 5 minutes for 32 photos and 100 steps at 128 px.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from i2i.data import list_images  # noqa: E402
from i2i.images import from_unit, open_image, to_tensor, to_unit  # noqa: E402
from i2i.infer import Translator  # noqa: E402
from i2i.realism import code_axes, mean_lab  # noqa: E402


def pairs(t: Translator, folder: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n A|B pairs: sketches as the app prepares them, photos in [0, 1]."""
    a, b = [], []
    for path in list_images(Path(folder))[:n]:
        img = open_image(path, "RGB")
        w, h = img.size
        a.append(t.prepare(img.crop((0, 0, w // 2, h))))
        b.append(to_unit(to_tensor(img.crop((w // 2, 0, w, h)).resize((t.size, t.size)), 3)))
    return torch.cat(a), torch.stack(b)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("release")
    p.add_argument("--data", default="../shared/data/edges2shoes/val", help="held-out A|B pairs")
    p.add_argument("--n", type=int, default=32, help="the first N pairs")
    p.add_argument("--steps", type=int, default=100)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t = Translator.load(args.release, engine="fp32")
    G = t.G.float().requires_grad_(False)
    a, target = pairs(t, args.data, args.n)
    mu = t.encode_batch(from_unit(target))
    z = mu.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.05)
    for step in range(args.steps):
        loss = (to_unit(G(a, z)) - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            print(f"step {step}: L1 {loss.item():.4f}", flush=True)
    lab = mean_lab(target)
    with torch.no_grad():
        for name, codes in (("E's mu", mu), ("optimised z", z.detach()), ("random z", torch.randn_like(mu))):
            img = to_unit(G(a, codes))
            axes = code_axes(codes)
            print(f"{name:12s} L1 {float((img - target).abs().mean()):.4f}, colour error "
                  f"{float((mean_lab(img) - lab).norm(dim=1).mean()):.2f}, std per dimension "
                  f"{' '.join(f'{v:.2f}' for v in codes.std(0))}, on principal axes {' '.join(f'{v:.2f}' for v in axes)}")


if __name__ == "__main__":
    main()
