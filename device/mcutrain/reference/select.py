"""Choosing what to train: per-row gradient norms, and the indices of the largest scores."""

import numpy as np

from mcutrain.reference import buffers as B

INT32_MAX = (1 << 31) - 1
UINT64_MAX = (1 << 64) - 1


def row_norms(out, g, params):
    """out[r] = min(2^31 - 1, (sum_i g[r, i]^2, saturating at 2^64 - 1) >> shift).

    params: [rows, row_length, shift], shift in [0, 63]; g int8/16/32, out int32 [rows].
    """
    rows, length, shift = B.params("row_norms", params, 3)
    out, g = B.s32(out, "out"), B.sized(g, "g")
    B.require("row_norms", rows >= 1 and length >= 1 and 0 <= shift <= 63 and g is not None, "params")
    B.require("row_norms", len(g) == rows * length, "input")
    B.require("row_norms", len(out) == rows, "output")
    squares = g.reshape(rows, length).astype(np.int64) ** 2  # each <= 2^62
    # Nonnegative terms: the saturating sum is the exact sum capped. Split into 32-bit halves so
    # that neither partial sum can wrap.
    high = (squares >> 32).sum(axis=1, dtype=np.uint64)
    low = (squares & 0xFFFFFFFF).sum(axis=1, dtype=np.uint64)
    for r in range(rows):
        total = min((int(high[r]) << 32) + int(low[r]), UINT64_MAX)
        out[r] = min(total >> shift, INT32_MAX)
    return 0


def topk(out, scores, params):
    """out int32 [k] = indices of the k largest scores (int32), largest first, ties to the lower
    index. params: [n, k], 1 <= k <= n."""
    n, k = B.params("topk", params, 2)
    out, scores = B.s32(out, "out"), B.s32(scores, "scores")
    B.require("topk", n >= 1 and 1 <= k <= n, "params")
    B.require("topk", len(scores) == n, "input")
    B.require("topk", len(out) == k, "output")
    out[...] = np.argsort(-scores.astype(np.int64), kind="stable")[:k]
    return 0
