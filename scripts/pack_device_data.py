"""Pack the default model's training data into .device-data/ (git-ignored) for a GPU machine.

The device tool carries at most 64 MiB of the working tree, and ../shared/data does not travel.
The photos are copied as they are (136x102 JPEGs, 49 MB); the A|B pairs are re-encoded at the
128 px the model trains at plus crop room (288x144, JPEG quality 92), about 12 MB together.

    python scripts/pack_device_data.py [--data ../shared/data] [--out .device-data]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from PIL import Image

PAIRS = ("edges2shoes/train", "edges2shoes/val", "human_sketch_shoes/train", "human_sketch_shoes/val")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--out", default=".device-data")
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    for sub in PAIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)
        for f in sorted((data / sub).glob("*.jpg")):
            Image.open(f).convert("RGB").resize((288, 144), Image.BICUBIC).save(out / sub / f.name, quality=92)
    shutil.copytree(data / "shoe_photos", out / "shoe_photos", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.csv"))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"wrote {out} ({size / 2**20:.1f} MiB; the device tool carries at most 64 MiB)")


if __name__ == "__main__":
    main()
