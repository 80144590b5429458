import numpy as np

from mcutrain.reference import buffers as B
from mcutrain.reference.requant import INT32_MAX, INT32_MIN, requantize, requantize_in_place

OP = "add"


def add(out, a, b, params, scratch=None):
    """TFLite's int8 add: a' = requant((a - a_zp) << left_shift, a_multiplier, a_shift), b' alike,
    out = clamp(requant(sat32(a' + b'), out_multiplier, out_shift) + out_zp).

    params: [count, a_zp, a_multiplier, a_shift, b_zp, b_multiplier, b_shift, left_shift, out_zp,
    out_multiplier, out_shift, act_min, act_max]; left_shift in [0, 20].
    scratch: work space the natmod tabulates a' and b' in (ADD_SCRATCH bytes); no result depends on it.
    """
    out, a, b = B.s8(out, "out"), B.s8(a, "a"), B.s8(b, "b")
    count, a_zp, a_mult, a_shift, b_zp, b_mult, b_shift, left_shift, out_zp, out_mult, out_shift, act_min, act_max = \
        B.params(OP, params, 13)
    B.scratch(scratch)
    B.require(OP, count >= 1 and 0 <= left_shift <= 20 and B.int8_range(a_zp, b_zp, out_zp, act_min, act_max)
              and act_min <= act_max
              and B.requant_ok(np.array([a_mult, b_mult, out_mult]), np.array([a_shift, b_shift, out_shift])),
              "params")
    B.require(OP, len(a) == count and len(b) == count, "input")
    B.require(OP, len(out) == count, "output")
    s = _rescaled(a, a_zp, left_shift, a_mult, a_shift) + _rescaled(b, b_zp, left_shift, b_mult, b_shift)
    np.clip(s, INT32_MIN, INT32_MAX, out=s)
    requantize_in_place(s, out_mult, out_shift)
    s += out_zp
    B.clamp_into(out, s, act_min, act_max)
    return 0


def _rescaled(x, zp, left_shift, multiplier, shift):
    """requant((x - zp) << left_shift, multiplier, shift), looked up: x has only 256 values."""
    table = requantize((np.arange(-128, 128, dtype=np.int64) - zp) << left_shift, multiplier, shift)
    return table[x.astype(np.int64) + 128]
