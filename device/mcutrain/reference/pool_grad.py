"""Pooling gradients: each input position sums what the windows holding it send back, exactly,
then saturates once into gx, whose element size (int8, int16 or int32) the caller chooses: an
int8 error routed through windows that do not overlap fits int8 as it is. The window geometry is
the pools' (window.members)."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import window
from mcutrain.reference.pool import rhaz_div


def _checked(op, gx, g, params, x=None):
    gx, g = B.sized(gx, "gx"), B.sized(g, "g")
    x = None if x is None else B.s8(x, "x")
    p = B.params(op, params, 12)
    batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p
    # Every window must hold an input: the first starts before the end of its padding, the last
    # starts inside the image.
    B.require(op, all(v >= 1 for v in p[:10]) and 0 <= pad_top < k_h and 0 <= pad_left < k_w
              and (out_h - 1) * stride_h - pad_top < in_h and (out_w - 1) * stride_w - pad_left < in_w
              and g is not None and gx is not None, "params")
    B.require(op, x is None or len(x) == batch * in_h * in_w * c, "input")
    B.require(op, len(g) == batch * out_h * out_w * c, "aux")
    B.require(op, len(gx) == batch * in_h * in_w * c, "output")
    rows = window.members(out_h, in_h, k_h, stride_h, pad_top)
    cols = window.members(out_w, in_w, k_w, stride_w, pad_left)
    gg = g.reshape(batch, out_h, out_w, c).astype(np.int64)
    xs = None if x is None else x.reshape(batch, in_h, in_w, c)
    return gx, gg, xs, rows, cols


def _saturated_into(gx, total):
    info = np.iinfo(gx.dtype)
    gx[...] = np.clip(total, info.min, info.max).ravel()


def avg_pool_input_grad(gx, g, params):
    """gx[b, iy, ix, c] = sat(sum of rhaz(g[b, oy, ox, c] / valid_count(oy, ox)) over the windows
    that hold (iy, ix)), overwriting gx; sat saturates to gx's element type.

    params: the pools' first 12 (batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h,
    stride_w, pad_top, pad_left); gx int8/16/32 NHWC of the input, g int8/16/32 NHWC of the output.
    """
    gx, g, _, rows, cols = _checked("avg_pool_input_grad", gx, g, params)
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    counts = rows.sum(axis=1)[:, None] * cols.sum(axis=1)[None, :]
    shares = rhaz_div(g, counts[None, :, :, None])
    _saturated_into(gx, np.einsum("ai,bj,nabc->nijc", rows, cols, shares, optimize=True))
    return 0


def max_pool_input_grad(gx, x, g, params):
    """gx[b, iy, ix, c] = sat(sum of g[b, oy, ox, c] over the windows whose first maximum (in
    window order) of x[b, :, :, c] is at (iy, ix)), overwriting gx. x is the pool's int8 input.
    """
    gx, g, x, rows, cols = _checked("max_pool_input_grad", gx, g, params, x)
    batch, in_h, in_w, c = x.shape
    out_h, out_w = rows.shape[0], cols.shape[0]
    inside = rows[:, None, :, None] & cols[None, :, None, :]  # [oy, ox, iy, ix]
    # Each window's values over the whole input, below every int8 outside the window. Window
    # order is row-major like the input's, so argmax's first maximum is the window's.
    values = np.where(inside[None, :, :, :, :, None], x[:, None, None].astype(np.int16), np.int16(-129))
    first = values.reshape(batch, out_h, out_w, in_h * in_w, c).argmax(axis=3)  # [b, oy, ox, c]
    chosen = first[:, :, :, None, :] == np.arange(in_h * in_w)[:, None]  # [b, oy, ox, position, c]
    total = np.einsum("nabpc,nabc->npc", chosen.astype(np.int64), g)
    _saturated_into(gx, total)
    return 0


def global_avg_pool_input_grad(gx, g, params):
    """gx[b, y, x, c] = rhaz(g[b, c] / (h * w)), overwriting gx.

    params: [batch, h, w, c]; gx int32 [batch, h, w, c], g int8/16/32 [batch, c].
    """
    op = "global_avg_pool_input_grad"
    gx, g = B.s32(gx, "gx"), B.sized(g, "g")
    batch, h, w, c = B.params(op, params, 4)
    B.require(op, batch >= 1 and h >= 1 and w >= 1 and c >= 1 and g is not None, "params")
    B.require(op, len(g) == batch * c, "aux")
    B.require(op, len(gx) == batch * h * w * c, "output")
    shares = rhaz_div(g.reshape(batch, 1, c), h * w)
    gx.reshape(batch, h * w, c)[...] = shares
    return 0
