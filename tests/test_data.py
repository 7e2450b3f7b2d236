import pytest
import torch
from PIL import Image

from i2i.data import (DataError, PairedImages, concat, is_photo_folder, load_aligned, load_photos, load_unaligned,
                      make_batch, parse_sources)
from conftest import data_dir


def test_aligned_edges2shoes(shoes):
    d = load_aligned(shoes / "val", load_size=64, input_nc=1, output_nc=3, limit=6)
    assert d.a.shape == (6, 1, 64, 64) and d.b.shape == (6, 3, 64, 64) and d.a.dtype == torch.uint8
    assert d.a.float().mean() > 200  # edges: mostly white
    assert d.files[0].endswith("1_AB.jpg") and d.files[1].endswith("2_AB.jpg")  # natural order


def test_direction_swaps_halves():
    facades = data_dir("facades", "val")
    ab = load_aligned(facades, load_size=32, limit=2)
    ba = load_aligned(facades, load_size=32, direction="BtoA", limit=2)
    assert torch.equal(ab.a, ba.b) and torch.equal(ab.b, ba.a)


def test_unaligned_summer2winter():
    d = load_unaligned(data_dir("summer2winter_yosemite"), split="test", load_size=32)
    assert d.a.shape == d.b.shape == (50, 3, 32, 32)


def test_crop_is_shared_by_a_and_b():
    imgs = torch.randint(0, 255, (4, 3, 40, 40), dtype=torch.uint8)
    data = PairedImages(imgs, imgs.clone(), [])
    a, b = make_batch(data, torch.arange(4), torch.arange(4), size=32, generator=torch.Generator().manual_seed(0), flip=True)
    assert a.shape == (4, 3, 32, 32) and torch.equal(a, b)
    a2, _ = make_batch(data, torch.arange(4), torch.arange(4), size=32, generator=None)
    assert a2.shape == (4, 3, 32, 32)


def test_bad_dataset_folders(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_aligned(tmp_path / "nope", load_size=32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_aligned(tmp_path / "empty", load_size=32)
    square = tmp_path / "square"
    square.mkdir()
    Image.new("RGB", (64, 64)).save(square / "1.jpg")
    with pytest.raises(DataError, match="side by side"):
        load_aligned(square, load_size=32)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "1_AB.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match="no readable image.*1_AB.jpg"):
        load_aligned(broken, load_size=32)
    with pytest.raises(DataError, match="trainA"):
        load_unaligned(tmp_path, load_size=32)


def test_unreadable_images_are_skipped_and_named(tmp_path, shoes):
    folder = tmp_path / "pairs"
    folder.mkdir()
    for f in sorted((shoes / "val").iterdir())[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "99_AB.jpg").write_bytes(b"\xff\xd8 truncated")
    d = load_aligned(folder, load_size=32)
    assert len(d) == 3 and len(d.files) == 3 and "99_AB.jpg" not in " ".join(d.files)
    assert len(d.skipped) == 1 and d.skipped[0].startswith("99_AB.jpg:")


def test_photo_folder_and_mix(tmp_path, shoes):
    photos = data_dir("shoe_photos")
    assert is_photo_folder(photos) and not is_photo_folder(shoes) and not is_photo_folder(shoes / "val")
    p = load_photos(photos, load_size=32, limit=5)
    assert p.b.shape == (5, 3, 32, 32) and not p.has_a.any()
    q = load_aligned(shoes / "val", load_size=32, input_nc=1, limit=3)
    mix = concat([q, p])
    assert len(mix) == 8 and mix.source.tolist() == [0] * 3 + [1] * 5 and mix.has_a.sum() == 3
    srcs = parse_sources(f"{shoes}@1,{photos}@2.5")
    assert [s.weight for s in srcs] == [1.0, 2.5]
    assert parse_sources(str(shoes))[0].weight == 1.0


@pytest.mark.parametrize("spec, message", [
    ("{shoes}@1,{missing}@2", "not found.*nowhere"),
    ("{shoes}@zero", "bad weight"),
    ("{shoes}@0", "must be > 0"),
    ("{shoes},{s2w}", "unaligned"),
])
def test_bad_data_mix_fails_before_training(shoes, tmp_path, spec, message):
    spec = spec.format(shoes=shoes, missing=tmp_path / "nowhere", s2w=data_dir("summer2winter_yosemite"))
    with pytest.raises(DataError, match=message):
        parse_sources(spec)
