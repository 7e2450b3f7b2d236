"""Pack the default model's training data into .device-data/ (git-ignored) for a GPU machine.

The device tool carries at most 64 MiB: the repository's tracked files (about 36 MiB, most of it
the shipped checkpoints) and this folder together; ../shared/data does not travel. So the A|B
pairs are re-encoded at the 128 px the model trains at plus crop room (288x144), and every
third photo of shoe_photos is kept (136x102), all at JPEG quality 75: about 25 MiB.

    python scripts/pack_device_data.py [--data ../shared/data] [--out .device-data]
"""
from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from PIL import Image

PAIRS = ("edges2shoes/train", "edges2shoes/val", "human_sketch_shoes/train", "human_sketch_shoes/val")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default=".device-data")
    p.add_argument("--photo-every", type=int, default=3, help="keep every n-th photo of shoe_photos")
    p.add_argument("--quality", type=int, default=75, help="JPEG quality of the re-encoded files")
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    for sub in PAIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)
        for f in sorted((data / sub).glob("*.jpg")):
            Image.open(f).convert("RGB").resize((288, 144), Image.BICUBIC).save(out / sub / f.name, quality=args.quality)
    for folder in sorted(p for p in (data / "shoe_photos").iterdir() if p.is_dir()):
        (out / "shoe_photos" / folder.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(folder.glob("*.jpg"))[::args.photo_every]:
            Image.open(f).convert("RGB").save(out / "shoe_photos" / folder.name / f.name, quality=args.quality)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, check=True).stdout.split(b"\0")
    repo = sum(Path(f.decode()).stat().st_size for f in tracked if f and Path(f.decode()).is_file())
    total = (size + repo) / 2**20
    print(f"wrote {out} ({size / 2**20:.1f} MiB) + tracked files {repo / 2**20:.1f} MiB = {total:.1f} MiB "
          f"({'within' if total < 63 else 'OVER'} the device tool's 64 MiB)")


if __name__ == "__main__":
    main()
