"""Sliding-window geometry of conv2d, depthwise_conv2d and the pools, as boolean matrices.

Output position o of an axis reads input o * stride - pad + t for taps t in [0, k); taps
outside [0, size) read nothing (padding).
"""

import numpy as np


def taps(out_size, size, k, stride, pad):
    """Boolean [out_size, k, size]: tap t of output o reads input i."""
    first = np.arange(out_size, dtype=np.int64)[:, None] * stride - pad
    return (first + np.arange(k, dtype=np.int64))[:, :, None] == np.arange(size, dtype=np.int64)


def members(out_size, size, k, stride, pad):
    """Boolean [out_size, size]: input i lies in output o's window. Independent of k's size."""
    first = np.arange(out_size, dtype=np.int64)[:, None] * stride - pad
    i = np.arange(size, dtype=np.int64)
    return (first <= i) & (i < first + k)


def _reads(out_size, size, k, stride, pad):
    """Per tap t: (slice of the outputs o whose tap t reads inside, slice of the inputs they
    read). Inputs o * stride - pad + t step by stride, so a tap maps outputs to distinct inputs:
    a gather or a scatter through it never collides, and both sides are plain slices."""
    taps = []
    for t in range(k):
        first = max(0, -((t - pad) // stride))  # the first output whose input is >= 0
        last = min(out_size, (size - 1 - t + pad) // stride + 1)  # one past the last inside
        if last <= first:
            taps.append((slice(0, 0), slice(0, 0)))
            continue
        start = first * stride - pad + t
        taps.append((slice(first, last), slice(start, start + (last - first - 1) * stride + 1, stride)))
    return taps


def patches(xs, p):
    """[batch, out_h, out_w, k_h, k_w, c] of xs's dtype: each output's window of xs (NHWC, zero
    point already subtracted), zero where a tap reads padding. p: conv2d's params (batch, in_h,
    in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h, stride_w, pad_top, pad_left, ...)."""
    batch, in_h, in_w, in_c, out_h, out_w, _, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p[:13]
    if (k_h, k_w, stride_h, stride_w, pad_top, pad_left, out_h, out_w) == (1, 1, 1, 1, 0, 0, in_h, in_w):
        return xs.reshape(batch, out_h, out_w, 1, 1, in_c)  # pointwise: each window is one pixel
    out = np.zeros((batch, out_h, out_w, k_h, k_w, in_c), xs.dtype)
    cols = _reads(out_w, in_w, k_w, stride_w, pad_left)
    for ky, (oy, iy) in enumerate(_reads(out_h, in_h, k_h, stride_h, pad_top)):
        for kx, (ox, ix) in enumerate(cols):
            out[:, oy, ox, ky, kx] = xs[:, iy, ix]
    return out


def scatter(windows, p):
    """The transpose of patches: int64 [batch, in_h, in_w, c], each input position the sum of the
    window values that read it; what falls on padding is dropped."""
    batch, in_h, in_w, in_c, out_h, out_w, _, k_h, k_w, stride_h, stride_w, pad_top, pad_left = p[:13]
    out = np.zeros((batch, in_h, in_w, in_c), np.int64)
    cols = _reads(out_w, in_w, k_w, stride_w, pad_left)
    for ky, (oy, iy) in enumerate(_reads(out_h, in_h, k_h, stride_h, pad_top)):
        for kx, (ox, ix) in enumerate(cols):
            out[:, iy, ix] += windows[:, oy, ox, ky, kx]
    return out
