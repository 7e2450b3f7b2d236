import io

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.edges import _grow, canny, normalize_sketch, outline_mask, photo_to_edges, thin
from i2i.images import ImageError, open_image, to_pil, to_tensor


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def test_modes_become_rgb_or_l_on_white():
    transparent = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    assert open_image(transparent, "L").getextrema() == (255, 255)  # transparent -> white paper, not black
    assert open_image(Image.new("P", (16, 16)), "RGB").mode == "RGB"
    assert open_image(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "RGB").getpixel((0, 0)) == (255, 255, 255)
    sixteen = Image.fromarray(np.full((16, 16), 65535, dtype=np.uint16))
    assert open_image(_png(sixteen), "L").getextrema() == (255, 255)
    frames = [Image.new("L", (16, 16), v) for v in (0, 255)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    assert open_image(gif.getvalue(), "L").getpixel((0, 0)) == 0  # first frame
    assert open_image(np.zeros((20, 20, 4), dtype=np.uint8), "L").getpixel((0, 0)) == 255


def test_bad_images_give_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="not an image"):
        open_image(b"definitely not a picture")
    with pytest.raises(ImageError, match="not found"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="at least 8x8"):
        open_image(Image.new("RGB", (2, 2)))
    with pytest.raises(ImageError, match="NaN"):
        open_image(np.full((16, 16), np.nan))
    truncated = _png(Image.effect_noise((64, 64), 50))[:200]
    with pytest.raises(ImageError, match="truncated or corrupt"):
        open_image(truncated)


def test_huge_image_and_decompression_bomb_refused_before_decoding():
    bomb = _png(Image.new("L", (10_000, 10_000)), optimize=True)  # ~100 MP of zeros in ~100 KB
    assert len(bomb) < 1_000_000
    with pytest.raises(ImageError, match="too large|10000x10000"):
        open_image(bomb)
    with pytest.raises(ImageError, match="6000x6000"), pytest.warns(Image.DecompressionBombWarning):
        open_image(_png(Image.new("L", (6000, 6000))))  # under Pillow's bomb error, over our limit


def test_tensor_conversion_round_trip():
    img = Image.effect_noise((32, 32), 60).convert("RGB")
    t = to_tensor(img, 3)
    assert t.shape == (3, 32, 32) and t.min() >= -1 and t.max() <= 1
    assert np.array_equal(np.asarray(to_pil(t)), np.asarray(img))


def test_thinning_gives_one_pixel_lines():
    ink = torch.zeros(1, 1, 32, 32)
    ink[:, :, 10:17, 4:28] = 1  # a 7-px-thick bar
    skel = thin(ink)
    cols = skel[0, 0, :, 8:24].sum(0)
    assert (cols == 1).all(), cols


def _zhang_suen_reference(ink: np.ndarray) -> np.ndarray:
    """Zhang and Suen (1984) pixel by pixel, as the paper states it (zero outside the image)."""
    x = np.pad(ink.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            remove = []
            for r, c in zip(*np.nonzero(x)):
                p2, p3, p4, p5, p6, p7, p8, p9 = (x[r - 1, c], x[r - 1, c + 1], x[r, c + 1], x[r + 1, c + 1],
                                                  x[r + 1, c], x[r + 1, c - 1], x[r, c - 1], x[r - 1, c - 1])
                ring = [p2, p3, p4, p5, p6, p7, p8, p9, p2]
                a = sum(ring[i] == 0 and ring[i + 1] == 1 for i in range(8))
                first = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
                second = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
                if 2 <= sum(ring[:8]) <= 6 and a == 1 and (first if step == 0 else second):
                    remove.append((r, c))
            for r, c in remove:
                x[r, c] = 0
            changed |= bool(remove)
        if not changed:
            return x[1:-1, 1:-1]


def test_thinning_matches_zhang_suen_pixel_by_pixel():
    g = torch.Generator().manual_seed(0)
    for density in (0.3, 0.6, 0.9):
        ink = torch.nn.functional.max_pool2d((torch.rand(1, 1, 20, 24, generator=g) < density / 4).float(), 3, 1, 1)
        assert np.array_equal(thin(ink)[0, 0].numpy(), _zhang_suen_reference(ink[0, 0].numpy())), density


def test_normalize_sketch_ignores_stroke_width():
    thin_line, thick_line = torch.ones(1, 1, 64, 64), torch.ones(1, 1, 64, 64)
    thin_line[:, :, 32, 8:56] = 0.2
    thick_line[:, :, 28:37, 8:56] = 0.0
    a, b = normalize_sketch(thin_line), normalize_sketch(thick_line)
    ink_a, ink_b = a < 0.5, b < 0.5
    iou = (ink_a & ink_b).sum() / (ink_a | ink_b).sum()
    assert iou > 0.7, float(iou)


def test_outline_mask_is_the_hull_and_never_bites():
    gray = torch.ones(1, 1, 64, 64)
    gray[..., 10:50, 10] = gray[..., 10:50, 50] = gray[..., 50, 10:51] = 0  # a U, open at the top
    m = outline_mask(gray, margin=1, feather=0)
    assert m.shape == (1, 1, 64, 64)
    assert m[0, 0, 12:49, 12:49].min() == 1, "the open inside of the U is kept (a flood fill would lose it)"
    assert m[0, 0, :8].max() == 0 and m[0, 0, 53:].max() == 0 and m[0, 0, :, :8].max() == 0
    assert outline_mask(torch.ones(1, 1, 64, 64)) is None, "no ink, no mask"
    frame = torch.ones(1, 1, 64, 64)
    frame[..., 0, :] = frame[..., -1, :] = frame[..., :, 0] = frame[..., :, -1] = 0
    assert outline_mask(frame) is None, "a hull that fills the image cleans nothing"


def test_canny_finds_square_outline():
    x = torch.zeros(1, 1, 64, 64)
    x[:, :, 16:48, 16:48] = 1
    e = canny(x, sigma=1.0)
    assert e[0, 0, 30, 14:19].sum() >= 1 and e[0, 0, 30, 24:40].sum() == 0  # edge at the border, none inside


def test_hysteresis_growth_is_a_3x3_max_filter():
    """canny's hysteresis grows masks with ORs of shifted views: the same as max_pool2d, edges included."""
    torch.manual_seed(0)
    for density in (0.02, 0.3, 0.9):
        m = torch.rand(3, 1, 17, 12) < density
        expected = torch.nn.functional.max_pool2d(m.float(), 3, stride=1, padding=1) > 0
        assert torch.equal(_grow(m), expected)


def test_photo_to_edges_on_real_shoe(shoes):
    photo = Image.open(shoes / "val" / "1_AB.jpg").crop((256, 0, 512, 256))
    edges = photo_to_edges(photo)
    a = np.asarray(edges)
    assert edges.mode == "L" and edges.size == (256, 256)
    assert 0.01 < (a < 128).mean() < 0.2  # some lines, mostly white paper


def test_edges_of_photos_draw_a_pale_shoes_outline():
    from i2i.edges import edges_of_photos
    # a very pale shoe-shaped blob on white paper: Canny alone finds almost nothing
    photo = torch.ones(1, 3, 64, 64)
    photo[..., 20:44, 10:54] = 0.9  # in [-1, 1]: 95% white
    e = edges_of_photos(photo)
    assert e.shape == (1, 1, 64, 64) and e.min() == 0 and e.max() == 1
    ink = e[0, 0] < 0.5
    assert ink[19:45, 9:55].sum() >= 2 * (24 + 44) - 8  # the whole rectangle's outline
    assert ink[22:42, 12:52].sum() == 0 and ink[:15].sum() == 0  # nothing inside or far outside
