"""Pooling. Input and output share scale and zero point; padding is ignored, so every window
must hold at least one input; the window sums of avg pools stay in int32 (k_h * k_w <= 2^24)."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import window

MAX_WINDOW = 1 << 24


def rhaz_div(num, den):
    """Integer num / den rounded half away from zero (den > 0)."""
    num, den = np.asarray(num, np.int64), np.asarray(den, np.int64)
    return np.where(num >= 0, (num + den // 2) // den, -((-num + den // 2) // den))


def _checked(op, out, x, params):
    out, x = B.s8(out, "out"), B.s8(x, "x")
    p = B.params(op, params, 14)
    batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left, act_min, act_max = p
    B.require(op, all(v >= 1 for v in p[:10]) and 0 <= pad_top < k_h and 0 <= pad_left < k_w
              and (out_h - 1) * stride_h - pad_top < in_h and (out_w - 1) * stride_w - pad_left < in_w
              and k_h * k_w <= MAX_WINDOW and B.int8_range(act_min, act_max) and act_min <= act_max, "params")
    B.require(op, len(x) == batch * in_h * in_w * c, "input")
    B.require(op, len(out) == batch * out_h * out_w * c, "output")
    rows = window.members(out_h, in_h, k_h, stride_h, pad_top)
    cols = window.members(out_w, in_w, k_w, stride_w, pad_left)
    return out.reshape(batch, out_h, out_w, c), x.reshape(batch, in_h, in_w, c), rows, cols, act_min, act_max


def max_pool(out, x, params):
    """out[n, oy, ox, c] = clamp(max of x[n, iy, ix, c] over the window's inputs).

    params: [batch, in_h, in_w, c, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left,
    act_min, act_max]; the window geometry is conv2d's.
    """
    out, x, rows, cols, act_min, act_max = _checked("max_pool", out, x, params)
    n, in_h, in_w, c = x.shape
    out_h, out_w, k_h, k_w, stride_h, stride_w, pad_top, pad_left = B.params("max_pool", params, 14)[4:12]
    if (stride_h, stride_w, pad_top, pad_left) == (k_h, k_w, 0, 0) and out_h * k_h <= in_h and out_w * k_w <= in_w:
        # Windows that tile the input: a reshape lines them up (the usual 2x2 pool, 20x faster).
        tiles = x[:, :out_h * k_h, :out_w * k_w].reshape(n, out_h, k_h, out_w, k_w, c)
        B.clamp_into(out, tiles.max(axis=(2, 4)), act_min, act_max)
        return 0
    none = np.int16(-129)  # below every int8: never a window's maximum, as no window is empty
    x = x.astype(np.int16)
    # A window's maximum is the maximum over its rows of the row maxima.
    row_max = np.where(cols[None, None, :, :, None], x[:, :, None], none).max(axis=3)
    y = np.where(rows[None, :, :, None, None], row_max[:, None], none).max(axis=2)
    B.clamp_into(out, y, act_min, act_max)
    return 0


def avg_pool(out, x, params):
    """out[n, oy, ox, c] = clamp(rhaz(sum of the window's inputs / their count)) (TFLite)."""
    out, x, rows, cols, act_min, act_max = _checked("avg_pool", out, x, params)
    sums = np.einsum("ai,bj,nijc->nabc", rows.astype(np.int64), cols.astype(np.int64), x.astype(np.int64))
    counts = rows.sum(axis=1)[:, None] * cols.sum(axis=1)[None, :]
    B.clamp_into(out, rhaz_div(sums, counts[None, :, :, None]), act_min, act_max)
    return 0


def global_avg_pool(out, x, params):
    """out[n, c] = clamp(rhaz(sum_{y, x} x[n, y, x, c] / (h * w))).

    params: [batch, h, w, c, act_min, act_max], h * w <= 2^24.
    """
    op = "global_avg_pool"
    out, x = B.s8(out, "out"), B.s8(x, "x")
    batch, h, w, c, act_min, act_max = p = B.params(op, params, 6)
    B.require(op, all(v >= 1 for v in p[:4]) and h * w <= MAX_WINDOW and B.int8_range(act_min, act_max)
              and act_min <= act_max, "params")
    B.require(op, len(x) == batch * h * w * c, "input")
    B.require(op, len(out) == batch * c, "output")
    sums = x.reshape(batch, h * w, c).sum(axis=1, dtype=np.int64)
    B.clamp_into(out.reshape(batch, c), rhaz_div(sums, h * w), act_min, act_max)
    return 0
