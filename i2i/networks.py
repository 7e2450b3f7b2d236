"""Networks of BicycleGAN (Zhu et al., NeurIPS 2017) and CycleGAN (Zhu et al., ICCV 2017).

Architectures follow the papers and the official code's defaults (junyanz/BicycleGAN,
junyanz/pytorch-CycleGAN-and-pix2pix). Every image tensor is (B, C, H, W) in [-1, 1].
Deviations, each for a reason given where it happens:
- the encoders end in adaptive average pooling, so one encoder works at 64, 128 and 256 px
  (the official `AvgPool2d(8)` ties it to one input size);
- the number of U-Net levels and encoder blocks is derived from the image size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import randn_shard


def norm_layer(kind: str, channels: int) -> nn.Module:
    """Instance norm without affine parameters (the papers' choice), batch norm, or none."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose instance, batch or none")


def levels_for(size: int) -> int:
    """Down-samplings that take a size x size image to 1 x 1 (8 at 256 px, 7 at 128, 6 at 64)."""
    n = int(math.log2(size))
    if 2**n != size or size < 32:
        raise ValueError(f"image size must be a power of two >= 32, got {size}")
    return n


def tile_z(z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """z (B, nz) -> (B, nz, H, W) matching the spatial size of `like`."""
    return z[:, :, None, None].expand(-1, -1, like.shape[2], like.shape[3])


def conv_with_tiled_z(conv: nn.Conv2d, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """conv(cat([x, tile_z(z, x)], 1)), without building or convolving the tiled z.

    The convolution splits into its x part and a z part; z is the same at every position, so the
    z part is, per output position, the kernel's z weights dotted with z over the taps that fall
    inside the image (padding contributes zeros). Same result up to float rounding. Used at the
    U-Net's first level, where it pays: a seed grid's sketch (one image expanded to the batch)
    goes through the convolution once instead of once per seed, and the 8 z channels cost a few
    multiply-adds per position instead of 16 each. Deeper levels keep the concatenation: their
    inputs differ per sample, and there the extra small operations cost about what they save.
    """
    c = x.shape[1]
    w_x, w_z = conv.weight[:, :c], conv.weight[:, c:]
    if x.shape[0] > 1 and x.stride(0) == 0:  # one image expanded to the batch: convolve it once
        h = F.conv2d(x[:1], w_x, conv.bias, conv.stride, conv.padding).expand(x.shape[0], -1, -1, -1)
    else:
        h = F.conv2d(x, w_x, conv.bias, conv.stride, conv.padding)
    v = torch.einsum("oczw,bc->bozw", w_z, z)  # z dotted with each tap's weights: (B, out, kh, kw)
    rows, cols = (_inside(x.shape[2 + d], conv, d, x) for d in (0, 1))
    return h + torch.einsum("bozw,zy,wx->boyx", v, rows, cols)


def _inside(n: int, conv: nn.Conv2d, dim: int, like: torch.Tensor) -> torch.Tensor:
    """(kernel, n_out) along one dimension: 1 where a kernel tap lands inside the input, 0 on padding."""
    k, s, p = conv.kernel_size[dim], conv.stride[dim], conv.padding[dim]
    n_out = (n + 2 * p - k) // s + 1
    pos = torch.arange(n_out, device=like.device)[None] * s - p + torch.arange(k, device=like.device)[:, None]
    return ((pos >= 0) & (pos < n)).to(like.dtype)


def upsample_layers(in_ch: int, out_ch: int, mode: str) -> list[nn.Module]:
    if mode == "basic":  # the official default: transposed convolution
        return [nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1)]
    if mode == "bilinear":  # fewer checkerboard artefacts
        return [
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=0),
        ]
    raise ValueError(f"unknown upsample {mode!r}; choose basic or bilinear")


def _fold_taps() -> torch.Tensor:
    """(phase, conv tap, input offset -1..1): bilinear x2 up-sampling (half-pixel) seen from a 3x3
    convolution over its output. Output pixel 2k+p reads up-sampled pixel 2k+p-1+t at tap t, and
    up-sampled pixel 2m+q is 0.25/0.75 of input pixels m-1, m (q=0) or 0.75/0.25 of m, m+1 (q=1)."""
    mix = {0: (0.25, 0.75, 0.0), 1: (0.0, 0.75, 0.25)}
    taps = torch.zeros(2, 3, 3)
    for p in range(2):
        for t in range(3):
            m, q = divmod(p - 1 + t, 2)
            for d in range(3):
                if -1 <= m + d - 1 <= 1:
                    taps[p, t, m + d] += mix[q][d]
    return taps


_TAPS = _fold_taps()


def upsample_conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """conv(reflection_pad_1(bilinear_x2(x))) without making the up-sampled map: the same up to
    float rounding, in training, inference and the exported ONNX graph.

    Up-sampling and a 3x3 convolution are both linear, so each of the four output phases (even or
    odd row and column) is one 3x3 convolution of x itself; the four run as one convolution with
    4x the output channels, then pixel_shuffle interleaves them. That holds wherever the taps read
    inside x, given edge padding (bilinear clamps at the border); only the outermost output rows
    and columns read the reflected padding instead, so they are computed the plain way from a
    two-pixel strip of x. At the U-Net's outer levels this skips writing and reading the largest
    maps of the network: a 128 px grid of 8 runs ~1.5x faster on a CPU, and so does the generator's
    training step (the figures are in the README).
    """
    w = conv.weight
    taps = _TAPS.to(w)
    k = torch.einsum("oitu,pte,qus->opqies", w, taps, taps).reshape(-1, w.shape[1], 3, 3)
    bias = None if conv.bias is None else conv.bias.repeat_interleave(4)
    y = F.pixel_shuffle(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k, bias), 2)

    def up(strip: torch.Tensor) -> torch.Tensor:
        return F.interpolate(strip, scale_factor=2, mode="bilinear", align_corners=False)

    top = conv(F.pad(up(x[:, :, :2])[:, :, :2], (1, 1, 1, 0), mode="reflect"))
    bottom = conv(F.pad(up(x[:, :, -2:])[:, :, -2:], (1, 1, 0, 1), mode="reflect"))
    y = torch.cat([top, y[:, :, 1:-1], bottom], 2)
    left = conv(F.pad(up(x[..., :2])[..., :2], (1, 0, 1, 1), mode="reflect"))
    right = conv(F.pad(up(x[..., -2:])[..., -2:], (0, 1, 1, 1), mode="reflect"))
    return torch.cat([left, y[..., 1:-1], right], 3)


class UNetBlock(nn.Module):
    """One U-Net level: down, the inner levels, up, then concatenate the skip connection.

    With `nz > 0` the latent code is tiled and concatenated to this level's input ("all" mode).
    """

    def __init__(self, *, outer_ch: int, inner_ch: int, in_ch: int | None = None, sub: nn.Module | None,
                 outermost: bool = False, innermost: bool = False, nz: int = 0, norm: str = "instance",
                 dropout: bool = False, upsample: str = "basic"):
        super().__init__()
        in_ch = outer_ch if in_ch is None else in_ch
        self.outermost, self.nz, self.sub = outermost, nz, sub
        self.fold_up = False  # up-sample and conv as one (upsample_conv); UNetGenerator.fold_levels sets it
        down_conv = nn.Conv2d(in_ch + nz, inner_ch, kernel_size=4, stride=2, padding=1)
        up_in = inner_ch if innermost else inner_ch * 2
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(True), *upsample_layers(up_in, outer_ch, upsample), nn.Tanh()]
        elif innermost:  # no norm on the 1x1 bottleneck: instance norm of one pixel is zero
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), *upsample_layers(up_in, outer_ch, upsample), norm_layer(norm, outer_ch)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, norm_layer(norm, inner_ch)]
            up = [nn.ReLU(True), *upsample_layers(up_in, outer_ch, upsample), norm_layer(norm, outer_ch)]
            if dropout:
                up.append(nn.Dropout(0.5))
        self.down, self.up = nn.Sequential(*down), nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if self.nz and self.outermost:  # the same as the line below, faster (conv_with_tiled_z)
            h = conv_with_tiled_z(self.down[0], x, z)
        else:
            h = self.down(torch.cat([x, tile_z(z, x)], 1) if self.nz else x)
        if self.sub is not None:
            h = self.sub(h, z)
        if self.fold_up:  # the layers of self.up, the middle three as one
            relu, _, _, conv, *rest = self.up
            h = upsample_conv(relu(h), conv)
            for layer in rest:
                h = layer(h)
        else:
            h = self.up(h)
        return h if self.outermost else torch.cat([h, x], 1)


class UNetGenerator(nn.Module):
    """G(A, z) -> B^: a U-Net with one down-sampling per factor of two (size -> 1x1).

    where_add="input": z is tiled and concatenated to A only; "all": to the input of every
    down-sampling level (the paper's better variant). nz=0 gives plain pix2pix.
    Channels: ngf, 2ngf, 4ngf, then 8ngf for the remaining levels.
    """

    def __init__(self, *, input_nc: int, output_nc: int, size: int, nz: int = 8, ngf: int = 64,
                 where_add: str = "all", norm: str = "instance", dropout: bool = False, upsample: str = "basic"):
        super().__init__()
        if where_add not in ("input", "all"):
            raise ValueError(f"where_add must be 'input' or 'all', got {where_add!r}")
        self.nz, self.where_add = nz, where_add
        n = levels_for(size)
        z_inner = nz if where_add == "all" else 0
        kw = dict(nz=z_inner, norm=norm, upsample=upsample)
        block = UNetBlock(outer_ch=ngf * 8, inner_ch=ngf * 8, sub=None, innermost=True, **kw)
        for _ in range(n - 5):
            block = UNetBlock(outer_ch=ngf * 8, inner_ch=ngf * 8, sub=block, dropout=dropout, **kw)
        block = UNetBlock(outer_ch=ngf * 4, inner_ch=ngf * 8, sub=block, **kw)
        block = UNetBlock(outer_ch=ngf * 2, inner_ch=ngf * 4, sub=block, **kw)
        block = UNetBlock(outer_ch=ngf, inner_ch=ngf * 2, sub=block, **kw)
        self.net = UNetBlock(outer_ch=output_nc, inner_ch=ngf, in_ch=input_nc, sub=block, outermost=True,
                             nz=nz, norm=norm, upsample=upsample)
        self.fold_levels(2)  # the two outer levels up-sample the largest maps: there folding pays

    def fold_levels(self, n: int) -> None:
        """Run bilinear up-sampling and the convolution after it as one (upsample_conv) at the n
        outermost levels, and layer by layer below them: the same function either way, only the
        speed differs (the page's int8 file folds one level, training and the server two)."""
        block, k = self.net, 0
        while block is not None:
            block.fold_up = k < n and any(isinstance(m, nn.Upsample) for m in block.up)
            block, k = block.sub, k + 1

    def forward(self, a: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.nz and z is None:
            raise ValueError(f"this generator needs a latent code z of shape (batch, {self.nz})")
        return self.net(a, z if self.nz else None)


class ResidualDownBlock(nn.Module):
    """Encoder block: pre-activation 3x3 convs then 2x2 mean pooling, plus a pooled 1x1 shortcut."""

    def __init__(self, in_ch: int, out_ch: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(
            norm_layer(norm, in_ch), nn.LeakyReLU(0.2, True),
            nn.Conv2d(in_ch, in_ch, kernel_size=3, padding=1),
            norm_layer(norm, in_ch), nn.LeakyReLU(0.2, True),
            nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )
        self.shortcut = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=2), nn.Conv2d(in_ch, out_ch, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class Encoder(nn.Module):
    """E(B) -> (mu, logvar), each (batch, nz): the paper's ResNet encoder or a plain conv one.

    Both reduce to 8x8 features (log2(size) - 3 halvings) and pool them to one vector.
    """

    def __init__(self, *, input_nc: int, size: int, nz: int = 8, nef: int = 64, kind: str = "resnet",
                 norm: str = "instance"):
        super().__init__()
        n = levels_for(size) - 3
        if kind == "resnet":
            layers: list[nn.Module] = [nn.Conv2d(input_nc, nef, kernel_size=4, stride=2, padding=1)]
            ch = nef
            for i in range(1, n):
                out = nef * min(4, i + 1)
                layers.append(ResidualDownBlock(ch, out, norm))
                ch = out
            layers.append(nn.LeakyReLU(0.2, True))
        elif kind == "conv":
            layers, ch = [nn.Conv2d(input_nc, nef, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)], nef
            for i in range(1, n):
                out = nef * min(4, 2**i)
                layers += [nn.Conv2d(ch, out, kernel_size=4, stride=2, padding=1), norm_layer(norm, out),
                           nn.LeakyReLU(0.2, True)]
                ch = out
        else:
            raise ValueError(f"unknown encoder {kind!r}; choose resnet or conv")
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.fc_mu = nn.Linear(ch, nz)
        self.fc_logvar = nn.Linear(ch, nz)

    def forward(self, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(b).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps: a differentiable sample from N(mu, sigma^2). eps is this rank's
    shard of the global batch's draw (distributed.randn_shard; torch.randn_like in one process)."""
    eps = randn_shard(mu.shape[0], *mu.shape[1:], device=mu.device, dtype=mu.dtype)
    return mu + eps * torch.exp(0.5 * logvar)


def patch_discriminator(*, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> nn.Sequential:
    """PatchGAN: n_layers=3 gives the 70x70 receptive field of pix2pix/CycleGAN; outputs logits."""
    layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
    ch = ndf
    for i in range(1, n_layers + 1):
        out = ndf * min(2**i, 8)
        stride = 2 if i < n_layers else 1
        layers += [nn.Conv2d(ch, out, kernel_size=4, stride=stride, padding=1), norm_layer(norm, out),
                   nn.LeakyReLU(0.2, True)]
        ch = out
    layers.append(nn.Conv2d(ch, 1, kernel_size=4, stride=1, padding=1))
    return nn.Sequential(*layers)


class MultiScaleDiscriminator(nn.Module):
    """PatchGANs on the image and on 2x, 4x, ... down-sampled copies; returns one map per scale."""

    def __init__(self, *, input_nc: int, ndf: int = 64, n_layers: int = 3, n_scales: int = 2, norm: str = "instance"):
        super().__init__()
        self.scales = nn.ModuleList(
            patch_discriminator(input_nc=input_nc, ndf=ndf, n_layers=n_layers, norm=norm) for _ in range(n_scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, kernel_size=3, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs


class ResnetBlock(nn.Module):
    def __init__(self, ch: int, norm: str, dropout: bool):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, kernel_size=3), norm_layer(norm, ch), nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, kernel_size=3), norm_layer(norm, ch)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(*, input_nc: int, output_nc: int, ngf: int = 64, n_blocks: int = 9, norm: str = "instance",
                     dropout: bool = False) -> nn.Sequential:
    """CycleGAN's generator: c7s1-ngf, two stride-2 downs, n_blocks residual blocks, two ups, c7s1."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7), norm_layer(norm, ngf),
                               nn.ReLU(True)]
    ch = ngf
    for _ in range(2):
        layers += [nn.Conv2d(ch, ch * 2, kernel_size=3, stride=2, padding=1), norm_layer(norm, ch * 2), nn.ReLU(True)]
        ch *= 2
    layers += [ResnetBlock(ch, norm, dropout) for _ in range(n_blocks)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(ch, ch // 2, kernel_size=3, stride=2, padding=1, output_padding=1),
                   norm_layer(norm, ch // 2), nn.ReLU(True)]
        ch //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, output_nc, kernel_size=7), nn.Tanh()]
    return nn.Sequential(*layers)


def init_weights(net: nn.Module, kind: str = "normal", gain: float = 0.02) -> nn.Module:
    """The official init: conv/linear weights ~ N(0, gain) ("normal") or Xavier with `gain`, biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if kind == "normal":
                nn.init.normal_(m.weight, 0.0, gain)
            elif kind == "xavier":
                nn.init.xavier_normal_(m.weight, gain=gain)
            else:
                raise ValueError(f"unknown init {kind!r}")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net
