"""Per-channel statistics in sgd_update's (count, channels, inner) layout: element i belongs to
channel (i // inner) % channels (count need not be a multiple of channels * inner)."""

import math

import numpy as np

from mcutrain.reference import buffers as B

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
UINT64_MAX = (1 << 64) - 1


def _channel_of(count, channels, inner):
    return (np.arange(count) // inner) % channels


def _rhaz_div(a, b):
    """rhaz(a / b) for int64 arrays a and b >= 1."""
    return np.where(a >= 0, (a + b // 2) // b, -((b // 2 - a) // b))


def standardize(g, params):
    """In place, per channel: g = sat32(rhaz((v - mean) * 2^(q_bits + 8) / std)), or 0 where std
    is 0, with every step exact on integers:
    - v = g * 2^-e, e = bit_length(max |g| of the channel) - 15: max |v| in [2^14, 2^15]; exact
      for e <= 0, floor (an arithmetic shift) for e > 0. This keeps every sum in int64.
    - mean = rhaz(sum v / n), n the channel's element count.
    - std = isqrt(floor(sum (v - mean)^2 * 2^16 / n)): the standard deviation with 8 fraction bits,
      floored (the rounded mean makes it at most 1/4 unit of v too large in variance).
    The result is (g - mean(g)) / std(g) in Q(q_bits), scale-free: any positive per-channel
    factor on g leaves it unchanged up to the rounding of v.

    params: [count, channels, inner, q_bits], q_bits in [0, 30]; g int32 [count]. Returns 0.
    """
    op = "standardize"
    count, channels, inner, q_bits = B.params(op, params, 4)
    B.require(op, count >= 1 and channels >= 1 and inner >= 1 and 0 <= q_bits <= 30, "params")
    g = B.s32(g, "g")
    B.require(op, len(g) == count, "input")
    channel = _channel_of(count, channels, inner)
    for c in np.unique(channel):
        at = channel == c
        values = g[at].astype(np.int64)
        e = int(np.abs(values).max()).bit_length() - 15
        v = values >> e if e > 0 else values << -e
        n = len(v)
        mean = int(_rhaz_div(np.int64(v.sum()), np.int64(n)))
        d = v - mean
        std = math.isqrt(int((d * d).sum()) * 65536 // n)
        g[at] = np.clip(_rhaz_div(d << (q_bits + 8), np.int64(std)), INT32_MIN, INT32_MAX) if std else 0
    return 0


def channel_norms(out, g, params):
    """out[c] = min(2^31 - 1, (sum of g^2 over channel c, saturating at 2^64 - 1) >> shift): the
    channels of a channels-last tensor (inner = 1) or of rows (channels = rows, inner = row length).

    params: [count, channels, inner, shift], shift in [0, 63]; g int8/16/32 [count], out int32
    [channels]. Returns 0."""
    op = "channel_norms"
    count, channels, inner, shift = B.params(op, params, 4)
    out, g = B.s32(out, "out"), B.sized(g, "g")
    B.require(op, count >= 1 and channels >= 1 and inner >= 1 and 0 <= shift <= 63 and g is not None, "params")
    B.require(op, len(g) == count, "input")
    B.require(op, len(out) == channels, "output")
    squares = g.astype(np.int64) ** 2  # each <= 2^62
    channel = _channel_of(count, channels, inner)
    for c in range(channels):
        # The saturating sum of nonnegative terms is the exact sum capped; 32-bit halves cannot wrap.
        at = squares[channel == c]
        high, low = (at >> 32).sum(dtype=np.uint64), (at & 0xFFFFFFFF).sum(dtype=np.uint64)
        total = min((int(high) << 32) + int(low), UINT64_MAX)
        out[c] = min(total >> shift, INT32_MAX)
    return 0
