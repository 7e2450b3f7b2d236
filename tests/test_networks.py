import pytest
import torch

import torch.nn.functional as F
from torch import nn

from i2i.networks import (Encoder, MultiScaleDiscriminator, UNetGenerator, levels_for, patch_discriminator,
                          resnet_generator, tile_z, upsample_conv)


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("where_add", ["input", "all"])
def test_unet_shapes_and_z(size, where_add):
    g = UNetGenerator(input_nc=1, output_nc=3, size=size, nz=8, ngf=8, where_add=where_add).eval()
    a = torch.randn(2, 1, size, size)
    z1, z2 = torch.randn(2, 8), torch.randn(2, 8)
    y1, y2 = g(a, z1), g(a, z2)
    assert y1.shape == (2, 3, size, size)
    assert y1.abs().max() <= 1.0  # tanh output
    assert (y1 - y2).abs().mean() > 1e-4, "z must change the output"


def _tiled_forward(block, x, z):
    """The U-Net as written in the paper's code: z tiled and concatenated, then down, and up by
    the layers one after another (no upsample_conv)."""
    h = block.down(torch.cat([x, tile_z(z, x)], 1) if block.nz else x)
    if block.sub is not None:
        h = _tiled_forward(block.sub, h, z)
    h = block.up(h)
    return h if block.outermost else torch.cat([h, x], 1)


@pytest.mark.parametrize("where_add,upsample", [("input", "basic"), ("all", "basic"), ("all", "bilinear")])
@pytest.mark.parametrize("expanded", [False, True])
def test_unet_z_injection_equals_concatenating_the_tiled_z(where_add, upsample, expanded):
    """UNetBlock convolves x and the constant z apart (conv_with_tiled_z) and folds bilinear
    up-sampling into the convolution after it (upsample_conv): outputs and gradients must equal
    those of concatenating the tiled z and running each layer, borders included, for a batch of
    distinct sketches and for one sketch expanded to a batch (a seed grid)."""
    torch.manual_seed(0)  # float64: the two ways must agree far beyond float32 rounding
    g = UNetGenerator(input_nc=1, output_nc=3, size=64, nz=8, ngf=8, where_add=where_add, upsample=upsample).double()
    assert g.net.fold_up == g.net.sub.fold_up == (upsample == "bilinear")
    a = torch.randn(1, 1, 64, 64).expand(3, -1, -1, -1) if expanded else torch.randn(3, 1, 64, 64)
    a, z = a.double(), torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    fast, ref = g(a, z), _tiled_forward(g.net, a, z)
    torch.testing.assert_close(fast, ref, atol=1e-10, rtol=1e-9)
    params = [z, *g.parameters()]
    for grad_fast, grad_ref in zip(torch.autograd.grad(fast.square().sum(), params),
                                   torch.autograd.grad(ref.square().sum(), params)):
        torch.testing.assert_close(grad_fast, grad_ref, atol=1e-9, rtol=1e-7)
    assert not torch.equal(fast[0], fast[1])  # distinct z, distinct outputs


@pytest.mark.parametrize("shape", [(2, 2), (3, 5), (8, 8)])
@pytest.mark.parametrize("bias", [True, False])
def test_upsample_conv_is_upsample_pad_conv(shape, bias):
    """The fold at any size, square or not (every output pixel is a border one at 2x2), with and
    without a bias: the values and the gradients of the plain layers."""
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 4, 3, bias=bias).double()
    x = torch.randn(2, 5, *shape, dtype=torch.float64, requires_grad=True)
    plain = conv(F.pad(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), (1, 1, 1, 1),
                       mode="reflect"))
    folded = upsample_conv(x, conv)
    torch.testing.assert_close(folded, plain, atol=1e-12, rtol=1e-10)
    g = torch.randn_like(plain)
    params = [x, *conv.parameters()]
    for a, b in zip(torch.autograd.grad((folded * g).sum(), params), torch.autograd.grad((plain * g).sum(), params)):
        torch.testing.assert_close(a, b, atol=1e-11, rtol=1e-9)


def test_unet_without_z_is_pix2pix():
    g = UNetGenerator(input_nc=3, output_nc=3, size=64, nz=0, ngf=8)
    assert g(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="latent code"):
        UNetGenerator(input_nc=3, output_nc=3, size=64, nz=8, ngf=8)(torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize("size", [64, 128, 256])
@pytest.mark.parametrize("kind", ["resnet", "conv"])
def test_encoder_any_size(size, kind):
    e = Encoder(input_nc=3, size=size, nz=8, nef=8, kind=kind)
    mu, logvar = e(torch.randn(3, 3, size, size))
    assert mu.shape == logvar.shape == (3, 8)


@pytest.mark.parametrize("size,n_layers", [(64, 2), (128, 2), (256, 3)])
def test_multiscale_discriminator(size, n_layers):
    d = MultiScaleDiscriminator(input_nc=4, ndf=8, n_layers=n_layers, n_scales=2)
    outs = d(torch.randn(2, 4, size, size))
    assert len(outs) == 2
    assert outs[0].shape[-1] > outs[1].shape[-1]  # the second scale sees a half-size image


def test_patchgan_70_receptive_field_output():
    # the 70x70 PatchGAN maps 256 px to a 30x30 grid of patch decisions (pix2pix/CycleGAN)
    assert patch_discriminator(input_nc=3, ndf=8, n_layers=3)(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)


@pytest.mark.parametrize("size,blocks", [(64, 6), (128, 6)])
def test_resnet_generator(size, blocks):
    g = resnet_generator(input_nc=3, output_nc=3, ngf=8, n_blocks=blocks)
    assert g(torch.randn(1, 3, size, size)).shape == (1, 3, size, size)


def test_bad_size():
    with pytest.raises(ValueError, match="power of two"):
        levels_for(100)
