"""int32 values (accumulated gradients) to int8 at a dynamic power-of-two scale."""

import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference import xorshift

OP = "quantize_s8"


def quantize_s8(out, acc, params):
    """out = round(acc / 2^s) with s the smallest s >= 0 such that max |acc| <= 127 * 2^s, so out
    lies in [-127, 127] (the contract's clamp never bites). round is rhaz, or stochastic rounding
    (one output of the seed's stream per element, xorshift.round_shift). Returns s (<= 25).

    params: [count, stochastic (0/1), seed].
    """
    count, stochastic, seed = B.params(OP, params, 3)
    out, acc = B.s8(out, "out"), B.s32(acc, "acc")
    B.require(OP, count >= 1 and stochastic in (0, 1) and xorshift.seed_ok(seed), "params")
    B.require(OP, len(acc) == count, "input")
    B.require(OP, len(out) == count, "output")
    max_abs = int(np.abs(acc.astype(np.int64)).max())
    s = 0
    while max_abs > 127 << s:
        s += 1
    out[...] = xorshift.round_shift(acc, s, stochastic, seed)
    return s
