"""conv2d and depthwise_conv2d gradients, through the windows of window.py: the weight gradient
sums each output's error times its input window, the input gradient scatters W^T E back over the
windows; a tap that reads padding contributes nothing."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import window
from mcutrain.reference.gradient import sat32


def _checked(op, p, depthwise, g):
    """conv2d's params p (the first 13 or 14), checked; returns p."""
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p[:13]
    B.require(op, all(v >= 1 for v in p[:11]) and pad_top >= 0 and pad_left >= 0 and g is not None
              and (not depthwise or out_c == in_c) and B.int8_range(*p[13:]), "params")
    return p


def _weight_grad(op, gw, x, g, params, depthwise):
    """The params may end with [first, channels]: gw then holds output channels first..first +
    channels - 1 only (conv2d; depthwise gives 0, out_c); and then with [first_row, rows]: g then
    holds output rows first_row..first_row + rows - 1 of each sample, a block of a layer's error."""
    gw, x, g = B.s32(gw, "gw"), B.s8(x, "x"), B.sized(g, "g")
    count = len(B.s32(params, "params"))
    p = B.params(op, params, count if count == 18 or count == 16 and not depthwise else 14)
    _checked(op, p[:14], depthwise, g)
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
    first, channels = p[14:16] if len(p) > 14 else (0, out_c)
    first_row, rows = p[16:18] if len(p) > 16 else (0, out_h)
    B.require(op, first >= 0 and 1 <= channels <= out_c - first and (not depthwise or channels == out_c), "params")
    B.require(op, first_row >= 0 and 1 <= rows <= out_h - first_row, "params")
    B.require(op, len(x) == batch * in_h * in_w * in_c, "input")
    B.require(op, len(g) == batch * rows * out_w * out_c, "aux")
    B.require(op, len(gw) == (1 if depthwise else channels) * k_h * k_w * in_c, "output")
    windows = window.patches(x.reshape(batch, in_h, in_w, in_c).astype(np.int64) - p[13], p)
    windows = windows[:, first_row:first_row + rows]
    gg = g.reshape(batch, rows, out_w, out_c).astype(np.int64)
    if depthwise:
        total = np.einsum("nabc,nabyxc->yxc", gg, windows)
    else:
        total = np.tensordot(gg[..., first:first + channels], windows, axes=([0, 1, 2], [0, 1, 2]))
    gw[...] = sat32(gw + total.ravel())
    return 0


def _input_grad(op, gx, w, g, params, depthwise):
    gx, w, g = B.s32(gx, "gx"), B.s8(w, "w"), B.sized(g, "g")
    p = _checked(op, B.params(op, params, 13), depthwise, g)
    batch, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w = p[:9]
    B.require(op, len(w) == (1 if depthwise else out_c) * k_h * k_w * in_c, "weight")
    B.require(op, len(g) == batch * out_h * out_w * out_c, "aux")
    B.require(op, len(gx) == batch * in_h * in_w * in_c, "output")
    gg = g.reshape(batch, out_h, out_w, out_c).astype(np.int64)
    if depthwise:
        windows = gg[:, :, :, None, None, :] * w.reshape(k_h, k_w, in_c).astype(np.int64)
    else:
        windows = np.tensordot(gg, w.reshape(out_c, k_h, k_w, in_c).astype(np.int64), axes=([3], [0]))
    gx[...] = sat32(window.scatter(windows, p)).ravel()
    return 0


def conv2d_weight_grad(gw, x, g, params):
    """gw[o, ky, kx, c] = sat32(gw + sum over b, oy, ox of (x[b, iy, ix, c] - in_zp) * g[b, oy, ox, o])
    with iy = oy * stride_h - pad_top + ky, ix = ox * stride_w - pad_left + kx inside the input.

    params: conv2d's first 14 (batch .. in_zp); gw int32 OHWI, x int8 NHWC, g int8/16/32 NHWC.
    """
    return _weight_grad("conv2d_weight_grad", gw, x, g, params, depthwise=False)


def depthwise_weight_grad(gw, x, g, params):
    """conv2d_weight_grad for depthwise_conv2d: gw [k_h, k_w, c], g's channel is x's; out_c == in_c."""
    return _weight_grad("depthwise_weight_grad", gw, x, g, params, depthwise=True)


def conv2d_input_grad(gx, w, g, params):
    """gx[b, iy, ix, c] = sat32(sum over o, ky, kx, oy, ox of w[o, ky, kx, c] * g[b, oy, ox, o]) over
    the taps that read (iy, ix) (the transposed convolution), overwriting gx.

    params: conv2d's first 13 (batch .. pad_left); gx int32 NHWC of the input, w int8 OHWI.
    """
    return _input_grad("conv2d_input_grad", gx, w, g, params, depthwise=False)


def depthwise_input_grad(gx, w, g, params):
    """conv2d_input_grad for depthwise_conv2d: w [k_h, k_w, c], no sum over channels; out_c == in_c."""
    return _input_grad("depthwise_input_grad", gx, w, g, params, depthwise=True)
