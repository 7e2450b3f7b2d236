import pytest
import torch
from PIL import Image

from i2i.data import (DataError, PairedImages, align_sketches, concat, is_photo_folder, load_aligned, load_photos,
                      load_unaligned, make_batch, parse_sources)
from i2i.edges import box_of, ink_mask
from i2i.realism import shoe_mask
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


def _outline(size, x0, y0, x1, y1):
    """A white (1, size, size) uint8 page with a black rectangle outline."""
    page = torch.full((1, size, size), 255, dtype=torch.uint8)
    page[:, y0:y1 + 1, [x0, x1]] = 0
    page[:, [y0, y1], x0:x1 + 1] = 0
    return page


def test_align_sketches_moves_a_misplaced_sketch_onto_its_shoe():
    size = 64
    photo = torch.full((3, size, size), 255, dtype=torch.uint8)
    photo[:, 20:44, 10:58] = 90  # the shoe: x 10..57, y 20..43
    sketches = torch.stack([_outline(size, 4, 30, 30, 42),    # drawn small and low: moved
                            _outline(size, 10, 20, 57, 43),   # an edge map, in place: kept
                            _outline(size, 30, 30, 33, 33),   # 12x smaller than its shoe: kept
                            torch.full((1, size, size), 255, dtype=torch.uint8)])  # blank: kept
    data = PairedImages(sketches, photo.expand(4, -1, -1, -1).clone(), [])
    out = align_sketches(data)
    assert out.moved == 1 and torch.equal(out.a[1:], sketches[1:]) and torch.equal(out.b, data.b)
    shoe = box_of(shoe_mask(photo[None].float() / 255)[0, 0])
    moved = box_of(out.a[0, 0] < 128)
    assert all(abs(u - v) <= 1.5 for u, v in zip(moved, shoe)), (moved, shoe)
    assert align_sketches(PairedImages(photo[None], photo[None], [])).moved == 0  # RGB inputs are not sketches


def test_align_sketches_brings_human_sketches_closer_and_leaves_edge_maps():
    """On QMUL's val pairs the sketches' boxes overlap the shoes' better once moved; edges2shoes'
    edge maps, drawn from their photos, are almost all left as they are."""
    def box_iou(data):
        ious = []
        for a, b in zip(data.a, data.b):
            s, p = box_of(ink_mask(a[None].float() / 255)[0, 0]), box_of(shoe_mask(b[None].float() / 255)[0, 0])
            (ax0, ax1), (ay0, ay1) = ((s[0] - s[2] / 2, s[0] + s[2] / 2), (s[1] - s[3] / 2, s[1] + s[3] / 2))
            (bx0, bx1), (by0, by1) = ((p[0] - p[2] / 2, p[0] + p[2] / 2), (p[1] - p[3] / 2, p[1] + p[3] / 2))
            inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
            ious.append(inter / (s[2] * s[3] + p[2] * p[3] - inter))
        return sum(ious) / len(ious)

    human = load_aligned(data_dir("human_sketch_shoes", "val"), load_size=96, input_nc=1)
    moved = align_sketches(human)
    assert moved.moved > len(human) // 2
    assert box_iou(moved) > box_iou(human) + 0.1
    edges = load_aligned(data_dir("edges2shoes", "val"), load_size=96, input_nc=1)
    assert align_sketches(edges).moved <= len(edges) // 10
