import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference.requant import requantize

OP = "fully_connected"


def fully_connected(out, x, w, bias, multiplier, shift, params, scratch=None):
    """out[b, o] = clamp(requant(bias[o] + sum_i (x[b, i] - in_zp) * w[o, i]) + out_zp).

    params: [batch, in_features, out_features, in_zp, out_zp, act_min, act_max].
    Weights are [out_features, in_features], row-major. Accumulators wrap modulo 2^32.
    scratch: work space the Cortex-M0 and M4 widen weights into (SCRATCH_PER_WEIGHT); no
    result depends on it.
    """
    batch, in_n, out_n, in_zp, out_zp, act_min, act_max = B.params(OP, params, 7)
    B.scratch(scratch)
    out, x, w = B.s8(out, "out"), B.s8(x, "x"), B.s8(w, "w")
    bias, multiplier, shift = B.s32(bias, "bias"), B.s32(multiplier, "multiplier"), B.s32(shift, "shift")
    B.require(OP, batch >= 1 and in_n >= 1 and out_n >= 1 and B.int8_range(in_zp, out_zp, act_min, act_max)
              and act_min <= act_max, "params")
    B.require(OP, len(x) == batch * in_n, "input")
    B.require(OP, len(w) == out_n * in_n, "weight")
    B.require(OP, len(bias) == out_n and len(multiplier) == out_n and len(shift) == out_n, "bias")
    B.require(OP, len(out) == batch * out_n, "output")
    B.require(OP, B.requant_ok(multiplier, shift), "params")
    # float64 for BLAS: int8-range products and their sums are exact below 2^53 (conv2d.py).
    xs = x.reshape(batch, in_n).astype(np.float64) - in_zp
    acc = (xs @ w.reshape(out_n, in_n).astype(np.float64).T).astype(np.int64) + bias
    acc = acc.astype(np.int32)  # wrap modulo 2^32 like the C accumulator
    y = requantize(acc, multiplier, shift) + out_zp
    B.clamp_into(out.reshape(batch, out_n), y, act_min, act_max)
    return 0
